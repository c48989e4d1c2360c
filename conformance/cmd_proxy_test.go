package conformance

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Commands for the service proxy scenarios: an echo server to put behind a
// *-client proxy, and a client that checks what comes back through a
// *-server proxy.

const echoserverUsage = "echoserver [-unix PATH | -udp] VAR"

// cmdEchoserver starts an echo server that lives until the script ends:
//
//	echoserver VAR              TCP on a free 127.0.0.1 port
//	echoserver -udp VAR         UDP on a free 127.0.0.1 port
//	echoserver -unix PATH VAR   a Unix stream socket at PATH
//
// and sets VAR to its address (host:port, or PATH). A stream connection
// gets back every byte it sends and, after its half-close, EOF; a
// datagram is sent back as it came.
func cmdEchoserver(ts *testscript.TestScript, neg bool, args []string) {
	fs := newFlagSet("echoserver")
	unixPath := fs.String("unix", "", "Unix socket to listen on")
	udp := fs.Bool("udp", false, "UDP instead of TCP")
	rest := parseFlags(ts, fs, echoserverUsage, args)
	if neg || len(rest) != 1 || (*udp && *unixPath != "") {
		ts.Fatalf("usage: %s", echoserverUsage)
	}
	if *udp {
		uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		ts.Check(err)
		ts.Defer(func() { uc.Close() })
		go echoDatagrams(uc)
		setenv(ts, rest[0], uc.LocalAddr().String())
		return
	}
	network, addr := "tcp", "127.0.0.1:0"
	if *unixPath != "" {
		network, addr = "unix", ts.MkAbs(*unixPath)
	}
	ln, err := net.Listen(network, addr)
	ts.Check(err)
	ts.Defer(func() { ln.Close() })
	go echoStreams(ln)
	if *unixPath != "" {
		setenv(ts, rest[0], *unixPath)
	} else {
		setenv(ts, rest[0], ln.Addr().String())
	}
}

func echoStreams(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			if _, err := io.Copy(c, c); err == nil {
				c.(interface{ CloseWrite() error }).CloseWrite()
				io.Copy(io.Discard, c) // wait for the client to close
			}
		}()
	}
}

func echoDatagrams(uc *net.UDPConn) {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := uc.ReadFromUDP(buf)
		if err != nil {
			return
		}
		uc.WriteToUDP(buf[:n], from)
	}
}

const echoclientUsage = "echoclient [-unix | -udp] [-conns N] [-size SIZE] [-seed S] [-timeout D] ADDR"

// cmdEchoclient talks to an echo server, usually through proxies:
//
//	echoclient [-unix] [-conns N] [-size SIZE] [-seed S] [-timeout D] ADDR
//
// opens N (1) connections at once to ADDR (host:port, or with -unix a
// socket path); connection i sends SIZE (1KiB) bytes of the generator's
// stream for seed S+i (S is 1) while reading the echo, then half-closes,
// reads to EOF and checks that the echo is exactly what it sent. It
// prints `SIZE SHA256HEX` of connection 0's echo (compare with `sha256
// -gen SIZE S`) and `N connections echoed`.
//
//	echoclient -udp [-conns N] [-size SIZE] [-seed S] [-timeout D] ADDR
//
// uses N UDP sockets at once, each sending 10 datagrams of SIZE bytes
// (resent until answered: datagrams may be lost) and checking that each
// comes back to it unchanged; it prints `N clients echoed`.
//
// `! echoclient` expects some echo to fail (the proxy closes a client
// whose dial failed) and prints the errors.
func cmdEchoclient(ts *testscript.TestScript, neg bool, args []string) {
	fs := newFlagSet("echoclient")
	unix := fs.Bool("unix", false, "ADDR is a Unix socket path")
	udp := fs.Bool("udp", false, "UDP datagrams")
	conns := fs.Int("conns", 1, "concurrent connections")
	sizeText := fs.String("size", "1KiB", "bytes per connection, or per datagram with -udp")
	seed := fs.Uint64("seed", 1, "generator seed of connection 0")
	timeout := fs.Duration("timeout", 60*time.Second, "deadline")
	rest := parseFlags(ts, fs, echoclientUsage, args)
	if len(rest) != 1 || *conns < 1 || (*unix && *udp) {
		ts.Fatalf("usage: %s", echoclientUsage)
	}
	size, err := parseSize(*sizeText)
	ts.Check(err)
	network, addr := "tcp", rest[0]
	if *unix {
		network, addr = "unix", ts.MkAbs(addr)
	}
	deadline := time.Now().Add(*timeout)
	hashes := make([]string, *conns)
	errs := make([]error, *conns)
	var wg sync.WaitGroup
	for i := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if *udp {
				errs[i] = echoUDP(addr, int(size), *seed+uint64(i), deadline)
			} else {
				hashes[i], errs[i] = echoStream(network, addr, size, *seed+uint64(i), deadline)
			}
		}()
	}
	wg.Wait()
	err = errors.Join(errs...)
	switch {
	case neg && err == nil:
		ts.Fatalf("echoclient: every echo came back")
	case neg:
		fmt.Fprintf(ts.Stdout(), "%v\n", err)
		return
	case err != nil:
		ts.Fatalf("echoclient: %v", err)
	}
	if *udp {
		fmt.Fprintf(ts.Stdout(), "%d clients echoed\n", *conns)
		return
	}
	fmt.Fprintf(ts.Stdout(), "%s\n%d connections echoed\n", hashes[0], *conns)
}

// echoStream sends size bytes of the stream for seed while reading the
// echo; it returns the echo's "SIZE HEX" if it matches what was sent.
func echoStream(network, addr string, size int64, seed uint64, deadline time.Time) (string, error) {
	c, err := net.DialTimeout(network, addr, time.Until(deadline))
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(deadline)
	sent := sha256.New()
	werr := make(chan error, 1)
	go func() {
		_, err := io.Copy(c, io.TeeReader(io.LimitReader(genStream(seed), size), sent))
		if err == nil {
			err = c.(interface{ CloseWrite() error }).CloseWrite()
		}
		werr <- err
	}()
	got := newSizedHash()
	if _, err := io.Copy(got, c); err != nil {
		return "", fmt.Errorf("connection %d: read after %d bytes: %w", seed, got.n, err)
	}
	if err := <-werr; err != nil {
		return "", fmt.Errorf("connection %d: write: %w", seed, err)
	}
	if want := fmt.Sprintf("%d %x", size, sent.Sum(nil)); got.String() != want {
		return "", fmt.Errorf("connection %d: echo is %s, sent %s", seed, got, want)
	}
	return got.String(), nil
}

// echoUDP sends 10 datagrams of size bytes, each until its echo arrives.
func echoUDP(addr string, size int, seed uint64, deadline time.Time) error {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return err
	}
	c, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		return err
	}
	defer c.Close()
	gen := genStream(seed)
	buf := make([]byte, 64<<10)
	for i := range 10 {
		msg := make([]byte, size)
		io.ReadFull(gen, msg)
		for answered := false; !answered; {
			if time.Now().After(deadline) {
				return fmt.Errorf("client %d: datagram %d not echoed", seed, i)
			}
			if _, err := c.Write(msg); err != nil {
				return err
			}
			c.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
			for !answered {
				n, err := c.Read(buf)
				if err != nil {
					break // resend
				}
				answered = bytes.Equal(buf[:n], msg) // else a late echo of a resend
			}
		}
	}
	return nil
}
