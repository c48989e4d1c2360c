package wire

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// lsaContext separates LSA signatures from any other use of a node key.
const lsaContext = "meshd-lsa-v1\x00"

// Bounds on an LSA, so that a decoder never allocates without limit.
const (
	MaxNeighbors    = 1024
	MaxServices     = 256
	MaxTags         = 32
	MaxWorkCommands = 256
	maxTagValue     = 4096
)

// LSA is a link-state advertisement: everything one node tells the mesh
// about itself, signed with its identity key so no other node can forge it.
//
// Body:
//
//	version u8 (=1)
//	origin  str8
//	pubkey  [32]byte            Ed25519 key of the origin
//	seq     u64                 strictly increasing per origin, across restarts
//	time    i64                 origin's clock, Unix nanoseconds
//	n u16, n × (neighbour str8, cost float64)
//	m u16, m × Service
//	sig     [64]byte            Ed25519 over lsaContext || all bytes before sig
//
// Service:
//
//	name str8 | conntype u8 | t u8, t × (key str8, value str16)
//	| w u16, w × (worktype str8, secure u8)
type LSA struct {
	Origin    string
	PublicKey ed25519.PublicKey
	Seq       uint64
	Time      int64
	Neighbors []Neighbor
	Services  []ServiceAd
}

// Neighbor is one link of the origin and its cost.
type Neighbor struct {
	NodeID string
	Cost   float64
}

// ServiceAd is one service the origin offers.
type ServiceAd struct {
	Name         string
	ConnType     uint8
	Tags         map[string]string
	WorkCommands []WorkCommandAd
}

// WorkCommandAd is a work type offered by a control service.
type WorkCommandAd struct {
	WorkType string
	Secure   bool
}

const lsaVersion = 1

// MarshalSigned encodes l and signs it with key (which must belong to
// l.PublicKey). Tags are written in sorted order so equal LSAs encode equally.
func (l *LSA) MarshalSigned(key ed25519.PrivateKey) ([]byte, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	// ed25519.Sign panics on a malformed key, and a key that is not the
	// carried one yields an LSA every receiver rejects: refuse both here.
	if len(key) != ed25519.PrivateKeySize || !l.PublicKey.Equal(key.Public()) {
		return nil, fmt.Errorf("LSA of %s: signing key does not match its public key", l.Origin)
	}
	b := make([]byte, 0, 256)
	b = append(b, lsaVersion)
	b = appendStr8(b, l.Origin)
	b = append(b, l.PublicKey...)
	b = binary.BigEndian.AppendUint64(b, l.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(l.Time))
	b = binary.BigEndian.AppendUint16(b, uint16(len(l.Neighbors)))
	for _, n := range l.Neighbors {
		b = appendStr8(b, n.NodeID)
		b = appendCost(b, n.Cost)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(l.Services)))
	for _, s := range l.Services {
		b = appendService(b, s)
	}
	sig := ed25519.Sign(key, append([]byte(lsaContext), b...))
	b = append(b, sig...)
	if len(b)+1 > MaxFrameSize {
		return nil, fmt.Errorf("LSA of %s is too large (%d bytes)", l.Origin, len(b))
	}
	return b, nil
}

func appendService(b []byte, s ServiceAd) []byte {
	b = appendStr8(b, s.Name)
	b = append(b, s.ConnType, byte(len(s.Tags)))
	keys := make([]string, 0, len(s.Tags))
	for k := range s.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b = appendStr8(b, k)
		b = appendStr16(b, s.Tags[k])
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.WorkCommands)))
	for _, w := range s.WorkCommands {
		b = appendStr8(b, w.WorkType)
		sec := byte(0)
		if w.Secure {
			sec = 1
		}
		b = append(b, sec)
	}
	return b
}

// check refuses an LSA that could not be decoded again.
func (l *LSA) check() error {
	if err := CheckName("node ID", l.Origin); err != nil {
		return err
	}
	if len(l.PublicKey) != ed25519.PublicKeySize {
		return errors.New("LSA: bad public key size")
	}
	if len(l.Neighbors) > MaxNeighbors || len(l.Services) > MaxServices {
		return fmt.Errorf("LSA of %s: too many neighbours or services", l.Origin)
	}
	for _, n := range l.Neighbors {
		if err := CheckName("neighbour ID", n.NodeID); err != nil {
			return err
		}
		if !ValidCost(n.Cost) {
			return fmt.Errorf("LSA: invalid cost %v", n.Cost)
		}
	}
	for _, s := range l.Services {
		if err := CheckName("service name", s.Name); err != nil {
			return err
		}
		if len(s.Tags) > MaxTags || len(s.WorkCommands) > MaxWorkCommands {
			return fmt.Errorf("LSA: service %s has too many tags or work commands", s.Name)
		}
		for k, v := range s.Tags {
			if len(k) > MaxNameLen || len(v) > maxTagValue {
				return fmt.Errorf("LSA: service %s: tag too long", s.Name)
			}
		}
		for _, w := range s.WorkCommands {
			if err := CheckName("work type", w.WorkType); err != nil {
				return err
			}
		}
	}
	return nil
}

// ParseLSA decodes and verifies an LSA body. The signature must be valid for
// the key the LSA carries; whether that key may speak for the origin is the
// caller's decision (trust file or first-seen binding).
func ParseLSA(body []byte) (*LSA, error) {
	if len(body) < ed25519.SignatureSize {
		return nil, fmt.Errorf("LSA: %w", errShort)
	}
	signed, sig := body[:len(body)-ed25519.SignatureSize], body[len(body)-ed25519.SignatureSize:]
	l, err := decodeLSA(signed)
	if err != nil {
		return nil, fmt.Errorf("LSA: %w", err)
	}
	msg := make([]byte, 0, len(lsaContext)+len(signed))
	msg = append(append(msg, lsaContext...), signed...)
	if !ed25519.Verify(l.PublicKey, msg, sig) {
		return nil, fmt.Errorf("LSA of %s: bad signature", l.Origin)
	}
	return l, nil
}

func decodeLSA(b []byte) (*LSA, error) {
	d := decoder{b: b}
	if v := d.u8(); d.err == nil && v != lsaVersion {
		return nil, fmt.Errorf("unsupported version %d", v)
	}
	l := &LSA{Origin: d.str8()}
	l.PublicKey = ed25519.PublicKey(append([]byte(nil), d.take(ed25519.PublicKeySize)...))
	l.Seq = d.u64()
	l.Time = int64(d.u64())
	n := int(d.u16())
	if n > MaxNeighbors {
		return nil, fmt.Errorf("%d neighbours (max %d)", n, MaxNeighbors)
	}
	for i := 0; i < n && d.err == nil; i++ {
		nb := Neighbor{NodeID: d.str8(), Cost: d.cost()}
		if d.err == nil && nb.NodeID == "" {
			d.err = errors.New("empty neighbour ID")
		}
		l.Neighbors = append(l.Neighbors, nb)
	}
	m := int(d.u16())
	if m > MaxServices {
		return nil, fmt.Errorf("%d services (max %d)", m, MaxServices)
	}
	for i := 0; i < m && d.err == nil; i++ {
		l.Services = append(l.Services, decodeService(&d))
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	if l.Origin == "" {
		return nil, errors.New("empty origin")
	}
	return l, nil
}

func decodeService(d *decoder) ServiceAd {
	s := ServiceAd{Name: d.str8(), ConnType: d.u8()}
	if d.err == nil && s.Name == "" {
		d.err = errors.New("empty service name")
	}
	t := int(d.u8())
	if t > MaxTags {
		d.err = fmt.Errorf("%d tags (max %d)", t, MaxTags)
		return s
	}
	if t > 0 {
		s.Tags = make(map[string]string, t)
	}
	// The decoder accepts only what MarshalSigned writes (tags in strictly
	// increasing key order, bounded values, secure 0 or 1, named work
	// types), so every LSA has one encoding and re-encodes to the bytes
	// that were signed; a duplicate key cannot hide a second value.
	prev := ""
	for i := 0; i < t && d.err == nil; i++ {
		k, v := d.str8(), d.str16()
		switch {
		case d.err != nil:
		case i > 0 && k <= prev:
			d.err = fmt.Errorf("service %s: tag %q out of order or repeated", s.Name, k)
		case len(v) > maxTagValue:
			d.err = fmt.Errorf("service %s: tag %q value longer than %d bytes", s.Name, k, maxTagValue)
		}
		s.Tags[k], prev = v, k
	}
	w := int(d.u16())
	if w > MaxWorkCommands {
		d.err = fmt.Errorf("%d work commands (max %d)", w, MaxWorkCommands)
		return s
	}
	for i := 0; i < w && d.err == nil; i++ {
		wt, sec := d.str8(), d.u8()
		switch {
		case d.err != nil:
		case wt == "":
			d.err = fmt.Errorf("service %s: empty work type", s.Name)
		case sec > 1:
			d.err = fmt.Errorf("service %s: work type %s: secure flag %d", s.Name, wt, sec)
		}
		s.WorkCommands = append(s.WorkCommands, WorkCommandAd{WorkType: wt, Secure: sec == 1})
	}
	return s
}

// PeekLSA reads the origin and sequence number of an LSA body without
// decoding the rest or checking the signature. Flooding delivers most LSAs
// several times; a receiver uses this to drop the copies it already has
// before paying for a signature check. Nothing it returns may be trusted
// until ParseLSA has verified the body.
func PeekLSA(body []byte) (origin string, seq uint64, err error) {
	d := decoder{b: body}
	if v := d.u8(); d.err == nil && v != lsaVersion {
		return "", 0, fmt.Errorf("LSA: unsupported version %d", v)
	}
	origin = d.str8()
	d.take(ed25519.PublicKeySize)
	seq = d.u64()
	if d.err != nil {
		return "", 0, fmt.Errorf("LSA: %w", d.err)
	}
	return origin, seq, nil
}
