package udplink

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var netErrClosed = net.ErrClosed

// endpoint owns one UDP socket and the connections on it: a dialer's one
// connection, or a listener's many, demultiplexed by connection ID and
// checked against the address each was established from.
type endpoint struct {
	pc        *net.UDPConn
	connected bool        // a dialer's socket: send with Write
	gso       atomic.Bool // batches go out in one system call
	ln        *Listener   // nil for a dialer

	mu      sync.Mutex
	conns   map[uint64]*Conn
	closing bool // no new connections; the socket closes with the last one

	refused     chan struct{} // a dialer's socket got ICMP port unreachable
	refusedOnce sync.Once

	// Drops, by reason.
	dropMalformed, dropUnknown, dropAddr, dropCookie, dropFull atomic.Uint64
}

func newEndpoint(pc *net.UDPConn, connected bool) *endpoint {
	_ = pc.SetReadBuffer(socketBuffer)
	_ = pc.SetWriteBuffer(socketBuffer)
	enableGRO(pc)
	e := &endpoint{pc: pc, connected: connected, conns: make(map[uint64]*Conn), refused: make(chan struct{})}
	e.gso.Store(gsoAvailable)
	return e
}

// sendBatch sends b, a run of datagrams of segSize bytes (the last may be
// shorter), in one system call where the kernel can split it, else one
// by one.
func (e *endpoint) sendBatch(b []byte, segSize int, to netip.AddrPort) {
	if len(b) > segSize && e.gso.Load() {
		dst := to
		if e.connected {
			dst = netip.AddrPort{}
		}
		_, _, err := e.pc.WriteMsgUDPAddrPort(b, gsoControl(segSize), dst)
		if err == nil {
			return
		}
		var se syscall.Errno
		if errors.As(err, &se) && (se == syscall.EIO || se == syscall.EINVAL || se == syscall.ENOPROTOOPT || se == syscall.EOPNOTSUPP) {
			e.gso.Store(false) // no offload here (device or kernel): send one by one from now on
		} else {
			return
		}
	}
	for len(b) > 0 {
		n := min(segSize, len(b))
		e.send(b[:n], to)
		b = b[n:]
	}
}

func (e *endpoint) send(b []byte, to netip.AddrPort) {
	if e.connected {
		_, _ = e.pc.Write(b)
	} else {
		_, _ = e.pc.WriteToUDPAddrPort(b, to)
	}
}

func (e *endpoint) lookup(cid uint64) *Conn {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.conns[cid]
}

// remove forgets c; the last connection of a closing endpoint closes the
// socket.
func (e *endpoint) remove(c *Conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conns[c.localCID] == c {
		delete(e.conns, c.localCID)
	}
	if e.closing && len(e.conns) == 0 {
		e.pc.Close()
	}
}

// readLoop reads datagrams until the socket closes. A coalesced receive
// (GRO) is split into its datagrams; each connection that got segments
// flushes once at the end of the run, so one ack answers many segments.
func (e *endpoint) readLoop() {
	buf := make([]byte, 1<<16)
	oob := make([]byte, 128)
	var seg segment
	for {
		n, oobn, _, from, err := e.pc.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				e.failAll(net.ErrClosed)
				return
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				e.refusedOnce.Do(func() { close(e.refused) })
			}
			continue // ICMP errors surface on connected sockets: not fatal
		}
		size := groSegmentSize(oob[:oobn])
		if size <= 0 || size > n {
			size = n
		}
		var pending *Conn
		for off := 0; off < n; off += size {
			c := e.handle(buf[off:min(off+size, n)], from, &seg)
			if pending != nil && c != pending {
				pending.flush()
			}
			if c != nil {
				pending = c
			}
		}
		if pending != nil {
			pending.flush()
		}
	}
}

// handle dispatches one datagram. It returns the connection that took a
// segment and has still to flush.
func (e *endpoint) handle(b []byte, from netip.AddrPort, seg *segment) *Conn {
	switch packetType(b) {
	case typeSEG:
		if parseSegment(b, seg) != nil {
			e.dropMalformed.Add(1)
			return nil
		}
		if c := e.conn(seg.dest, from); c != nil {
			c.handleSegment(seg)
			return c
		}
	case typeRST:
		cid, err := parseRST(b)
		if err != nil {
			e.dropMalformed.Add(1)
			return nil
		}
		if c := e.conn(cid, from); c != nil {
			c.handleRST()
		}
	case typeSYN, typeCOOKIE, typeSYNACK:
		var h handshake
		if parseHandshake(b, &h) != nil {
			e.dropMalformed.Add(1)
			return nil
		}
		switch {
		case h.typ == typeSYNACK && e.ln == nil:
			if c := e.conn(h.dialerCID, from); c != nil {
				select {
				case c.synack <- h:
				default:
				}
			}
		case h.typ == typeSYN && e.ln != nil:
			e.ln.answerSYN(&h, from)
		case h.typ == typeCOOKIE && e.ln != nil:
			e.ln.acceptCookie(&h, from)
		default:
			e.dropMalformed.Add(1)
		}
	default:
		e.dropMalformed.Add(1)
	}
	return nil
}

// conn returns the connection cid if from is its peer.
func (e *endpoint) conn(cid uint64, from netip.AddrPort) *Conn {
	c := e.lookup(cid)
	switch {
	case c == nil:
		e.dropUnknown.Add(1)
		return nil
	case !e.connected && c.raddr != from:
		e.dropAddr.Add(1)
		return nil
	}
	return c
}

func (e *endpoint) failAll(err error) {
	e.mu.Lock()
	cs := make([]*Conn, 0, len(e.conns))
	for _, c := range e.conns {
		cs = append(cs, c)
	}
	e.mu.Unlock()
	for _, c := range cs {
		c.mu.Lock()
		c.failLocked(err)
		c.mu.Unlock()
	}
}

func randomCID() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if v := binary.BigEndian.Uint64(b[:]); v != 0 {
			return v
		}
	}
}

// Dial connects to a listener at address (host:port). The connection is
// established when Dial returns; ctx bounds the setup.
func Dial(ctx context.Context, address string, cfg *Config) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "udp", address)
	if err != nil {
		return nil, err
	}
	pc := nc.(*net.UDPConn)
	ep := newEndpoint(pc, true)
	raddr := pc.RemoteAddr().(*net.UDPAddr).AddrPort()
	c := newConn(ep, raddr, randomCID(), 0, cfg.withDefaults())
	ep.conns[c.localCID] = c
	ep.closing = true
	go ep.readLoop()
	if err := c.dialHandshake(ctx); err != nil {
		pc.Close()
		return nil, fmt.Errorf("udplink: dial %s: %w", address, err)
	}
	go c.run()
	return c, nil
}

// dialHandshake sends SYN until a SYNACK comes, then echoes its cookie
// until the listener's first segment comes; both with backoff.
func (c *Conn) dialHandshake(ctx context.Context) error {
	h := handshake{typ: typeSYN, dialerCID: c.localCID}
	wait := 200 * time.Millisecond
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		c.ep.send(appendHandshake(nil, &h), c.raddr)
		t.Reset(wait)
	waiting:
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-c.estab:
				return nil
			case <-c.ep.refused:
				return syscall.ECONNREFUSED
			case r := <-c.synack:
				if h.typ != typeSYN {
					continue // a SYNACK for a retransmitted SYN: one is enough
				}
				h = r
				h.typ = typeCOOKIE
				c.mu.Lock()
				c.remoteCID = r.listenerCID
				c.mu.Unlock()
				wait = 200 * time.Millisecond
				break waiting
			case <-t.C:
				wait = min(2*wait, maxRTO)
				break waiting
			}
		}
	}
}

// Listener accepts connections on one UDP socket.
type Listener struct {
	ep      *endpoint
	cfg     Config
	secret  [32]byte
	acceptQ chan *Conn
	closed  chan struct{}
	once    sync.Once
}

// Listen opens a listener on address (host:port; port 0 picks one).
func Listen(address string, cfg *Config) (*Listener, error) {
	ua, err := net.ResolveUDPAddr("udp", address)
	if err != nil {
		return nil, err
	}
	pc, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, err
	}
	l := &Listener{ep: newEndpoint(pc, false), cfg: cfg.withDefaults(), closed: make(chan struct{})}
	l.ep.ln = l
	l.acceptQ = make(chan *Conn, l.cfg.AcceptBacklog)
	_, _ = rand.Read(l.secret[:])
	go l.ep.readLoop()
	return l, nil
}

// Accept waits for the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.acceptQ:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops accepting. Accepted connections live on; the socket closes
// with the last of them.
func (l *Listener) Close() error {
	err := net.ErrClosed
	l.once.Do(func() {
		err = nil
		close(l.closed)
		l.ep.mu.Lock()
		l.ep.closing = true
		if len(l.ep.conns) == 0 {
			l.ep.pc.Close()
		}
		l.ep.mu.Unlock()
		for {
			select {
			case c := <-l.acceptQ:
				c.Close()
			default:
				return
			}
		}
	})
	return err
}

func (l *Listener) Addr() net.Addr { return l.ep.pc.LocalAddr() }

// cookieMAC binds a listener CID and a time to the dialer's address and CID.
func (l *Listener) cookieMAC(from netip.AddrPort, h *handshake) [cookieMACLen]byte {
	m := hmac.New(sha256.New, l.secret[:])
	a := from.Addr().As16()
	var b [16 + 2 + 8 + 8 + 4]byte
	copy(b[:], a[:])
	binary.BigEndian.PutUint16(b[16:], from.Port())
	binary.BigEndian.PutUint64(b[18:], h.dialerCID)
	binary.BigEndian.PutUint64(b[26:], h.listenerCID)
	binary.BigEndian.PutUint32(b[34:], h.cookieTime)
	m.Write(b[:])
	var out [cookieMACLen]byte
	copy(out[:], m.Sum(nil))
	return out
}

// answerSYN replies with a SYNACK carrying a cookie; it keeps no state, so
// a flood of SYNs costs no memory.
func (l *Listener) answerSYN(h *handshake, from netip.AddrPort) {
	select {
	case <-l.closed:
		return
	default:
	}
	r := handshake{typ: typeSYNACK, dialerCID: h.dialerCID, listenerCID: randomCID(), cookieTime: uint32(time.Now().Unix())}
	r.cookieMAC = l.cookieMAC(from, &r)
	l.ep.send(appendHandshake(nil, &r), from)
}

// acceptCookie creates the connection for a valid, fresh cookie, or
// re-acknowledges it if it exists already.
func (l *Listener) acceptCookie(h *handshake, from netip.AddrPort) {
	mac := l.cookieMAC(from, h)
	age := time.Now().Unix() - int64(h.cookieTime)
	if !hmac.Equal(mac[:], h.cookieMAC[:]) || age < -1 || age > cookieMaxAge {
		l.ep.dropCookie.Add(1)
		return
	}
	e := l.ep
	e.mu.Lock()
	c := e.conns[h.listenerCID]
	if c == nil {
		if e.closing || len(e.conns) >= l.cfg.MaxConns || len(l.acceptQ) == cap(l.acceptQ) {
			e.mu.Unlock()
			e.dropFull.Add(1)
			return
		}
		c = newConn(e, from, h.listenerCID, h.dialerCID, l.cfg)
		close(c.estab)
		e.conns[c.localCID] = c
		l.acceptQ <- c // room checked above; only the reader sends
		go c.run()
	}
	e.mu.Unlock()
	if c.raddr != from || c.remoteCID != h.dialerCID {
		return
	}
	c.mu.Lock()
	c.sendAckLocked(0, mono())
	c.mu.Unlock()
}
