package udplink

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// ErrIdle is returned once nothing has been heard from the peer for the
// idle timeout. It is a net.Error whose Timeout() is true.
var ErrIdle error = idleError{}

// ErrReset is returned once the peer has reset the connection.
var ErrReset = errors.New("udplink: connection reset by peer")

type idleError struct{}

func (idleError) Error() string {
	return "udplink: peer idle: nothing received within the idle timeout"
}
func (idleError) Timeout() bool   { return true }
func (idleError) Temporary() bool { return false }

// epoch anchors the monotonic clock used for all protocol times.
var epoch = time.Now()

func mono() time.Duration { return time.Since(epoch) }

// sendSeg is one segment of the send queue.
type sendSeg struct {
	data   []byte // cap mss; empty for FIN
	fin    bool
	sentAt time.Duration
	xmits  int
	dups   int // acks of later-sent segments seen since this one was sent
	acked  bool
	lost   bool
}

// Conn is one reliable, ordered byte stream over UDP. It implements
// net.Conn and CloseWrite.
type Conn struct {
	ep         *endpoint
	raddr      netip.AddrPort
	localCID   uint64
	cfg        Config
	kick       chan struct{} // wakes the timer loop; cap 1
	done       chan struct{} // closed when the connection is torn down
	estab      chan struct{} // dialer: closed at the first SEG from the listener
	synack     chan handshake
	rdDL, wrDL deadline

	mu        sync.Mutex
	remoteCID uint64
	pkt       []byte // RST being built
	batch     []byte // datagrams waiting to be sent together
	batchSeg  int    // size of each datagram in batch
	batchN    int
	// send side
	sndQ     []*sendSeg // sndQ[i] has seq sndUna+i
	sndUna   uint32     // oldest unacknowledged seq (the peer's cumulative ack)
	sndNxt   uint32     // next seq never sent
	peerWnd  uint32     // segments the peer accepts from sndUna on
	pipe     int        // segments sent, not acked, not lost
	lostN    int        // segments marked lost, not yet retransmitted
	lostHint uint32     // no lost segment below this seq
	cwnd     int
	cwndAcc  int
	ssthresh int
	recovery bool
	recover  uint32 // recovery ends once sndUna passes it
	srtt     time.Duration
	rttvar   time.Duration
	minRTT   time.Duration
	rto      time.Duration
	rtoAt    time.Duration // 0: not armed
	finQ     bool          // FIN queued (CloseWrite or Close)
	finAcked bool
	// receive side
	rcvNxt     uint32
	rcvBuf     [][]byte // ring by seq % len: out-of-order segments
	rcvMax     uint32   // one past the highest seq held
	sackDirty  bool
	sackCache  []sackRange
	ready      [][]byte // in-order data not yet read
	readyOff   int
	eof        bool // the peer's FIN has been delivered
	ackPending int
	ackAt      time.Duration // 0: no delayed ack
	forceAck   bool
	advEdge    uint32 // rcvNxt + window as last advertised
	// liveness and state
	lastRecv time.Duration
	lastSend time.Duration
	wakeAt   time.Duration
	closed   bool // Close called
	closeAt  time.Duration
	err      error // permanent: reset, idle, or torn down
	rdWait   chan struct{}
	wrWait   chan struct{}
	stats    Stats
}

// Stats describes a connection's sender.
type Stats struct {
	SRTT, RTO   time.Duration
	Window      int    // congestion window, segments
	Segments    uint64 // data and FIN segments sent, retransmissions included
	Retransmits uint64
	Timeouts    uint64 // RTO expiries with data outstanding
}

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.SRTT, s.RTO, s.Window = c.srtt, c.rto, c.cwnd
	return s
}

func newConn(ep *endpoint, raddr netip.AddrPort, localCID, remoteCID uint64, cfg Config) *Conn {
	now := mono()
	return &Conn{
		ep: ep, raddr: raddr, localCID: localCID, remoteCID: remoteCID, cfg: cfg,
		kick: make(chan struct{}, 1), done: make(chan struct{}), estab: make(chan struct{}),
		synack: make(chan handshake, 1),
		rdDL:   makeDeadline(), wrDL: makeDeadline(),
		pkt:  make([]byte, 0, maxDatagram),
		cwnd: cfg.MinWindow, ssthresh: cfg.MaxWindow, rto: initialRTO,
		peerWnd:  uint32(cfg.MinWindow),
		rcvBuf:   make([][]byte, cfg.RecvWindow),
		lastRecv: now, lastSend: now,
	}
}

// Read reads in-order stream data; io.EOF after the peer's FIN.
func (c *Conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.closed {
			return 0, net.ErrClosed
		}
		if len(c.ready) > 0 {
			if len(p) == 0 {
				return 0, nil
			}
			n := c.readLocked(p)
			c.windowUpdateLocked()
			return n, nil
		}
		if c.eof {
			return 0, io.EOF
		}
		if c.err != nil {
			return 0, c.err
		}
		if err := c.waitLocked(&c.rdWait, &c.rdDL); err != nil {
			return 0, err
		}
	}
}

// readLocked copies ready data into p.
func (c *Conn) readLocked(p []byte) int {
	n := 0
	for n < len(p) && len(c.ready) > 0 {
		b := c.ready[0][c.readyOff:]
		k := copy(p[n:], b)
		n += k
		c.readyOff += k
		if k == len(b) {
			putBuf(c.ready[0])
			c.ready[0] = nil
			c.ready = c.ready[1:]
			c.readyOff = 0
		}
	}
	if len(c.ready) == 0 {
		c.ready = nil
	}
	return n
}

// Write queues p for sending; it blocks while the send buffer is full.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for {
		if c.closed {
			return n, net.ErrClosed
		}
		if c.err != nil {
			return n, c.err
		}
		if c.finQ {
			return n, errors.New("udplink: write after CloseWrite")
		}
		if n == len(p) {
			return n, nil
		}
		n += c.queueLocked(p[n:])
		c.flushLocked(mono())
		if n == len(p) {
			return n, nil
		}
		if err := c.waitLocked(&c.wrWait, &c.wrDL); err != nil {
			return n, err
		}
	}
}

// queueLocked appends as much of p to the send queue as fits.
func (c *Conn) queueLocked(p []byte) int {
	n := 0
	unsent := int(c.sndNxt - c.sndUna)
	if l := len(c.sndQ); l > unsent {
		last := c.sndQ[l-1]
		if !last.fin && len(last.data) < mss {
			k := min(mss-len(last.data), len(p))
			last.data = append(last.data, p[:k]...)
			n += k
		}
	}
	for n < len(p) && len(c.sndQ) < c.cfg.SendBuffer {
		k := min(mss, len(p)-n)
		b := getBuf()
		c.sndQ = append(c.sndQ, &sendSeg{data: append(b, p[n:n+k]...)})
		n += k
	}
	return n
}

// waitLocked waits, with c.mu released, for a notification on *ch or the
// deadline.
func (c *Conn) waitLocked(ch *chan struct{}, dl *deadline) error {
	if *ch == nil {
		*ch = make(chan struct{})
	}
	w := *ch
	c.mu.Unlock()
	var err error
	select {
	case <-w:
	case <-dl.wait():
		err = os.ErrDeadlineExceeded
	}
	c.mu.Lock()
	return err
}

func notify(ch *chan struct{}) {
	if *ch != nil {
		close(*ch)
		*ch = nil
	}
}

// CloseWrite sends FIN after the queued data: the peer reads io.EOF.
func (c *Conn) CloseWrite() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	if c.err != nil {
		return c.err
	}
	c.queueFINLocked()
	return nil
}

func (c *Conn) queueFINLocked() {
	if c.finQ {
		return
	}
	c.finQ = true
	c.sndQ = append(c.sndQ, &sendSeg{fin: true})
	c.flushLocked(mono())
	notify(&c.wrWait)
}

// Close sends what is queued and a FIN in the background, and releases
// the connection once the peer has acknowledged them (or gives up after a
// bounded linger). Unread data is discarded.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	c.closed = true
	c.closeAt = mono()
	for _, b := range c.ready {
		putBuf(b)
	}
	c.ready, c.readyOff = nil, 0
	if c.err == nil {
		c.queueFINLocked()
	}
	notify(&c.rdWait)
	notify(&c.wrWait)
	c.kickLocked(0)
	return nil
}

// failLocked records a permanent error and wakes everyone.
func (c *Conn) failLocked(err error) {
	if c.err == nil {
		c.err = err
	}
	for _, s := range c.sndQ {
		putBuf(s.data)
	}
	c.sndQ, c.pipe, c.lostN = nil, 0, 0
	c.sndUna = c.sndNxt
	c.rtoAt = 0
	notify(&c.rdWait)
	notify(&c.wrWait)
	c.kickLocked(0)
}

// kickLocked wakes the timer loop if t is earlier than its next wake-up.
func (c *Conn) kickLocked(t time.Duration) {
	if t < c.wakeAt {
		c.wakeAt = t
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

func (c *Conn) LocalAddr() net.Addr  { return c.ep.pc.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(c.raddr) }

func (c *Conn) SetDeadline(t time.Time) error {
	c.rdDL.set(t)
	c.wrDL.set(t)
	return nil
}
func (c *Conn) SetReadDeadline(t time.Time) error  { c.rdDL.set(t); return nil }
func (c *Conn) SetWriteDeadline(t time.Time) error { c.wrDL.set(t); return nil }

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, mss); return &b }}

func getBuf() []byte { return (*bufPool.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if cap(b) != mss {
		return
	}
	b = b[:0]
	bufPool.Put(&b)
}
