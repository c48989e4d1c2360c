package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// errShort is returned by decoders on truncated input.
var errShort = errors.New("truncated message")

// decoder reads big-endian fields from a byte slice and remembers the
// first error, so codecs can read a whole message and check once.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.err = errShort
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() uint8 {
	v := d.take(1)
	if v == nil {
		return 0
	}
	return v[0]
}

func (d *decoder) u16() uint16 {
	v := d.take(2)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

func (d *decoder) u32() uint32 {
	v := d.take(4)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func (d *decoder) u64() uint64 {
	v := d.take(8)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// cost reads a link cost and rejects values that would break Dijkstra.
func (d *decoder) cost() float64 {
	c := math.Float64frombits(d.u64())
	if d.err == nil && !ValidCost(c) {
		d.err = fmt.Errorf("invalid cost %v", c)
	}
	return c
}

// str8 reads a string with a one-byte length prefix.
func (d *decoder) str8() string { return string(d.take(int(d.u8()))) }

// str16 reads a string with a two-byte length prefix.
func (d *decoder) str16() string { return string(d.take(int(d.u16()))) }

// finish reports the first error, or trailing garbage.
func (d *decoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		return fmt.Errorf("%d bytes of trailing garbage", len(d.b))
	}
	return d.err
}

func appendStr8(dst []byte, s string) []byte {
	return append(append(dst, byte(len(s))), s...)
}

func appendStr16(dst []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint16(dst, uint16(len(s))), s...)
}

func appendCost(dst []byte, c float64) []byte {
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(c))
}

// ValidCost reports whether c can be a link cost: finite and positive.
func ValidCost(c float64) bool { return c > 0 && !math.IsInf(c, 0) && !math.IsNaN(c) }

// MaxNameLen bounds node IDs and service names on the wire.
const MaxNameLen = 255

// CheckName validates a node ID or service name for the wire.
func CheckName(kind, s string) error {
	if s == "" {
		return fmt.Errorf("empty %s", kind)
	}
	if len(s) > MaxNameLen {
		return fmt.Errorf("%s %.20q... is longer than %d bytes", kind, s, MaxNameLen)
	}
	return nil
}
