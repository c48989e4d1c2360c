package udplink

import "time"

// flushLocked sends what the windows allow: lost segments first, then new
// ones; and an ack if one is due and no segment carried it.
func (c *Conn) flushLocked(now time.Duration) {
	if c.err != nil || c.remoteCID == 0 {
		return
	}
	for c.pipe < c.cwnd {
		if c.lostN > 0 {
			c.retransmitLostLocked(now)
			continue
		}
		i := int(c.sndNxt - c.sndUna)
		if i >= len(c.sndQ) || !seqLess(c.sndNxt, c.sndUna+c.peerWnd) {
			break
		}
		c.sndNxt++
		c.transmitLocked(c.sndQ[i], c.sndNxt-1, now)
	}
	if c.forceAck || c.ackPending >= ackEvery {
		c.sendAckLocked(0, now)
	} else if c.ackPending > 0 && c.ackAt == 0 {
		c.ackAt = now + ackDelay
		c.kickLocked(c.ackAt)
	}
	c.sendBatchLocked()
}

func (c *Conn) retransmitLostLocked(now time.Duration) {
	for seq := c.lostHint; ; seq++ {
		if seqLess(seq, c.sndUna) {
			seq = c.sndUna
		}
		i := int(seq - c.sndUna)
		if !seqLess(seq, c.sndNxt) || i >= len(c.sndQ) {
			c.lostN = 0 // accounting slipped: nothing is lost
			return
		}
		if s := c.sndQ[i]; s.lost {
			c.lostHint = seq + 1
			c.transmitLocked(s, seq, now)
			return
		}
	}
}

// transmitLocked sends segment s (sequence number seq), with the current
// ack state piggybacked.
func (c *Conn) transmitLocked(s *sendSeg, seq uint32, now time.Duration) {
	flags := byte(flagData)
	if s.fin {
		flags = flagFIN
	}
	if s.lost {
		s.lost = false
		c.lostN--
	}
	s.acked = false
	s.sentAt = now
	s.xmits++
	c.stats.Segments++
	if s.xmits > 1 {
		c.stats.Retransmits++
	}
	s.dups = 0
	c.pipe++
	c.writeSegmentLocked(flags, seq, s.data, maxSACKData, now)
	if c.rtoAt == 0 {
		c.rtoAt = now + c.rto
		c.kickLocked(c.rtoAt)
	}
}

// sendAckLocked sends a segment without data (and any batch before it).
func (c *Conn) sendAckLocked(flags byte, now time.Duration) {
	c.writeSegmentLocked(flags, c.sndNxt, nil, maxSACKAck, now)
	c.sendBatchLocked()
}

// Outgoing datagrams collect in a batch of equal-size datagrams (the last
// may be shorter) that leaves in one system call where the kernel offers
// segmentation offload.
const (
	maxBatchSegs  = 48
	maxBatchBytes = maxBatchSegs * maxDatagram
)

func (c *Conn) sendBatchLocked() {
	if c.batchN > 0 {
		c.ep.sendBatch(c.batch, c.batchSeg, c.raddr)
		c.batch, c.batchN = c.batch[:0], 0
	}
}

func (c *Conn) writeSegmentLocked(flags byte, seq uint32, data []byte, maxSACK int, now time.Duration) {
	wnd := c.windowLocked()
	sack := c.sackLocked()
	if len(sack) > maxSACK {
		sack = sack[:maxSACK]
	}
	size := segHeader + 8*len(sack) + len(data)
	if c.batchN > 0 && (size > c.batchSeg || c.batchN == maxBatchSegs) {
		c.sendBatchLocked()
	}
	c.batch = appendSegment(c.batch, flags, c.remoteCID, seq, c.rcvNxt, wnd, sack)
	c.batch = append(c.batch, data...)
	if c.batchN == 0 {
		c.batchSeg = size
	}
	c.batchN++
	if size < c.batchSeg {
		c.sendBatchLocked() // a shorter datagram can only end a batch
	}
	c.ackPending, c.ackAt, c.forceAck = 0, 0, false
	c.advEdge = c.rcvNxt + wnd
	c.lastSend = now
}

// windowLocked is the receive window to advertise, in segments.
func (c *Conn) windowLocked() uint32 {
	return uint32(max(len(c.rcvBuf)-len(c.ready), 0))
}

// sackLocked returns the ranges of out-of-order segments held.
func (c *Conn) sackLocked() []sackRange {
	if !c.sackDirty {
		return c.sackCache
	}
	c.sackDirty = false
	c.sackCache = c.sackCache[:0]
	w := uint32(len(c.rcvBuf))
	in := false
	for seq := c.rcvNxt + 1; seqLess(seq, c.rcvMax); seq++ {
		have := c.rcvBuf[seq%w] != nil
		switch {
		case have && !in:
			if len(c.sackCache) == maxSACKAck {
				return c.sackCache
			}
			c.sackCache = append(c.sackCache, sackRange{seq, seq + 1})
			in = true
		case have:
			c.sackCache[len(c.sackCache)-1].end = seq + 1
		default:
			in = false
		}
	}
	return c.sackCache
}

// onAckLocked processes the ack fields of a segment from the peer.
func (c *Conn) onAckLocked(s *segment, now time.Duration) {
	ack := s.ack
	sent := c.sndNxt - c.sndUna
	if ackOff := ack - c.sndUna; ackOff > sent {
		// An ack for data never sent is forged or garbled: ignore the
		// segment's ack fields. One from before sndUna is reordered:
		// it moves nothing, but its SACKs are still true.
		if int32(ackOff) > 0 {
			return
		}
		ack = c.sndUna
	} else {
		c.peerWnd = min(s.window, uint32(c.cfg.SendBuffer))
	}
	var newest time.Duration = -1 // send time of the latest-sent segment newly acked
	var rtt time.Duration = -1
	top := c.sndUna // one past the highest seq newly acked
	mark := func(seg *sendSeg, seq uint32) {
		if seg.acked {
			return
		}
		seg.acked = true
		if seg.lost {
			c.lostN--
			seg.lost = false
		} else {
			c.pipe--
		}
		if seg.sentAt > newest {
			newest = seg.sentAt
			if seg.xmits == 1 {
				rtt = now - seg.sentAt
			}
		}
		if seqLess(top, seq+1) {
			top = seq + 1
		}
		if seg.fin {
			c.finAcked = true
		}
	}
	for i := 0; i < s.nsack; i++ {
		r := s.sack[i]
		so, eo := r.start-c.sndUna, r.end-c.sndUna // offsets into sndQ
		if int32(so) < 0 {
			so = 0
		}
		if int32(eo) <= 0 || so >= sent {
			continue
		}
		for off := so; off < min(eo, sent); off++ {
			mark(c.sndQ[off], c.sndUna+off)
		}
	}
	acked := 0
	for c.sndUna != ack {
		seg := c.sndQ[0]
		mark(seg, c.sndUna)
		putBuf(seg.data)
		c.sndQ[0] = nil
		c.sndQ = c.sndQ[1:]
		c.sndUna++
		acked++
	}
	if len(c.sndQ) == 0 {
		c.sndQ = nil
	}
	if acked > 0 {
		notify(&c.wrWait)
	}
	if newest < 0 {
		return
	}
	if rtt >= 0 {
		c.sampleRTTLocked(rtt)
	}
	c.detectLossLocked(newest, top, now)
	c.growWindowLocked(acked)
	if c.recovery && seqLEQ(c.recover, c.sndUna) {
		c.recovery = false
	}
	if c.pipe+c.lostN > 0 || int(c.sndNxt-c.sndUna) < len(c.sndQ) {
		c.rtoAt = now + c.rto // outstanding data, or queued data to probe the window for
	} else {
		c.rtoAt = 0
	}
}

// detectLossLocked marks lost every segment sent before newest (the send
// time of the latest segment just acked) that has now seen three such
// acks ("three duplicate SACKs") and has been out longer than the
// reordering allowance, so that the lossy relay's reordering does not
// cause spurious retransmissions.
func (c *Conn) detectLossLocked(newest time.Duration, top uint32, now time.Duration) {
	allow := c.srtt + max(2*c.rttvar, c.minRTT/4, time.Millisecond)
	for seq := c.sndUna; seqLess(seq, top); seq++ {
		s := c.sndQ[seq-c.sndUna]
		if s.acked || s.lost || s.sentAt >= newest {
			continue
		}
		s.dups++
		if s.dups >= 3 && now-s.sentAt >= allow {
			s.lost = true
			c.pipe--
			c.lostN++
			if seqLess(seq, c.lostHint) {
				c.lostHint = seq
			}
			c.onLossLocked()
		}
	}
}

// onLossLocked halves the window once per recovery episode, never below
// the floor.
func (c *Conn) onLossLocked() {
	if c.recovery {
		return
	}
	c.recovery = true
	c.recover = c.sndNxt
	c.ssthresh = max(c.cwnd/2, c.cfg.MinWindow)
	c.cwnd = c.ssthresh
	c.cwndAcc = 0
}

// growWindowLocked: slow start below ssthresh, then one segment per window.
func (c *Conn) growWindowLocked(acked int) {
	if c.recovery || acked == 0 {
		return
	}
	if c.cwnd < c.ssthresh {
		c.cwnd = min(c.cwnd+acked, c.cfg.MaxWindow)
		return
	}
	c.cwndAcc += acked
	if c.cwndAcc >= c.cwnd {
		c.cwndAcc -= c.cwnd
		c.cwnd = min(c.cwnd+1, c.cfg.MaxWindow)
	}
}

// sampleRTTLocked updates the estimators as RFC 6298 says.
func (c *Conn) sampleRTTLocked(r time.Duration) {
	if c.minRTT == 0 || r < c.minRTT {
		c.minRTT = max(r, 1)
	}
	if c.srtt == 0 {
		c.srtt, c.rttvar = r, r/2
	} else {
		d := c.srtt - r
		if d < 0 {
			d = -d
		}
		c.rttvar = (3*c.rttvar + d) / 4
		c.srtt = (7*c.srtt + r) / 8
	}
	c.rto = min(max(c.srtt+max(4*c.rttvar, time.Millisecond), minRTO), maxRTO)
}

// onRTOLocked handles an expired retransmission timer: every outstanding
// segment is presumed lost, the window falls to its floor and the timer
// backs off. With nothing outstanding but data held back by a closed peer
// window, it probes the window instead.
func (c *Conn) onRTOLocked(now time.Duration) {
	c.rto = min(2*c.rto, maxRTO)
	c.rtoAt = now + c.rto
	if c.pipe > 0 {
		c.stats.Timeouts++
		for i, s := range c.sndQ[:c.sndNxt-c.sndUna] {
			if !s.acked && !s.lost {
				s.lost = true
				c.lostN++
				if seq := c.sndUna + uint32(i); seqLess(seq, c.lostHint) {
					c.lostHint = seq
				}
			}
		}
		c.pipe = 0
		c.ssthresh = max(c.cwnd/2, c.cfg.MinWindow)
		c.cwnd = c.cfg.MinWindow
		c.recovery = true
		c.recover = c.sndNxt
		c.flushLocked(now)
		return
	}
	if c.lostN > 0 {
		c.flushLocked(now)
		return
	}
	if int(c.sndNxt-c.sndUna) < len(c.sndQ) {
		c.sendAckLocked(flagPing, now) // window probe
		return
	}
	c.rtoAt = 0
}
