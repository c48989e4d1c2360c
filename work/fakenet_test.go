package work_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"

	"meshd/ctlclient"
	"meshd/ctlsock"
	"meshd/mesh"
	"meshd/work"
)

// fakeNet stands for the mesh between a submitting node and executing
// nodes: Dial reaches the control service (a ctlsock.Server backed by a
// work.Manager) of a node over a Unix socket pair, which half-closes as a
// mesh stream does. The test can cut it: live connections are closed and
// dials fail until it is restored.
type fakeNet struct {
	mu          sync.Mutex
	servers     map[string]*ctlsock.Server
	down        bool
	refused     int                        // dials failed while down
	live        map[*net.UnixConn]struct{} // both ends of open connections
	submits     []string                   // submit command lines clients sent
	received    int64                      // bytes read by clients
	cutAt       int64                      // cut once received reaches this (0: never)
	cuts        chan struct{}              // one value per cut made by cutAt
	dropResults bool                       // close a connection that asks for results
	hold        chan struct{}              // non-nil: a submit line waits until it is closed
	held        chan struct{}              // one value per submit line held
}

func newFakeNet() *fakeNet {
	return &fakeNet{
		servers: map[string]*ctlsock.Server{},
		live:    map[*net.UnixConn]struct{}{},
		cuts:    make(chan struct{}, 16),
	}
}

// addNode serves node's control service with the work command of m.
func (n *fakeNet) addNode(t *testing.T, node string, m *work.Manager) {
	srv := ctlsock.NewServer(fakeMesh{node}, ctlsock.Options{Logger: quietLog})
	srv.Register("work", ctlsock.WorkHandler(m))
	t.Cleanup(func() { srv.Close() })
	n.mu.Lock()
	n.servers[node] = srv
	n.mu.Unlock()
}

func (n *fakeNet) Dial(ctx context.Context, node, service string) (net.Conn, error) {
	return n.dial(node, service, false)
}

// dialTrusted connects as a client of the node's Unix control socket
// would: the server sees network "unix" and skips signature checks.
func (n *fakeNet) dialTrusted(node string) (net.Conn, error) {
	return n.dial(node, "control", true)
}

func (n *fakeNet) dial(node, service string, unix bool) (net.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down {
		n.refused++
		return nil, errors.New("no route to node " + node)
	}
	srv := n.servers[node]
	if srv == nil || service != "control" {
		return nil, errors.New("no route to node " + node)
	}
	a, b, err := socketPair()
	if err != nil {
		return nil, err
	}
	n.live[a], n.live[b] = struct{}{}, struct{}{}
	var server net.Conn = &serverConn{b, n}
	if unix {
		server = b
	}
	go srv.ServeConn(context.Background(), server)
	return &clientConn{a, n}, nil
}

func socketPair() (*net.UnixConn, *net.UnixConn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	var conns [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			return nil, nil, err
		}
		conns[i] = c.(*net.UnixConn)
	}
	return conns[0], conns[1], nil
}

// cut closes every live connection and fails dials until restore.
func (n *fakeNet) cut() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cutLocked()
}

func (n *fakeNet) cutLocked() {
	n.down = true
	for c := range n.live {
		c.Close()
	}
}

func (n *fakeNet) restore() {
	n.mu.Lock()
	n.down = false
	n.mu.Unlock()
}

func (n *fakeNet) refusedDials() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.refused
}

// cutAfter arranges a cut once clients have read k more bytes.
func (n *fakeNet) cutAfter(k int64) {
	n.mu.Lock()
	n.cutAt = n.received + k
	n.mu.Unlock()
}

func (n *fakeNet) setDropResults(drop bool) {
	n.mu.Lock()
	n.dropResults = drop
	n.mu.Unlock()
}

// holdSubmits makes submit lines wait, each announced on the returned
// channel, until release is called.
func (n *fakeNet) holdSubmits() (held <-chan struct{}, release func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hold, n.held = make(chan struct{}), make(chan struct{}, 16)
	hold := n.hold
	var once sync.Once
	return n.held, func() {
		once.Do(func() {
			n.mu.Lock()
			n.hold = nil
			n.mu.Unlock()
			close(hold)
		})
	}
}

// lastSubmit is the last submit command line a client sent.
func (n *fakeNet) lastSubmit() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.submits) == 0 {
		return ""
	}
	return n.submits[len(n.submits)-1]
}

func (n *fakeNet) forget(c *net.UnixConn) {
	n.mu.Lock()
	delete(n.live, c)
	n.mu.Unlock()
}

// clientConn is the dialing end; it counts what it reads and records the
// submits it sends. *net.UnixConn gives it CloseWrite.
type clientConn struct {
	*net.UnixConn
	n *fakeNet
}

func (c *clientConn) Read(p []byte) (int, error) {
	k, err := c.UnixConn.Read(p)
	n := c.n
	n.mu.Lock()
	n.received += int64(k)
	if n.cutAt > 0 && n.received >= n.cutAt {
		n.cutAt = 0
		n.cutLocked() // after this read: its bytes are delivered
		n.cuts <- struct{}{}
	}
	n.mu.Unlock()
	return k, err
}

func (c *clientConn) Write(p []byte) (int, error) {
	n := c.n
	n.mu.Lock()
	isSubmit := bytes.HasPrefix(p, []byte("{")) && bytes.Contains(p, []byte(`"subcommand":"submit"`))
	if isSubmit {
		n.submits = append(n.submits, string(bytes.TrimSuffix(p, []byte("\n"))))
	}
	drop := n.dropResults && bytes.Contains(p, []byte(`"subcommand":"results"`))
	hold := n.hold
	n.mu.Unlock()
	if isSubmit && hold != nil {
		n.held <- struct{}{}
		<-hold
	}
	if drop {
		c.Close()
		return 0, net.ErrClosed
	}
	return c.UnixConn.Write(p)
}

func (c *clientConn) Close() error {
	c.n.forget(c.UnixConn)
	return c.UnixConn.Close()
}

// serverConn is the served end of a mesh stream: its peer's address is a
// mesh address, so signatures are checked.
type serverConn struct {
	*net.UnixConn
	n *fakeNet
}

func (c *serverConn) RemoteAddr() net.Addr { return mesh.Addr{Node: "node1", Service: "ephemeral"} }

func (c *serverConn) Close() error {
	c.n.forget(c.UnixConn)
	return c.UnixConn.Close()
}

// session opens a control session with node over the mesh.
func (n *fakeNet) session(t *testing.T, node string, trusted bool) *ctlclient.Client {
	t.Helper()
	var conn net.Conn
	var err error
	if trusted {
		conn, err = n.dialTrusted(node)
	} else {
		conn, err = n.Dial(t.Context(), node, "control")
	}
	if err != nil {
		t.Fatal(err)
	}
	c, err := ctlclient.New(conn)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// fakeMesh is what a control service needs of a node that has no mesh.
type fakeMesh struct{ id string }

func (f fakeMesh) NodeID() string      { return f.id }
func (f fakeMesh) Status() mesh.Status { return mesh.Status{NodeID: f.id} }
func (f fakeMesh) Ping(context.Context, string) mesh.PingResult {
	return mesh.PingResult{Error: "no route to node"}
}
func (f fakeMesh) Traceroute(context.Context, string) []mesh.PingResult {
	return []mesh.PingResult{{Error: "no route to node"}}
}
func (f fakeMesh) Dial(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("no route to node")
}
