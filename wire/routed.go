package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Kinds of routed frames. A routed frame body is
//
//	hop u8 | kind u8 | src node str8 | dst node str8 | kind-specific rest
//
// Transit nodes read only hop, src and dst, decrement hop in place and
// pass the same buffer on, so forwarding costs no allocation and no copy.
const (
	// KindDatagram rest: src service str8 | dst service str8 | payload
	KindDatagram byte = 1
	// KindUnreachable rest: original kind u8 | original stream u32 (0 unless a
	// stream kind) | original src service str8 | original dst service str8 |
	// original dst node str8 | problem str16. Sent to the original source by
	// the node that could not deliver or forward (the frame's src).
	KindUnreachable byte = 2
	// KindStreamOpen rest: stream u32 | window u32 | src service str8 | dst service str8
	KindStreamOpen byte = 3
	// KindStreamAccept rest: stream u32 | window u32
	KindStreamAccept byte = 4
	// KindStreamData rest: stream u32 | offset u32 | payload
	KindStreamData byte = 5
	// KindStreamCredit rest: stream u32 | consumed u32 (cumulative bytes the
	// receiver has consumed, wrapping; repeating one is harmless)
	KindStreamCredit byte = 6
	// KindStreamFin rest: stream u32 | final offset u32 (sender finished writing)
	KindStreamFin byte = 7
	// KindStreamReset rest: stream u32 | reason str16 (stream is dead)
	KindStreamReset byte = 8
)

// StreamAcceptorBit is set in the stream ID of every frame sent by the
// accepting end, so that both ends can open streams with the same number
// without confusing them.
const StreamAcceptorBit = 1 << 31

// RoutedHopOffset is the offset of the hop limit in a routed body.
const RoutedHopOffset = 0

// Routed is a parsed routed header. Src, Dst and Rest alias the frame body.
type Routed struct {
	Hop  uint8
	Kind uint8
	Src  []byte
	Dst  []byte
	Rest []byte
}

// ParseRouted parses the header of a routed frame body without copying.
func ParseRouted(body []byte) (Routed, error) {
	d := decoder{b: body}
	r := Routed{Hop: d.u8(), Kind: d.u8()}
	r.Src = d.take(int(d.u8()))
	r.Dst = d.take(int(d.u8()))
	if d.err != nil {
		return Routed{}, fmt.Errorf("routed header: %w", d.err)
	}
	if len(r.Src) == 0 || len(r.Dst) == 0 {
		return Routed{}, errors.New("routed header: empty node ID")
	}
	if r.Kind < KindDatagram || r.Kind > KindStreamReset {
		return Routed{}, fmt.Errorf("routed header: unknown kind %d", r.Kind)
	}
	r.Rest = d.b
	return r, nil
}

// AppendRouted appends a complete frame header plus routed header for a
// body of restLen more bytes, so callers build a frame in one buffer.
func AppendRouted(b []byte, hop, kind byte, src, dst string, restLen int) []byte {
	b = AppendFrameHeader(b, FrameRouted, 4+len(src)+len(dst)+restLen)
	b = append(b, hop, kind)
	b = appendStr8(b, src)
	return appendStr8(b, dst)
}

// RoutedLen is the length of a whole routed frame (with frame header).
func RoutedLen(src, dst string, restLen int) int {
	return FrameHeaderLen + 4 + len(src) + len(dst) + restLen
}

// Datagram is the rest of a KindDatagram frame.
type Datagram struct {
	SrcService []byte
	DstService []byte
	Payload    []byte
}

// ParseDatagram decodes the rest of a datagram frame (aliasing it).
func ParseDatagram(rest []byte) (Datagram, error) {
	d := decoder{b: rest}
	dg := Datagram{SrcService: d.take(int(d.u8()))}
	dg.DstService = d.take(int(d.u8()))
	if d.err != nil {
		return Datagram{}, fmt.Errorf("datagram: %w", d.err)
	}
	dg.Payload = d.b
	return dg, nil
}

// DatagramRestLen is the rest length of a datagram frame.
func DatagramRestLen(srcSvc, dstSvc string, payloadLen int) int {
	return 2 + len(srcSvc) + len(dstSvc) + payloadLen
}

// AppendDatagramRest appends the services of a datagram; the payload follows.
func AppendDatagramRest(b []byte, srcSvc, dstSvc string) []byte {
	return appendStr8(appendStr8(b, srcSvc), dstSvc)
}

// Unreachable is the rest of a KindUnreachable frame.
type Unreachable struct {
	Kind       uint8  // kind of the frame that could not be delivered
	StreamID   uint32 // its stream ID, for stream kinds
	SrcService string // its services, for datagrams
	DstService string
	DstNode    string
	Problem    string
}

// Marshal encodes the rest of an unreachable frame.
func (u *Unreachable) Marshal() []byte {
	b := binary.BigEndian.AppendUint32([]byte{u.Kind}, u.StreamID)
	b = appendStr8(b, u.SrcService)
	b = appendStr8(b, u.DstService)
	b = appendStr8(b, u.DstNode)
	return appendStr16(b, u.Problem)
}

// ParseUnreachable decodes the rest of an unreachable frame.
func ParseUnreachable(rest []byte) (Unreachable, error) {
	d := decoder{b: rest}
	u := Unreachable{Kind: d.u8(), StreamID: d.u32()}
	u.SrcService, u.DstService, u.DstNode, u.Problem = d.str8(), d.str8(), d.str8(), d.str16()
	if err := d.finish(); err != nil {
		return Unreachable{}, fmt.Errorf("unreachable: %w", err)
	}
	return u, nil
}

// StreamFrame is the rest of any stream kind. Which fields are meaningful
// depends on the kind (see the Kind constants).
type StreamFrame struct {
	ID         uint32
	Value      uint32 // window, offset or credit
	SrcService string // open only
	DstService string // open only
	Reason     string // reset only
	Payload    []byte // data only; aliases the frame
}

// ParseStreamFrame decodes the rest of a stream frame of the given kind.
func ParseStreamFrame(kind byte, rest []byte) (StreamFrame, error) {
	d := decoder{b: rest}
	f := StreamFrame{ID: d.u32()}
	switch kind {
	case KindStreamOpen:
		f.Value = d.u32()
		f.SrcService = d.str8()
		f.DstService = d.str8()
	case KindStreamAccept, KindStreamCredit, KindStreamFin:
		f.Value = d.u32()
	case KindStreamData:
		f.Value = d.u32()
		f.Payload = d.b
		d.b = nil
	case KindStreamReset:
		f.Reason = d.str16()
	default:
		return StreamFrame{}, fmt.Errorf("stream frame: kind %d is not a stream kind", kind)
	}
	if err := d.finish(); err != nil {
		return StreamFrame{}, fmt.Errorf("stream frame: %w", err)
	}
	return f, nil
}

// AppendStreamRest appends the fixed part of a stream frame's rest. For
// data frames the payload follows; for open and reset the strings are added.
func AppendStreamRest(b []byte, kind byte, f *StreamFrame) []byte {
	b = binary.BigEndian.AppendUint32(b, f.ID)
	switch kind {
	case KindStreamOpen:
		b = binary.BigEndian.AppendUint32(b, f.Value)
		b = appendStr8(b, f.SrcService)
		b = appendStr8(b, f.DstService)
	case KindStreamAccept, KindStreamCredit, KindStreamFin, KindStreamData:
		b = binary.BigEndian.AppendUint32(b, f.Value)
	case KindStreamReset:
		b = appendStr16(b, f.Reason)
	}
	return b
}

// StreamRestLen is the length of the rest AppendStreamRest writes, plus
// the payload for data frames.
func StreamRestLen(kind byte, f *StreamFrame) int {
	switch kind {
	case KindStreamOpen:
		return 8 + 2 + len(f.SrcService) + len(f.DstService)
	case KindStreamReset:
		return 4 + 2 + len(f.Reason)
	case KindStreamData:
		return 8 + len(f.Payload)
	case KindStreamAccept, KindStreamCredit, KindStreamFin:
		return 8
	}
	return 4 // not a stream kind: AppendStreamRest writes the ID only
}
