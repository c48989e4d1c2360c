// Package bench holds meshd's performance benchmarks and the pieces they
// share with the bench driver (bench/cmd/meshbench): in-process node
// chains, a sink service, and the raw TCP relay chain that serves as the
// baseline.
//
// Performance targets live here and in the driver as ratios against a
// baseline measured in the same run, never as thresholds in unit tests.
// All traffic stays on 127.0.0.1.
package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"meshd/mesh"
	"meshd/wire"
)

// SinkService is the name of the stream service the sink listens on.
const SinkService = "sink"

// QuietLogger discards everything.
func QuietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// NewNode starts an in-process node with a fresh key and a quiet logger.
func NewNode(id string) (*mesh.Node, error) {
	key, err := wire.GenerateKey()
	if err != nil {
		return nil, err
	}
	return mesh.New(mesh.Config{NodeID: id, Key: key, Logger: QuietLogger()})
}

// Chain starts n in-process nodes n1..nN, each dialing the previous one
// over 127.0.0.1, and waits (at most timeout) until the two ends route to
// each other. close shuts every node down.
func Chain(n int, timeout time.Duration) (nodes []*mesh.Node, close func(), err error) {
	close = func() {
		for i := len(nodes) - 1; i >= 0; i-- {
			nodes[i].Close()
		}
	}
	for i := 0; i < n; i++ {
		nd, err := NewNode(fmt.Sprintf("n%d", i+1))
		if err != nil {
			close()
			return nil, func() {}, err
		}
		nodes = append(nodes, nd)
	}
	// Node i dials node i-1.
	for i := 1; i < n; i++ {
		addr, err := nodes[i-1].AddListener(mesh.ListenerSpec{Network: "tcp", Address: "127.0.0.1:0"})
		if err != nil {
			close()
			return nil, func() {}, err
		}
		nodes[i].AddPeer(mesh.PeerSpec{Network: "tcp", Address: addr.String(), Redial: true})
	}
	if n > 1 {
		first, last := nodes[0], nodes[n-1]
		err := WaitUntil(timeout, func() bool {
			return HasRoute(first, last.NodeID()) && HasRoute(last, first.NodeID())
		})
		if err != nil {
			close()
			return nil, func() {}, fmt.Errorf("chain of %d: %w", n, err)
		}
	}
	return nodes, close, nil
}

// HasRoute reports whether n has a route to dst.
func HasRoute(n *mesh.Node, dst string) bool {
	_, ok := n.Status().RoutingTable[dst]
	return ok
}

// WaitUntil polls cond every 2 ms until it holds; it gives up after timeout.
func WaitUntil(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// Sink protocol. The client sends an 8-byte big-endian ack interval A,
// then data. When A > 0 the sink writes one byte each time the count of
// data bytes received crosses a multiple of A. At EOF it writes the total
// as 8 bytes big-endian and closes the connection.

// ServeSink accepts connections on ln until it fails, sinking each one.
func ServeSink(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go Sink(c)
	}
}

// Sink runs the sink protocol on one connection and closes it.
func Sink(c net.Conn) error {
	defer c.Close()
	var hdr [8]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return err
	}
	ackEvery := binary.BigEndian.Uint64(hdr[:])
	buf := make([]byte, 256<<10)
	acks := make([]byte, 64)
	var total, acked uint64
	for {
		n, err := c.Read(buf)
		total += uint64(n)
		if ackEvery > 0 {
			for due := total / ackEvery; acked < due; {
				k := min(due-acked, uint64(len(acks)))
				if _, werr := c.Write(acks[:k]); werr != nil {
					return werr
				}
				acked += k
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	binary.BigEndian.PutUint64(hdr[:], total)
	if _, err := c.Write(hdr[:]); err != nil {
		return err
	}
	if cw, ok := c.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return nil
}

// closeWriter is a connection with a write half-close (TCP, Unix, and
// mesh streams).
type closeWriter interface {
	CloseWrite() error
}

// Sender drives the sink protocol from the client side.
type Sender struct {
	c        net.Conn
	r        io.Reader
	buf      []byte
	ackEvery int64
	sent     int64
}

// NewSender starts the sink protocol on c with the given ack interval (0:
// no acks). r reads c's replies (c itself, or a buffered reader that may
// already hold bytes read past a handshake).
func NewSender(c net.Conn, r io.Reader, ackEvery int64) (*Sender, error) {
	if r == nil {
		r = c
	}
	s := &Sender{c: c, r: r, buf: make([]byte, 256<<10), ackEvery: ackEvery}
	for i := range s.buf {
		s.buf[i] = byte(i * 7)
	}
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(ackEvery))
	_, err := c.Write(hdr[:])
	return s, err
}

// Write sends n data bytes.
func (s *Sender) Write(n int64) error {
	for n > 0 {
		k := min(n, int64(len(s.buf)))
		w, err := s.c.Write(s.buf[:k])
		s.sent += int64(w)
		n -= int64(w)
		if err != nil {
			return err
		}
	}
	return nil
}

// Op sends one ack interval of data and waits for its ack.
func (s *Sender) Op() error {
	if s.ackEvery <= 0 {
		return errors.New("Op needs an ack interval")
	}
	if err := s.Write(s.ackEvery); err != nil {
		return err
	}
	var ack [1]byte
	_, err := io.ReadFull(s.r, ack[:])
	return err
}

// Finish half-closes the connection and waits for the sink's total, which
// must equal what was sent. Any acks not yet read are skipped.
func (s *Sender) Finish() error {
	cw, ok := s.c.(closeWriter)
	if !ok {
		return fmt.Errorf("%T cannot half-close", s.c)
	}
	if err := cw.CloseWrite(); err != nil {
		return err
	}
	rest, err := io.ReadAll(io.LimitReader(s.r, 1<<20))
	if err != nil {
		return err
	}
	if len(rest) < 8 {
		return fmt.Errorf("sink closed without a total (%d bytes)", len(rest))
	}
	got := int64(binary.BigEndian.Uint64(rest[len(rest)-8:]))
	if got != s.sent {
		return fmt.Errorf("sink received %d bytes, sent %d", got, s.sent)
	}
	return nil
}

// Sent is the number of data bytes sent so far.
func (s *Sender) Sent() int64 { return s.sent }

// CopyMode selects how a relay copies bytes.
type CopyMode string

const (
	// CopySplice is plain io.Copy between TCP connections; on Linux the Go
	// runtime turns it into splice(2), a zero-copy kernel relay.
	CopySplice CopyMode = "splice"
	// CopyUser copies through a 32 KiB user-space buffer (read/write
	// system calls), as socat does.
	CopyUser CopyMode = "user"
)

// Relay accepts connections on ln and relays each, both ways, to a fresh
// connection to target, propagating half-closes. It returns when ln fails.
func Relay(ln net.Listener, target string, mode CopyMode) {
	for {
		a, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer a.Close()
			b, err := net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				return
			}
			defer b.Close()
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				relayCopy(b, a, mode)
			}()
			relayCopy(a, b, mode)
			wg.Wait()
		}()
	}
}

func relayCopy(dst, src net.Conn, mode CopyMode) {
	if mode == CopyUser {
		buf := make([]byte, 32<<10)
		// Hide ReaderFrom/WriterTo so the copy stays in user space.
		io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf)
	} else {
		io.Copy(dst, src)
	}
	if cw, ok := dst.(closeWriter); ok {
		cw.CloseWrite()
	} else {
		dst.Close()
	}
}

// RelayChain is an in-process chain of relays in front of a target.
type RelayChain struct {
	Addr string // where clients connect
	lns  []net.Listener
}

// NewRelayChain starts n relays in this process, each forwarding to the
// next, the last to target.
func NewRelayChain(n int, target string, mode CopyMode) (*RelayChain, error) {
	rc := &RelayChain{Addr: target}
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			rc.Close()
			return nil, err
		}
		rc.lns = append(rc.lns, ln)
		go Relay(ln, rc.Addr, mode)
		rc.Addr = ln.Addr().String()
	}
	return rc, nil
}

// Close stops the relays (connections in flight end with their peers).
func (rc *RelayChain) Close() {
	for _, ln := range rc.lns {
		ln.Close()
	}
}

// ListenSink starts a TCP sink on 127.0.0.1; close it with the listener.
func ListenSink() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go ServeSink(ln)
	return ln, nil
}

// MeshSink serves the sink protocol on node as service SinkService.
func MeshSink(n *mesh.Node) (*mesh.Listener, error) {
	ln, err := n.ListenStream(SinkService, &mesh.Advert{ConnType: mesh.ConnTypeStream})
	if err != nil {
		return nil, err
	}
	go ServeSink(ln)
	return ln, nil
}

// DialMesh opens a stream from n to the sink on node dst.
func DialMesh(n *mesh.Node, dst string, timeout time.Duration) (*mesh.Stream, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return n.DialStream(ctx, dst, SinkService)
}

// ServeEcho accepts connections on ln and echoes each back until EOF.
func ServeEcho(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}

// RoundTrip writes msg to c and reads len(msg) bytes back, returning the
// wall time it took.
func RoundTrip(c net.Conn, msg, reply []byte) (time.Duration, error) {
	start := time.Now()
	if _, err := c.Write(msg); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(c, reply[:len(msg)]); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
