package proxy

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"meshd/mesh"
)

var tcpProxyAd = &mesh.Advert{ConnType: mesh.ConnTypeStream, Tags: map[string]string{"type": "TCP Proxy"}}

// tcpThrough sets up client -> inbound on first -> mesh -> outbound on
// last -> backend, and returns the inbound's address.
func tcpThrough(t *testing.T, first, last *mesh.Node, backend net.Listener) string {
	t.Helper()
	out, err := NewOutbound(last, "backend", tcpProxyAd, "tcp", backend.Addr().String(), Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	in := NewInbound(first, tcpListen(t), last.NodeID(), "backend", Options{Logger: quiet()})
	t.Cleanup(func() { in.Close() })
	return in.Addr().String()
}

// roundTrip sends msg, half-closes and returns everything read back.
func roundTrip(addr string, msg []byte) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	c.(*net.TCPConn).CloseWrite()
	return io.ReadAll(c)
}

func TestTCPConcurrentConnections(t *testing.T) {
	nodes := chain(t, 3)
	backend := tcpListen(t)
	serve(backend, echo)
	addr := tcpThrough(t, nodes[0], nodes[2], backend)

	const conns = 100
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := bytes.Repeat([]byte(fmt.Sprintf("connection %d;", i)), 100+i)
			got, err := roundTrip(addr, msg)
			if err == nil && !bytes.Equal(got, msg) {
				err = fmt.Errorf("connection %d: got %d bytes back, sent %d", i, len(got), len(msg))
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestTCPLargeTransfer streams 20 MiB both ways at once through an echo
// server three nodes away and checks both digests.
func TestTCPLargeTransfer(t *testing.T) {
	nodes := chain(t, 3)
	backend := tcpListen(t)
	serve(backend, echo)
	addr := tcpThrough(t, nodes[0], nodes[2], backend)

	const size = 20 << 20
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	sent := sha256.New()
	werr := make(chan error, 1)
	go func() {
		_, err := io.Copy(c, io.TeeReader(io.LimitReader(rand.Reader, size), sent))
		c.(*net.TCPConn).CloseWrite()
		werr <- err
	}()
	got := sha256.New()
	n, err := io.Copy(got, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if n != size || !bytes.Equal(got.Sum(nil), sent.Sum(nil)) {
		t.Fatalf("echoed %d bytes, sha256 %x; sent %d, sha256 %x", n, got.Sum(nil), size, sent.Sum(nil))
	}
}

// TestTCPHalfClose: each side's shutdown(SHUT_WR) reaches the other while
// the opposite direction keeps flowing.
func TestTCPHalfClose(t *testing.T) {
	nodes := chain(t, 2)
	backend := tcpListen(t)
	// The server speaks first and half-closes, then reads the client's
	// request to EOF and reports how much it read.
	halfCloseSeen := make(chan int64, 1)
	serve(backend, func(c net.Conn) {
		c.Write([]byte("hello\n"))
		c.(*net.TCPConn).CloseWrite()
		n, _ := io.Copy(io.Discard, c)
		halfCloseSeen <- n
	})
	addr := tcpThrough(t, nodes[0], nodes[1], backend)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	greeting, err := io.ReadAll(c) // EOF arrives while our write half is open
	if err != nil || string(greeting) != "hello\n" {
		t.Fatalf("read %q, %v; want the greeting then EOF", greeting, err)
	}
	if _, err := c.Write(make([]byte, 1000)); err != nil {
		t.Fatalf("write after the server's half-close: %v", err)
	}
	c.(*net.TCPConn).CloseWrite()
	select {
	case n := <-halfCloseSeen:
		if n != 1000 {
			t.Fatalf("server read %d bytes before EOF, want 1000", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client's half-close did not reach the server")
	}
}

// TestTCPDialFailure: a client whose mesh dial fails is closed, and only
// it; a mesh stream whose local dial fails is closed, and only it.
func TestTCPDialFailure(t *testing.T) {
	nodes := chain(t, 2)
	backend := tcpListen(t)
	serve(backend, echo)
	good := tcpThrough(t, nodes[0], nodes[1], backend)

	noService := NewInbound(nodes[0], tcpListen(t), "n2", "nothere", Options{Logger: quiet()})
	defer noService.Close()
	noNode := NewInbound(nodes[0], tcpListen(t), "n9", "backend", Options{Logger: quiet()})
	defer noNode.Close()
	dead := tcpListen(t)
	deadAddr := dead.Addr().String()
	dead.Close()
	out, err := NewOutbound(nodes[1], "dead", tcpProxyAd, "tcp", deadAddr, Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	noBackend := NewInbound(nodes[0], tcpListen(t), "n2", "dead", Options{Logger: quiet()})
	defer noBackend.Close()

	for _, p := range []*Inbound{noService, noNode, noBackend} {
		for range 3 {
			got, _ := roundTrip(p.Addr().String(), []byte("ping"))
			if len(got) != 0 {
				t.Fatalf("%s: got %q through a failed dial", p.Addr(), got)
			}
		}
	}
	if got, err := roundTrip(good, []byte("still here")); err != nil || string(got) != "still here" {
		t.Fatalf("the working proxy answered %q, %v", got, err)
	}
}

// TestTCPLocalhost: remotenode "localhost" reaches a service of the node itself.
func TestTCPLocalhost(t *testing.T) {
	n := testNode(t, "solo")
	ml, err := n.ListenStream("greet", &mesh.Advert{ConnType: mesh.ConnTypeStream})
	if err != nil {
		t.Fatal(err)
	}
	defer ml.Close()
	serve(ml, func(c net.Conn) { c.Write([]byte("Receptor Control, node solo\n")) })
	in := NewInbound(n, tcpListen(t), "localhost", "greet", Options{Logger: quiet()})
	defer in.Close()
	got, err := roundTrip(in.Addr().String(), nil)
	if err != nil || string(got) != "Receptor Control, node solo\n" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestUnixSockets(t *testing.T) {
	nodes := chain(t, 3)
	dir := t.TempDir()
	backend, err := net.Listen("unix", filepath.Join(dir, "backend.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	serve(backend, echo)
	out, err := NewOutbound(nodes[2], "usock", &mesh.Advert{ConnType: mesh.ConnTypeStream}, "unix", backend.Addr().String(), Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	front, err := net.Listen("unix", filepath.Join(dir, "front.sock"))
	if err != nil {
		t.Fatal(err)
	}
	in := NewInbound(nodes[0], front, "n3", "usock", Options{Logger: quiet()})
	defer in.Close()

	// Five concurrent 1 MiB echoes: both directions of every stream can
	// have a full window in flight on the middle node's links.
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("unix", front.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			msg := bytes.Repeat([]byte{byte(i)}, 1<<20)
			go func() {
				c.Write(msg)
				c.(*net.UnixConn).CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("connection %d: %d bytes back (%v), want %d", i, len(got), err, len(msg))
			}
		}()
	}
	wg.Wait()
}

// TestCloseEndsConnections: closing a proxy ends its open bridges.
func TestCloseEndsConnections(t *testing.T) {
	nodes := chain(t, 2)
	backend := tcpListen(t)
	serve(backend, echo)
	out, err := NewOutbound(nodes[1], "backend", tcpProxyAd, "tcp", backend.Addr().String(), Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	in := NewInbound(nodes[0], tcpListen(t), "n2", "backend", Options{Logger: quiet()})
	c, err := net.Dial("tcp", in.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("x"))
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	in.Close()
	out.Close()
	if _, err := io.ReadAll(c); err != nil && !isReset(err) {
		t.Fatalf("after Close: %v", err)
	}
}

func isReset(err error) bool {
	ne, ok := err.(*net.OpError)
	return ok && !ne.Timeout()
}
