package mesh

import (
	"meshd/wire"
)

// deliverStream handles a stream frame addressed to this node. It owns
// frame.
func (n *Node) deliverStream(r wire.Routed, frame *wire.Buf) {
	f, err := wire.ParseStreamFrame(r.Kind, r.Rest)
	if err != nil {
		wire.PutBuf(frame)
		return
	}
	src := string(r.Src)
	if r.Kind == wire.KindStreamOpen {
		wire.PutBuf(frame)
		n.acceptStream(src, f)
		return
	}
	s := n.streams.lookupRecv(src, f.ID)
	if s == nil {
		// Data or an accept for a stream we do not have: tell the sender so
		// it stops. Credits and FINs for a finished stream are harmless
		// stragglers and get no answer (answering resets would race them).
		if r.Kind == wire.KindStreamData || r.Kind == wire.KindStreamAccept {
			n.refuseStream(src, f.ID, "unknown stream")
		}
		wire.PutBuf(frame)
		return
	}
	if r.Kind == wire.KindStreamData {
		s.receiveData(f, frame)
		return
	}
	wire.PutBuf(frame)
	switch r.Kind {
	case wire.KindStreamAccept:
		s.accepted(f.Value)
	case wire.KindStreamCredit:
		s.addCredit(f.Value)
	case wire.KindStreamFin:
		s.receiveFin(f.Value)
	case wire.KindStreamReset:
		s.reset(f.Reason, false)
	}
}

// refuseStream answers a frame for a stream we do not have with a reset,
// addressed so that the sender finds its stream.
func (n *Node) refuseStream(src string, wireID uint32, reason string) {
	s := newStream(n, streamKey{src, wireID ^ acceptorBit}, Addr{}, Addr{Node: src})
	_ = s.sendFrame(wire.KindStreamReset, &wire.StreamFrame{ID: s.key.id, Reason: reason})
}

// acceptStream handles an open request from src.
func (n *Node) acceptStream(src string, f wire.StreamFrame) {
	if f.ID&acceptorBit != 0 {
		return // malformed: openers never set the acceptor bit
	}
	svc := n.lookupService(f.DstService)
	if svc == nil || svc.sl == nil {
		n.stats.serviceUnknown.Add(1)
		n.refuseStream(src, f.ID, problemServiceUnknown)
		return
	}
	key := streamKey{src, f.ID | acceptorBit}
	s := newStream(n, key, Addr{n.id, f.DstService}, Addr{src, f.SrcService})
	s.peerWindow = f.Value
	if err := n.streams.add(s); err != nil {
		if err.Error() != "duplicate stream" {
			n.refuseStream(src, f.ID, err.Error())
		}
		return
	}
	if !svc.sl.enqueue(s) {
		n.streams.remove(s)
		n.refuseStream(src, f.ID, "service is not accepting streams")
		return
	}
	if err := s.sendFrame(wire.KindStreamAccept, &wire.StreamFrame{ID: key.id, Value: streamWindow}); err != nil {
		s.reset(err.Error(), false) // no way back to the dialer yet
	}
}

func (s *Stream) accepted(window uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.acceptCh == nil {
		return
	}
	s.peerWindow = window
	select {
	case s.acceptCh <- nil:
	default:
	}
	s.acceptCh = nil
}

// addCredit takes the peer's cumulative consumed count; an older or
// repeated one changes nothing.
func (s *Stream) addCredit(consumed uint32) {
	s.mu.Lock()
	if int32(consumed-s.acked) > 0 {
		s.acked = consumed
		wake(s.wrWake)
	}
	s.mu.Unlock()
}

// receiveData queues a data frame (zero-copy: the frame buffer itself is
// queued). Data out of order or beyond the window means the peer or the
// path is broken: the stream is reset.
func (s *Stream) receiveData(f wire.StreamFrame, frame *wire.Buf) {
	s.mu.Lock()
	switch {
	case f.Value != s.recvOff:
		s.mu.Unlock()
		wire.PutBuf(frame)
		s.reset("stream data lost in transit", true)
		return
	case s.readClosed:
		// Nobody reads any more: discard, but keep the sender moving.
		s.recvOff += uint32(len(f.Payload))
		credit, send := s.creditDueLocked(true)
		s.mu.Unlock()
		wire.PutBuf(frame)
		if send {
			s.sendCredit(credit)
		}
		return
	case s.rqBytes+len(f.Payload) > streamWindow:
		s.mu.Unlock()
		wire.PutBuf(frame)
		s.reset("flow control window exceeded", true)
		return
	}
	s.recvOff += uint32(len(f.Payload))
	s.queueLocked(frame, f.Payload)
	wake(s.rdWake)
	s.mu.Unlock()
}

// smallPayload is the size below which received data is copied into a
// shared chunk instead of keeping its frame buffer: the window counts
// payload bytes, and a peer sending one-byte frames must not make us hold
// a pooled buffer per byte.
const smallPayload = 1024

// queueLocked appends received data to the read queue; it owns frame.
func (s *Stream) queueLocked(frame *wire.Buf, payload []byte) {
	s.rqBytes += len(payload)
	if len(payload) > smallPayload {
		s.rq = append(s.rq, rchunk{buf: frame, data: payload})
		return
	}
	if n := len(s.rq); n > 0 {
		last := &s.rq[n-1]
		if last.small && len(last.buf.B)+len(payload) <= cap(last.buf.B) {
			last.buf.B = append(last.buf.B, payload...)
			last.data = last.data[:len(last.data)+len(payload)]
			wire.PutBuf(frame)
			return
		}
	}
	b := wire.GetBuf(4 << 10)
	b.B = append(b.B[:0], payload...)
	s.rq = append(s.rq, rchunk{buf: b, data: b.B, small: true})
	wire.PutBuf(frame)
}

func (s *Stream) receiveFin(off uint32) {
	s.mu.Lock()
	if off != s.recvOff {
		s.mu.Unlock()
		s.reset("stream data lost in transit", true)
		return
	}
	s.finRecv = true
	wake(s.rdWake)
	s.mu.Unlock()
	s.maybeRemove()
}
