package mesh

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"meshd/wire"
)

// Stream tuning. The window bounds what a stream may have in flight and
// buffered at the receiver, so a stalled reader costs at most one window
// of memory anywhere on the path.
const (
	streamWindow  = 1 << 20
	streamChunk   = 96 << 10
	acceptBacklog = 128
	streamLinger  = 30 * time.Second
)

// StreamError is a stream that died: reset by the peer, or its path broke.
type StreamError struct{ Reason string }

func (e *StreamError) Error() string { return "stream reset: " + e.Reason }

// Stream is a reliable, ordered, flow-controlled byte stream between two
// services. It implements net.Conn plus CloseWrite (half-close).
type Stream struct {
	n      *Node
	key    streamKey // remote node + the stream ID this end puts on its frames
	local  Addr
	remote Addr

	wmu sync.Mutex // serialises Write and CloseWrite so offsets stay in order

	mu         sync.Mutex
	rq         []rchunk // received, unread data
	rqBytes    int
	recvOff    uint32
	creditSent uint32 // the last cumulative credit sent (see consumedLocked)
	finRecv    bool
	readClosed bool
	peerWindow uint32 // the peer's receive window
	acked      uint32 // the peer's latest cumulative credit: bytes it consumed
	sendOff    uint32
	finSent    bool
	closed     bool
	err        error // reset reason
	removed    bool
	acceptCh   chan error // dialing end only: accept or refusal

	rdWake, wrWake chan struct{}
	rdDeadline     deadline
	wrDeadline     deadline
}

type rchunk struct {
	buf   *wire.Buf
	data  []byte // unread part, aliasing buf.B
	small bool   // buf holds copied small payloads and may grow in place
}

func newStream(n *Node, key streamKey, local, remote Addr) *Stream {
	return &Stream{
		n: n, key: key, local: local, remote: remote,
		rdWake: make(chan struct{}, 1), wrWake: make(chan struct{}, 1),
		rdDeadline: makeDeadline(), wrDeadline: makeDeadline(),
	}
}

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Dial opens a stream to service on node (net.Conn form, for callers that
// only need a connection).
func (n *Node) Dial(ctx context.Context, node, service string) (net.Conn, error) {
	s, err := n.DialStream(ctx, node, service)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// DialStream opens a stream to service on node and waits until the remote
// end accepts it.
func (n *Node) DialStream(ctx context.Context, node, service string) (*Stream, error) {
	node = n.resolve(node)
	if err := wire.CheckName("service name", service); err != nil {
		return nil, err
	}
	if node != n.id && n.nextHop(node) == nil {
		return nil, errNoRoute
	}
	id, err := n.streams.allocID(node)
	if err != nil {
		return nil, err
	}
	s := newStream(n, streamKey{node, id}, Addr{n.id, n.ephemeralName()}, Addr{node, service})
	acceptCh := make(chan error, 1)
	s.acceptCh = acceptCh
	if err := n.streams.add(s); err != nil {
		return nil, err
	}
	open := wire.StreamFrame{ID: id, Value: streamWindow, SrcService: s.local.Service, DstService: service}
	if err := s.sendFrame(wire.KindStreamOpen, &open); err != nil {
		s.reset(err.Error(), false)
		return nil, err
	}
	select {
	case err := <-acceptCh:
		if err != nil {
			return nil, err
		}
		return s, nil
	case <-ctx.Done():
		s.reset("dial abandoned", true)
		return nil, ctx.Err()
	}
}

// sendFrame builds a stream frame and sends it towards the remote node.
func (s *Stream) sendFrame(kind byte, f *wire.StreamFrame) error {
	n := s.n
	restLen := wire.StreamRestLen(kind, f)
	buf := wire.GetBuf(wire.RoutedLen(n.id, s.remote.Node, restLen))
	b := wire.AppendRouted(buf.B[:0], byte(n.cfg.HopLimit), kind, n.id, s.remote.Node, restLen)
	b = wire.AppendStreamRest(b, kind, f)
	if kind == wire.KindStreamData {
		b = append(b, f.Payload...)
	}
	buf.B = b
	return n.originate(buf, s.remote.Node, isCtrlKind(kind))
}

// Read reads received data; it returns io.EOF once the peer half-closed
// and everything before it was read.
func (s *Stream) Read(p []byte) (int, error) {
	for {
		s.mu.Lock()
		if len(s.rq) > 0 {
			n := s.consumeLocked(p)
			credit, send := s.creditDueLocked(false)
			s.mu.Unlock()
			if send {
				s.sendCredit(credit)
			}
			return n, nil
		}
		err := s.readErrLocked()
		// About to wait: make sure the sender knows everything read so far.
		credit, send := s.creditDueLocked(true)
		s.mu.Unlock()
		if err != nil {
			return 0, err
		}
		if send {
			s.sendCredit(credit)
		}
		select {
		case <-s.rdWake:
		case <-s.rdDeadline.wait():
			return 0, errTimeout
		case <-time.After(creditRepeat):
			// Credits are cumulative, so repeating the last one repairs a
			// credit frame lost in transit (a link died under it) that
			// would otherwise leave the sender waiting forever.
			s.mu.Lock()
			credit, repeat := s.consumedLocked(), !s.finRecv && s.err == nil
			s.mu.Unlock()
			if repeat {
				s.sendCredit(credit)
			}
		}
	}
}

// creditRepeat is how often a reader waiting for data repeats its credit.
const creditRepeat = time.Second

// consumedLocked is the cumulative count of bytes this end consumed (read
// or discarded): what it has received minus what still waits unread. It
// is the value of every credit frame, so credits are idempotent.
func (s *Stream) consumedLocked() uint32 { return s.recvOff - uint32(s.rqBytes) }

// creditDueLocked says whether to send a credit now: after a quarter
// window, after a chunk once the queue is empty, or (flush) whenever
// anything is uncredited.
func (s *Stream) creditDueLocked(flush bool) (uint32, bool) {
	if s.finRecv || s.err != nil {
		return 0, false
	}
	c := s.consumedLocked()
	due := c - s.creditSent
	if due >= streamWindow/4 || (len(s.rq) == 0 && due >= streamChunk) || (flush && due > 0) {
		s.creditSent = c
		return c, true
	}
	return 0, false
}

func (s *Stream) sendCredit(consumed uint32) {
	_ = s.sendFrame(wire.KindStreamCredit, &wire.StreamFrame{ID: s.key.id, Value: consumed})
}

// consumeLocked copies buffered data into p.
func (s *Stream) consumeLocked(p []byte) int {
	n := 0
	for n < len(p) && len(s.rq) > 0 {
		c := &s.rq[0]
		k := copy(p[n:], c.data)
		n += k
		c.data = c.data[k:]
		if len(c.data) == 0 {
			wire.PutBuf(c.buf)
			s.rq[0] = rchunk{}
			s.rq = s.rq[1:]
		}
	}
	s.rqBytes -= n
	return n
}

func (s *Stream) readErrLocked() error {
	switch {
	case s.readClosed:
		return net.ErrClosed
	case s.finRecv:
		return io.EOF
	case s.err != nil:
		return s.err
	}
	return nil
}

// Write sends p, blocking while the peer's window is exhausted.
func (s *Stream) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	total := 0
	for len(p) > 0 {
		// Wait for room before claiming offset and credit, so that a
		// deadline or Close here leaves no hole in the stream.
		if err := s.waitLinkSpace(); err != nil {
			return total, err
		}
		s.mu.Lock()
		if err := s.writeErrLocked(); err != nil {
			s.mu.Unlock()
			return total, err
		}
		credit := int64(s.peerWindow) - int64(s.sendOff-s.acked)
		if credit <= 0 {
			s.mu.Unlock()
			if err := s.waitWritable(s.wrWake); err != nil {
				return total, err
			}
			continue
		}
		k := min(int64(len(p)), credit, streamChunk)
		off := s.sendOff
		s.sendOff += uint32(k)
		s.mu.Unlock()
		if err := s.sendFrame(wire.KindStreamData, &wire.StreamFrame{ID: s.key.id, Value: off, Payload: p[:k]}); err != nil {
			s.reset(err.Error(), false)
			return total, s.err
		}
		total += int(k)
		p = p[k:]
	}
	return total, nil
}

// ReadFrom copies r into the stream in full-size chunks, so io.Copy into a
// stream (the control socket's connect bridge) never sends small frames.
func (s *Stream) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, streamChunk)
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			w, werr := s.Write(buf[:n])
			total += int64(w)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (s *Stream) writeErrLocked() error {
	switch {
	case s.err != nil:
		return s.err
	case s.closed, s.finSent:
		return net.ErrClosed
	}
	return nil
}

// waitLinkSpace blocks while the first link towards the peer has a full
// bulk queue: local writers slow down instead of losing data.
func (s *Stream) waitLinkSpace() error {
	for {
		l := s.n.nextHop(s.remote.Node)
		if l == nil {
			return nil
		}
		ch := l.q.waitSpace()
		if ch == nil {
			return nil
		}
		if err := s.waitWritable(ch); err != nil {
			return err
		}
	}
}

func (s *Stream) waitWritable(ch <-chan struct{}) error {
	select {
	case <-ch:
	case <-s.wrWake:
	case <-s.wrDeadline.wait():
		return errTimeout
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeErrLocked()
}

// CloseWrite half-closes: the peer reads EOF after the data sent so far.
func (s *Stream) CloseWrite() error {
	// CloseWrite waits for a Write in progress (Close does not: it makes
	// blocked writers fail first).
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if s.finSent || s.err != nil {
		s.mu.Unlock()
		return nil
	}
	s.finSent = true
	off := s.sendOff
	s.mu.Unlock()
	err := s.sendFrame(wire.KindStreamFin, &wire.StreamFrame{ID: s.key.id, Value: off})
	if err != nil {
		s.reset(err.Error(), true) // a lost FIN would leave the peer reading forever
		return err
	}
	s.maybeRemove()
	return nil
}

// Close half-closes and stops reading. Data the peer still sends is
// discarded (and credited, so it does not block) until it finishes.
func (s *Stream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.wakeAllLocked()
	s.mu.Unlock()
	_ = s.CloseWrite()
	s.mu.Lock()
	s.readClosed = true
	// Unread data is discarded; credit it back so a sender that had
	// filled the window is not left waiting for a reader that is gone.
	s.dropQueueLocked()
	credit, send := s.creditDueLocked(true)
	finRecv := s.finRecv
	s.mu.Unlock()
	if send {
		s.sendCredit(credit)
	}
	if !finRecv {
		time.AfterFunc(streamLinger, func() { s.reset("closed by peer", true) })
	}
	s.maybeRemove()
	return nil
}

func (s *Stream) wakeAllLocked() {
	wake(s.rdWake)
	wake(s.wrWake)
}

func (s *Stream) dropQueueLocked() {
	for _, c := range s.rq {
		wire.PutBuf(c.buf)
	}
	s.rq, s.rqBytes = nil, 0
}

// maybeRemove drops the stream from the table once both directions are
// finished.
func (s *Stream) maybeRemove() {
	s.mu.Lock()
	done := s.err != nil || (s.finSent && (s.finRecv && (s.readClosed || s.rqBytes == 0)))
	s.mu.Unlock()
	if done {
		s.n.streams.remove(s)
	}
}

// reset kills the stream with reason; notify tells the peer.
func (s *Stream) reset(reason string, notify bool) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = &StreamError{Reason: reason}
	s.wakeAllLocked()
	if s.acceptCh != nil {
		select {
		case s.acceptCh <- fmt.Errorf("%s", reason):
		default:
		}
	}
	s.mu.Unlock()
	if notify {
		_ = s.sendFrame(wire.KindStreamReset, &wire.StreamFrame{ID: s.key.id, Reason: reason})
	}
	s.n.streams.remove(s)
}

// LocalAddr implements net.Conn.
func (s *Stream) LocalAddr() net.Addr { return s.local }

// RemoteAddr implements net.Conn.
func (s *Stream) RemoteAddr() net.Addr { return s.remote }

// SetDeadline implements net.Conn.
func (s *Stream) SetDeadline(t time.Time) error {
	s.rdDeadline.set(t)
	s.wrDeadline.set(t)
	return nil
}

// SetReadDeadline implements net.Conn.
func (s *Stream) SetReadDeadline(t time.Time) error { s.rdDeadline.set(t); return nil }

// SetWriteDeadline implements net.Conn.
func (s *Stream) SetWriteDeadline(t time.Time) error { s.wrDeadline.set(t); return nil }
