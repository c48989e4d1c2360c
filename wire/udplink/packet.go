package udplink

import (
	"encoding/binary"
	"errors"
)

// Wire format. Every datagram starts with a type byte; all integers are
// big-endian; no datagram is larger than maxDatagram bytes.
//
//	SYN     dialer → listener: type, version, dialer CID(8), zero padding
//	        up to synSize (so the stateless SYN-ACK is never larger than
//	        the SYN that caused it: no amplification).
//	SYNACK  listener → dialer: type, version, dialer CID(8), listener
//	        CID(8), cookie time(4, unix seconds), cookie MAC(16). The
//	        listener keeps no state for it.
//	COOKIE  dialer → listener: type, version, listener CID(8), dialer
//	        CID(8), cookie time(4), cookie MAC(16): the SYNACK echoed. The
//	        listener creates the connection only for a valid, fresh cookie
//	        from the address it was issued to.
//	SEG     either way: type, flags, destination CID(8), seq(4), cumulative
//	        ack(4), receive window(4), SACK count(1), SACK ranges (count ×
//	        [start(4), end(4)), segment numbers above the cumulative ack),
//	        then data up to the end of the datagram. seq numbers a data or
//	        FIN segment (flagData, flagFIN); a pure ack carries the
//	        sender's next seq and no data.
//	RST     either way: type, 0, destination CID(8): the connection is gone.
const (
	typeSYN    = 1
	typeSYNACK = 2
	typeCOOKIE = 3
	typeSEG    = 4
	typeRST    = 5

	version = 1

	flagData = 1 << 0 // the segment carries data and consumes seq
	flagFIN  = 1 << 1 // the segment ends the sender's stream and consumes seq
	flagPing = 1 << 2 // answer with an ack at once (keepalive probe, window probe)

	maxDatagram  = 1200 // UDP payload bound: fits any path MTU ≥ 1280 unfragmented
	synSize      = 64
	cookieMACLen = 16
	synackSize   = 2 + 8 + 8 + 4 + cookieMACLen
	segHeader    = 2 + 8 + 4 + 4 + 4 + 1
	rstSize      = 2 + 8

	maxSACKData = 8                                       // ranges in a segment that carries data
	maxSACKAck  = 64                                      // ranges in a pure ack
	mss         = maxDatagram - segHeader - 8*maxSACKData // data bytes per segment
)

var errMalformed = errors.New("udplink: malformed packet")

// sackRange is a half-open range [start, end) of received segment numbers.
type sackRange struct{ start, end uint32 }

// segment is a decoded SEG packet. data and sack alias the datagram.
type segment struct {
	flags  byte
	dest   uint64
	seq    uint32
	ack    uint32
	window uint32
	nsack  int
	sack   [maxSACKAck]sackRange
	data   []byte
}

// handshake is a decoded SYN, SYNACK or COOKIE.
type handshake struct {
	typ         byte
	dialerCID   uint64
	listenerCID uint64
	cookieTime  uint32
	cookieMAC   [cookieMACLen]byte
}

// packetType returns the type of a datagram, or 0 for one too short or too
// long to be anything.
func packetType(b []byte) byte {
	if len(b) < 2 || len(b) > maxDatagram {
		return 0
	}
	return b[0]
}

// parseSegment decodes a SEG datagram into s.
func parseSegment(b []byte, s *segment) error {
	if len(b) < segHeader || len(b) > maxDatagram || b[0] != typeSEG {
		return errMalformed
	}
	s.flags = b[1]
	s.dest = binary.BigEndian.Uint64(b[2:])
	s.seq = binary.BigEndian.Uint32(b[10:])
	s.ack = binary.BigEndian.Uint32(b[14:])
	s.window = binary.BigEndian.Uint32(b[18:])
	n := int(b[22])
	b = b[segHeader:]
	if n > maxSACKAck || 8*n > len(b) {
		return errMalformed
	}
	s.nsack = n
	for i := range n {
		r := sackRange{binary.BigEndian.Uint32(b[8*i:]), binary.BigEndian.Uint32(b[8*i+4:])}
		if !seqLess(r.start, r.end) {
			return errMalformed
		}
		s.sack[i] = r
	}
	s.data = b[8*n:]
	if len(s.data) > mss || (len(s.data) > 0) != (s.flags&flagData != 0) {
		return errMalformed
	}
	return nil
}

// appendSegment encodes a SEG header with the given SACK ranges; the
// caller appends the data.
func appendSegment(b []byte, flags byte, dest uint64, seq, ack, window uint32, sack []sackRange) []byte {
	b = append(b, typeSEG, flags)
	b = binary.BigEndian.AppendUint64(b, dest)
	b = binary.BigEndian.AppendUint32(b, seq)
	b = binary.BigEndian.AppendUint32(b, ack)
	b = binary.BigEndian.AppendUint32(b, window)
	b = append(b, byte(len(sack)))
	for _, r := range sack {
		b = binary.BigEndian.AppendUint32(b, r.start)
		b = binary.BigEndian.AppendUint32(b, r.end)
	}
	return b
}

// parseHandshake decodes a SYN, SYNACK or COOKIE datagram.
func parseHandshake(b []byte, h *handshake) error {
	if len(b) < 2 || len(b) > maxDatagram || b[1] != version {
		return errMalformed
	}
	h.typ = b[0]
	switch h.typ {
	case typeSYN:
		if len(b) < synSize {
			return errMalformed
		}
		h.dialerCID = binary.BigEndian.Uint64(b[2:])
		return nil
	case typeSYNACK, typeCOOKIE:
		if len(b) != synackSize {
			return errMalformed
		}
		a, c := binary.BigEndian.Uint64(b[2:]), binary.BigEndian.Uint64(b[10:])
		if h.typ == typeSYNACK {
			h.dialerCID, h.listenerCID = a, c
		} else {
			h.listenerCID, h.dialerCID = a, c
		}
		h.cookieTime = binary.BigEndian.Uint32(b[18:])
		copy(h.cookieMAC[:], b[22:])
		return nil
	}
	return errMalformed
}

// appendHandshake encodes h.
func appendHandshake(b []byte, h *handshake) []byte {
	b = append(b, h.typ, version)
	switch h.typ {
	case typeSYN:
		b = binary.BigEndian.AppendUint64(b, h.dialerCID)
		return append(b, make([]byte, synSize-10)...)
	case typeSYNACK:
		b = binary.BigEndian.AppendUint64(b, h.dialerCID)
		b = binary.BigEndian.AppendUint64(b, h.listenerCID)
	default:
		b = binary.BigEndian.AppendUint64(b, h.listenerCID)
		b = binary.BigEndian.AppendUint64(b, h.dialerCID)
	}
	b = binary.BigEndian.AppendUint32(b, h.cookieTime)
	return append(b, h.cookieMAC[:]...)
}

// parseRST returns the destination CID of an RST datagram.
func parseRST(b []byte) (uint64, error) {
	if len(b) != rstSize || b[0] != typeRST {
		return 0, errMalformed
	}
	return binary.BigEndian.Uint64(b[2:]), nil
}

func appendRST(b []byte, dest uint64) []byte {
	b = append(b, typeRST, 0)
	return binary.BigEndian.AppendUint64(b, dest)
}

// Sequence numbers wrap: compare them in serial-number arithmetic.
func seqLess(a, b uint32) bool { return int32(a-b) < 0 }
func seqLEQ(a, b uint32) bool  { return int32(a-b) <= 0 }
