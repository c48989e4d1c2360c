package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"meshd/bench"
	"meshd/mesh"
)

// helperModes are the roles the driver runs its own binary in, as child
// processes: the baseline relays and sinks, and the mesh sink node.
var helperModes = map[string]func(args []string) error{
	"relay":      helperRelay,
	"sink-tcp":   helperSinkTCP,
	"echo":       helperEcho,
	"sink-node":  helperSinkNode,
	"source-tcp": helperSourceTCP,
}

// helperWait blocks until stdin closes (the driver closed it, or died) or
// a termination signal arrives.
func helperWait() {
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-done:
	case <-sigs:
	}
}

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// helperRelay: relay -to ADDR [-mode splice|user]. Prints its address.
func helperRelay(args []string) error {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	to := fs.String("to", "", "address to relay to (127.0.0.1:port)")
	mode := fs.String("mode", string(bench.CopySplice), "splice (io.Copy) or user (32 KiB buffer)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *to == "" {
		return fmt.Errorf("relay: -to is required")
	}
	ln, err := listenLoopback()
	if err != nil {
		return err
	}
	defer ln.Close()
	go bench.Relay(ln, *to, bench.CopyMode(*mode))
	fmt.Println(ln.Addr())
	helperWait()
	return nil
}

// helperSinkTCP runs the sink protocol on a loopback TCP port.
func helperSinkTCP(args []string) error {
	ln, err := bench.ListenSink()
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr())
	helperWait()
	return nil
}

// helperSourceTCP runs the source protocol (the work phase's baseline
// producer) on a loopback TCP port.
func helperSourceTCP(args []string) error {
	ln, err := bench.ListenSource()
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr())
	helperWait()
	return nil
}

// helperEcho echoes TCP connections on a loopback port.
func helperEcho(args []string) error {
	ln, err := listenLoopback()
	if err != nil {
		return err
	}
	defer ln.Close()
	go bench.ServeEcho(ln)
	fmt.Println(ln.Addr())
	helperWait()
	return nil
}

// helperSinkNode: sink-node -id ID -peer ADDR. A mesh node (the meshd mesh
// library, as meshd runs it) that dials ADDR and offers the sink service,
// which the meshd binary itself has no equivalent of.
func helperSinkNode(args []string) error {
	fs := flag.NewFlagSet("sink-node", flag.ContinueOnError)
	id := fs.String("id", "", "node ID")
	peer := fs.String("peer", "", "link address to dial")
	if err := fs.Parse(args); err != nil {
		return err
	}
	n, err := bench.NewNode(*id)
	if err != nil {
		return err
	}
	defer n.Close()
	n.AddPeer(mesh.PeerSpec{Network: "tcp", Address: *peer, Redial: true})
	ln, err := bench.MeshSink(n)
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println("ready")
	helperWait()
	return nil
}
