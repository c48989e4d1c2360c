package mesh

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"meshd/wire"
)

// testNode starts a node with a fresh key, closed at the end of the test.
func testNode(t testing.TB, id string, opts ...func(*Config)) *Node {
	t.Helper()
	key, err := wire.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{NodeID: id, Key: key, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// listen opens a loopback TCP link listener on n.
func listen(t testing.TB, n *Node) string {
	t.Helper()
	addr, err := n.AddListener(ListenerSpec{Network: "tcp", Address: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	return addr.String()
}

// connect links a to b (a dials b).
func connect(t testing.TB, a, b *Node) {
	t.Helper()
	a.AddPeer(PeerSpec{Network: "tcp", Address: listen(t, b), Redial: true})
}

// waitFor polls cond every few milliseconds until it holds or the deadline
// passes.
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

// waitRoute waits until from has a route to to.
func waitRoute(t testing.TB, from, to *Node) {
	t.Helper()
	waitFor(t, fmt.Sprintf("route %s->%s", from.id, to.id), 10*time.Second, func() bool {
		return from.nextHop(to.id) != nil
	})
}

// chain builds n0 <- n1 <- ... (each dials the previous) and waits until
// the ends see each other.
func chain(t testing.TB, n int) []*Node {
	t.Helper()
	nodes := make([]*Node, n)
	for i := range nodes {
		nodes[i] = testNode(t, fmt.Sprintf("n%d", i+1))
		if i > 0 {
			connect(t, nodes[i], nodes[i-1])
		}
	}
	waitRoute(t, nodes[0], nodes[n-1])
	waitRoute(t, nodes[n-1], nodes[0])
	return nodes
}

// echoService accepts streams on svc and echoes them back.
func echoService(t testing.TB, n *Node, svc string) {
	t.Helper()
	ln, err := n.ListenStream(svc, &Advert{ConnType: ConnTypeStream})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(c, c)
				c.(*Stream).CloseWrite()
				c.Close()
			}()
		}
	}()
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

var _ net.Conn = (*Stream)(nil)
