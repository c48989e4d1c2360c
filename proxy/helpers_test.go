package proxy

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"meshd/mesh"
	"meshd/wire"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testNode starts an in-process node, closed at the end of the test.
func testNode(t testing.TB, id string) *mesh.Node {
	t.Helper()
	key, err := wire.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	n, err := mesh.New(mesh.Config{NodeID: id, Key: key, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// chain builds n1 - n2 - ... - nN over loopback TCP links and waits until
// the ends reach each other.
func chain(t testing.TB, count int) []*mesh.Node {
	t.Helper()
	nodes := make([]*mesh.Node, count)
	for i := range nodes {
		nodes[i] = testNode(t, fmt.Sprintf("n%d", i+1))
		if i > 0 {
			addr, err := nodes[i-1].AddListener(mesh.ListenerSpec{Network: "tcp", Address: "127.0.0.1:0"})
			if err != nil {
				t.Fatal(err)
			}
			nodes[i].AddPeer(mesh.PeerSpec{Network: "tcp", Address: addr.String(), Redial: true})
		}
	}
	first, last := nodes[0], nodes[count-1]
	deadline := time.Now().Add(10 * time.Second)
	for !hasRoute(first, last.NodeID()) || !hasRoute(last, first.NodeID()) {
		if time.Now().After(deadline) {
			t.Fatal("chain did not converge")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nodes
}

func hasRoute(n *mesh.Node, to string) bool {
	_, ok := n.Status().RoutingTable[to]
	return ok
}

// tcpListen opens a loopback TCP listener closed at the end of the test.
func tcpListen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// serve runs handle for every connection ln accepts.
func serve(ln net.Listener, handle func(net.Conn)) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
}

// echo copies everything back, then half-closes.
func echo(c net.Conn) {
	io.Copy(c, c)
	c.(interface{ CloseWrite() error }).CloseWrite()
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
