package udplink

import "time"

// finMark stands for the FIN in the receive ring.
var finMark = []byte{}

// handleSegment processes one SEG from the peer (called by the endpoint's
// reader; s.data aliases its buffer). The reader calls flush after a run
// of segments.
func (c *Conn) handleSegment(s *segment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	now := mono()
	c.lastRecv = now
	select {
	case <-c.estab:
	default:
		close(c.estab)
	}
	c.onAckLocked(s, now)
	if s.flags&(flagData|flagFIN) != 0 {
		c.receiveLocked(s)
	}
	if s.flags&flagPing != 0 {
		c.forceAck = true
	}
}

// flush sends what the segments just handled allow or require.
func (c *Conn) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushLocked(mono())
}

// receiveLocked stores a data or FIN segment and delivers what is in order.
func (c *Conn) receiveLocked(s *segment) {
	w := uint32(len(c.rcvBuf))
	off := s.seq - c.rcvNxt
	if c.eof || int32(off) < 0 || off >= c.windowLocked() || c.rcvBuf[s.seq%w] != nil {
		c.forceAck = true // duplicate or outside the window: tell the peer where we are
		return
	}
	b := finMark
	if s.flags&flagFIN == 0 {
		b = append(getBuf(), s.data...)
	}
	c.rcvBuf[s.seq%w] = b
	if seqLess(c.rcvMax, s.seq+1) {
		c.rcvMax = s.seq + 1
	}
	if off != 0 {
		c.sackDirty = true
		c.forceAck = true // out of order: ack at once so the sender sees the gap
		return
	}
	filled := false
	for {
		slot := c.rcvNxt % w
		b := c.rcvBuf[slot]
		if b == nil {
			break
		}
		c.rcvBuf[slot] = nil
		c.rcvNxt++
		if len(b) == 0 {
			c.eof = true
			c.forceAck = true
			break
		}
		if c.closed {
			putBuf(b)
		} else {
			c.ready = append(c.ready, b)
		}
		if c.rcvNxt != s.seq+1 {
			filled = true
		}
	}
	if seqLess(c.rcvMax, c.rcvNxt) {
		c.rcvMax = c.rcvNxt
	}
	if filled || c.rcvMax != c.rcvNxt {
		c.sackDirty = true
		c.forceAck = true
	}
	c.ackPending++
	notify(&c.rdWait)
}

// windowUpdateLocked sends an ack when reading has opened the window by a
// quarter or more since it was last advertised.
func (c *Conn) windowUpdateLocked() {
	if edge := c.rcvNxt + c.windowLocked(); int32(edge-c.advEdge) >= int32(len(c.rcvBuf)/4) {
		c.sendAckLocked(0, mono())
	}
}

// handleRST processes an RST from the peer.
func (c *Conn) handleRST() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.failLocked(ErrReset)
	}
}

// run drives the timers until the connection is torn down.
func (c *Conn) run() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		c.mu.Lock()
		now := mono()
		next, alive := c.timersLocked(now)
		c.wakeAt = next
		c.mu.Unlock()
		if !alive {
			c.teardown()
			return
		}
		t.Reset(next - now)
		select {
		case <-t.C:
		case <-c.kick:
		}
	}
}

// timersLocked fires what is due and returns when to look again, or
// false once the connection should be torn down.
func (c *Conn) timersLocked(now time.Duration) (time.Duration, bool) {
	if c.err != nil {
		return 0, false
	}
	if now-c.lastRecv >= c.cfg.IdleTimeout {
		c.failLocked(ErrIdle)
		return 0, false
	}
	if c.closed {
		if (c.finAcked && (c.eof || now-c.closeAt >= lingerAfter)) || now-c.closeAt >= maxLinger {
			if !c.finAcked || !c.eof {
				c.ep.send(appendRST(c.pkt[:0], c.remoteCID), c.raddr)
			}
			c.failLocked(netErrClosed)
			return 0, false
		}
	}
	if c.rtoAt != 0 && now >= c.rtoAt {
		c.onRTOLocked(now)
	}
	if c.ackAt != 0 && now >= c.ackAt {
		c.sendAckLocked(0, now)
	}
	if now-c.lastSend >= c.cfg.KeepaliveInterval {
		c.sendAckLocked(0, now)
	}
	next := min(c.lastRecv+c.cfg.IdleTimeout, c.lastSend+c.cfg.KeepaliveInterval)
	for _, t := range []time.Duration{c.rtoAt, c.ackAt} {
		if t != 0 {
			next = min(next, t)
		}
	}
	if c.closed {
		next = min(next, c.closeAt+maxLinger)
		if c.finAcked {
			next = min(next, c.closeAt+lingerAfter)
		}
	}
	return max(next, now+time.Millisecond/2), true
}

// teardown releases the connection after its last packet.
func (c *Conn) teardown() {
	c.ep.remove(c)
	c.mu.Lock()
	for i, b := range c.rcvBuf {
		if len(b) > 0 {
			putBuf(b)
		}
		c.rcvBuf[i] = nil
	}
	c.mu.Unlock()
	close(c.done)
}
