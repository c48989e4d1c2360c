package ctlsock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"meshd/mesh"
)

// fakeMesh is one node's view of the transcripts' chain node1 <- node2 <- node3.
type fakeMesh struct {
	id     string
	status mesh.Status
	paths  map[string][]string // target -> nodes on the way, self first
	dial   func(ctx context.Context, node, service string) (net.Conn, error)

	mu     sync.Mutex
	pinged []string // targets passed to Ping and Traceroute
}

func (f *fakeMesh) NodeID() string      { return f.id }
func (f *fakeMesh) Status() mesh.Status { return f.status }

func (f *fakeMesh) record(target string) {
	f.mu.Lock()
	f.pinged = append(f.pinged, target)
	f.mu.Unlock()
}

func (f *fakeMesh) lastPinged() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pinged) == 0 {
		return ""
	}
	return f.pinged[len(f.pinged)-1]
}

func (f *fakeMesh) Ping(ctx context.Context, target string) mesh.PingResult {
	f.record(target)
	path, ok := f.paths[target]
	if !ok {
		return mesh.PingResult{Error: "no route to node"}
	}
	return mesh.PingResult{From: target, Time: time.Duration(len(path)) * 437 * time.Microsecond}
}

func (f *fakeMesh) Traceroute(ctx context.Context, target string) []mesh.PingResult {
	f.record(target)
	path, ok := f.paths[target]
	if !ok {
		return []mesh.PingResult{{Error: "no route to node"}}
	}
	hops := make([]mesh.PingResult, len(path))
	for i, n := range path {
		hops[i] = mesh.PingResult{From: n, Time: time.Duration(i+1) * 311 * time.Microsecond}
	}
	return hops
}

func (f *fakeMesh) Dial(ctx context.Context, node, service string) (net.Conn, error) {
	if f.dial == nil {
		return nil, errors.New("no route to node")
	}
	return f.dial(ctx, node, service)
}

var (
	controlTags = map[string]string{"type": "Control Service"}
	node1Work   = []mesh.WorkCommand{{WorkType: "cat"}, {WorkType: "uppercase"}, {WorkType: "sleep"}, {WorkType: "echo-args"}}
	node3Work   = []mesh.WorkCommand{{WorkType: "cat"}, {WorkType: "uppercase"}, {WorkType: "sleep"}, {WorkType: "count"}}
	chainCosts  = map[string]map[string]float64{
		"node1": {"node2": 1},
		"node2": {"node1": 1, "node3": 1},
		"node3": {"node2": 1},
	}
)

// chainAds are the advertisements every node of the chain knows. Times
// differ from the transcripts' (masked), and node2's WorkCommands are nil
// where receptor sends null (meshd sends []).
func chainAds() []mesh.Advertisement {
	at := time.Date(2026, 11, 25, 6, 49, 4, 219034907, time.FixedZone("CET", 3600))
	ad := func(node, svc string, wc []mesh.WorkCommand) mesh.Advertisement {
		return mesh.Advertisement{NodeID: node, Service: svc, Time: at, ConnType: mesh.ConnTypeStream,
			Tags: controlTags, WorkCommands: wc}
	}
	return []mesh.Advertisement{
		ad("node3", "control", node3Work),
		ad("node1", "control", node1Work),
		ad("node2", "control", nil),
		ad("node1", "ctltcp", node1Work),
	}
}

func node1Mesh() *fakeMesh {
	return &fakeMesh{
		id: "node1",
		status: mesh.Status{
			NodeID:               "node1",
			Connections:          []mesh.Connection{{NodeID: "node2", Cost: 1}},
			RoutingTable:         map[string]string{"node2": "node2", "node3": "node2"},
			KnownConnectionCosts: chainCosts,
			Advertisements:       chainAds(),
		},
		paths: map[string][]string{
			"node1": {"node1"}, "node2": {"node1", "node2"}, "node3": {"node1", "node2", "node3"},
		},
	}
}

func node2Mesh() *fakeMesh {
	return &fakeMesh{
		id: "node2",
		status: mesh.Status{
			NodeID:               "node2",
			Connections:          []mesh.Connection{{NodeID: "node1", Cost: 1}, {NodeID: "node3", Cost: 1}},
			RoutingTable:         map[string]string{"node1": "node1", "node3": "node3"},
			KnownConnectionCosts: chainCosts,
			Advertisements:       chainAds(),
		},
		paths: map[string][]string{
			"node1": {"node2", "node1"}, "node2": {"node2"}, "node3": {"node2", "node3"},
		},
	}
}

// chain is node1's control service, whose mesh reaches node2's control
// service through connect.
type chain struct {
	n1, n2   *Server
	m1, m2   *fakeMesh
	meshEnds chan net.Conn // node1's ends of the streams it dialled
}

func newChain(t testing.TB, opts Options) *chain {
	t.Helper()
	c := &chain{m1: node1Mesh(), m2: node2Mesh(), meshEnds: make(chan net.Conn, 16)}
	c.n1 = NewServer(c.m1, opts)
	c.n2 = NewServer(c.m2, opts)
	c.m1.dial = func(ctx context.Context, node, service string) (net.Conn, error) {
		if node != "node2" || service != "control" {
			return nil, errors.New("INTERNAL_ERROR (local): no route to node")
		}
		local, remote, err := newSocketPair()
		if err != nil {
			return nil, err
		}
		go c.n2.ServeConn(context.Background(), remote)
		select {
		case c.meshEnds <- local:
		default:
		}
		return local, nil
	}
	t.Cleanup(func() {
		c.n1.Close()
		c.n2.Close()
	})
	return c
}

// quietOpts keeps test output clean; tests that look at logs set their own.
func quietOpts() Options {
	return Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// socketPair returns two connected Unix stream sockets; unlike net.Pipe
// they can half-close, which the protocol relies on.
func socketPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	a, b, err := newSocketPair()
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

func newSocketPair() (net.Conn, net.Conn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), fmt.Sprintf("socketpair-%d", i))
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			return nil, nil, err
		}
		conns[i] = c
	}
	return conns[0], conns[1], nil
}

// dialer returns a function that opens a fresh session of srv.
func dialer(t testing.TB, srv *Server) func() (net.Conn, error) {
	return func() (net.Conn, error) {
		client, server := socketPair(t)
		go srv.ServeConn(context.Background(), server)
		return client, nil
	}
}

// converse sends input to a fresh session of srv, half-closes, and returns
// everything the server sent until it closed.
func converse(t testing.TB, srv *Server, input string) string {
	t.Helper()
	conn, _ := dialer(t, srv)()
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	out := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(conn)
		out <- b
	}()
	if _, err := io.WriteString(conn, input); err != nil {
		t.Fatalf("write: %v", err)
	}
	conn.(*net.UnixConn).CloseWrite()
	return string(<-out)
}

const greeting1 = "Receptor Control, node node1\n"
