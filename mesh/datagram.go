package mesh

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"meshd/wire"
)

// Addr is a mesh address: a service on a node.
type Addr struct {
	Node    string
	Service string
}

// Network implements net.Addr.
func (a Addr) Network() string { return "meshd" }

// String implements net.Addr, as receptor prints addresses.
func (a Addr) String() string { return a.Node + ":" + a.Service }

// UnreachableError is what a datagram endpoint reads when a node on the
// path reports that one of its datagrams could not be delivered.
type UnreachableError struct {
	From    string // the node that reported it
	Problem string
}

func (e *UnreachableError) Error() string { return e.Problem + " (reported by " + e.From + ")" }

// datagramQueue bounds unread datagrams per endpoint; beyond it they are
// dropped, never buffered.
const datagramQueue = 256

type datagram struct {
	from    Addr
	data    []byte
	problem string
}

// PacketConn is a datagram endpoint on a service: unreliable, bounded.
type PacketConn struct {
	n         *Node
	svc       string
	recv      chan datagram
	closed    chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	deadline  time.Time
}

// ListenPacket opens a datagram service; ad != nil advertises it.
func (n *Node) ListenPacket(name string, ad *Advert) (*PacketConn, error) {
	pc := &PacketConn{n: n, svc: name, recv: make(chan datagram, datagramQueue), closed: make(chan struct{})}
	if err := n.register(&service{name: name, ad: ad, pc: pc}); err != nil {
		return nil, err
	}
	return pc, nil
}

// LocalAddr implements net.PacketConn.
func (c *PacketConn) LocalAddr() net.Addr { return Addr{c.n.id, c.svc} }

// Close unregisters the endpoint.
func (c *PacketConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.n.unregister(c.svc)
	})
	return nil
}

// SetReadDeadline sets the deadline for ReadFrom.
func (c *PacketConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return nil
}

// ReadFrom reads one datagram. An unreachable report arrives as an
// *UnreachableError.
func (c *PacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	c.mu.Lock()
	dl := c.deadline
	c.mu.Unlock()
	var timeout <-chan time.Time
	if !dl.IsZero() {
		t := time.NewTimer(time.Until(dl))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case d := <-c.recv:
		if d.problem != "" {
			return 0, d.from, &UnreachableError{From: d.from.Node, Problem: d.problem}
		}
		return copy(p, d.data), d.from, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	case <-timeout:
		return 0, nil, errTimeout
	}
}

var errTimeout = &timeoutError{}

type timeoutError struct{}

func (*timeoutError) Error() string   { return "i/o timeout" }
func (*timeoutError) Timeout() bool   { return true }
func (*timeoutError) Temporary() bool { return true }

// WriteTo sends one datagram to addr (a mesh.Addr).
func (c *PacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	a, ok := addr.(Addr)
	if !ok {
		return 0, errors.New("mesh: WriteTo needs a mesh.Addr")
	}
	return len(p), c.n.sendDatagram(c.svc, a, p, c.n.cfg.HopLimit)
}

// sendDatagram builds and originates one datagram frame.
func (n *Node) sendDatagram(srcSvc string, to Addr, p []byte, hop int) error {
	to.Node = n.resolve(to.Node)
	if err := wire.CheckName("node ID", to.Node); err != nil {
		return err
	}
	if err := wire.CheckName("service name", to.Service); err != nil {
		return err
	}
	restLen := wire.DatagramRestLen(srcSvc, to.Service, len(p))
	size := wire.RoutedLen(n.id, to.Node, restLen)
	if size > wire.MaxFrameSize {
		return errors.New("mesh: datagram too large")
	}
	f := wire.GetBuf(size)
	b := wire.AppendRouted(f.B[:0], byte(hop), wire.KindDatagram, n.id, to.Node, restLen)
	b = wire.AppendDatagramRest(b, srcSvc, to.Service)
	f.B = append(b, p...)
	return n.originate(f, to.Node, false)
}

// deliverDatagram hands a datagram to its local endpoint (or answers a
// ping). It owns frame.
func (n *Node) deliverDatagram(r wire.Routed, frame *wire.Buf) {
	defer wire.PutBuf(frame)
	dg, err := wire.ParseDatagram(r.Rest)
	if err != nil {
		return
	}
	from := Addr{string(r.Src), string(dg.SrcService)}
	if string(dg.DstService) == "ping" {
		_ = n.sendDatagram("ping", from, dg.Payload, n.cfg.HopLimit)
		return
	}
	s := n.lookupService(string(dg.DstService))
	if s == nil || s.pc == nil {
		n.stats.serviceUnknown.Add(1)
		n.sendUnreachable(r, problemServiceUnknown)
		return
	}
	s.pc.enqueue(datagram{from: from, data: append([]byte(nil), dg.Payload...)}, &n.stats)
}

func (c *PacketConn) enqueue(d datagram, st *counters) {
	select {
	case c.recv <- d:
	default:
		st.datagramDropped.Add(1)
	}
}

// deliverUnreachable routes an unreachable report to the stream or
// datagram endpoint that sent the undeliverable frame.
func (n *Node) deliverUnreachable(r wire.Routed) {
	u, err := wire.ParseUnreachable(r.Rest)
	if err != nil {
		return
	}
	if u.Kind != wire.KindDatagram {
		n.streams.unreachable(u.DstNode, u.StreamID, u.Problem+" (reported by "+string(r.Src)+")")
		return
	}
	if s := n.lookupService(u.SrcService); s != nil && s.pc != nil {
		s.pc.enqueue(datagram{from: Addr{string(r.Src), u.DstService}, problem: u.Problem}, &n.stats)
	}
}

// pingTimeout is receptor's.
const pingTimeout = 10 * time.Second

// Ping sends one ping to target and waits for the reply.
func (n *Node) Ping(ctx context.Context, target string) PingResult {
	return n.pingHops(ctx, target, n.cfg.HopLimit)
}

func (n *Node) pingHops(ctx context.Context, target string, hops int) PingResult {
	target = n.resolve(target)
	pc, err := n.ListenPacket(n.ephemeralName(), nil)
	if err != nil {
		return PingResult{Error: err.Error()}
	}
	defer pc.Close()
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	nonce := []byte(time.Now().Format(time.RFC3339Nano))
	start := time.Now()
	if err := n.sendDatagram(pc.svc, Addr{target, "ping"}, nonce, hops); err != nil {
		return PingResult{Error: err.Error()}
	}
	for {
		select {
		case <-ctx.Done():
			return PingResult{Error: "timeout"}
		case d := <-pc.recv:
			rtt := time.Since(start)
			if d.problem != "" {
				return PingResult{From: d.from.Node, Time: rtt, Error: d.problem}
			}
			if d.from == (Addr{target, "ping"}) && string(d.data) == string(nonce) {
				return PingResult{From: target, Time: rtt}
			}
		}
	}
}

// Traceroute pings target with hop limits 0, 1, 2, ... and reports every
// hop, starting with this node as hop 0, until the target answers or a
// hop fails. A hop that answers "message expired" is a hop on the path,
// reported without an error, as receptor does.
func (n *Node) Traceroute(ctx context.Context, target string) []PingResult {
	var hops []PingResult
	for i := 0; i <= n.cfg.HopLimit; i++ {
		r := n.pingHops(ctx, target, i)
		if r.From == "" {
			r.From = n.id
		}
		if r.Error != problemExpired {
			return append(hops, r)
		}
		// An expired probe is this hop's answer, not a failure.
		r.Error = ""
		hops = append(hops, r)
	}
	return hops
}
