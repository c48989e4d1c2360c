package wire

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// testKey is a fixed Ed25519 key, so signed test data (and the fuzz seed
// corpus) is the same on every run: Ed25519 signatures are deterministic.
func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func testPub(seed byte) ed25519.PublicKey { return testKey(seed).Public().(ed25519.PublicKey) }

// fullLSA uses every field of an LSA.
func fullLSA() *LSA {
	return &LSA{
		Origin:    "node-a",
		PublicKey: testPub(1),
		Seq:       1<<40 + 7,
		Time:      -1, // a clock before 1970 still encodes
		Neighbors: []Neighbor{{"node-b", 1}, {"node-c", 2.5}, {strings.Repeat("z", MaxNameLen), math.MaxFloat64}},
		Services: []ServiceAd{
			{Name: "control", ConnType: 1, Tags: map[string]string{"type": "Control Service", "": "empty key", "z": ""},
				WorkCommands: []WorkCommandAd{{"echo", false}, {"signed-cat", true}}},
			{Name: "ping", ConnType: 0},
			{Name: "big", ConnType: 255, Tags: map[string]string{"v": strings.Repeat("v", maxTagValue)}},
		},
	}
}

func mustMarshal(t testing.TB, l *LSA, key ed25519.PrivateKey) []byte {
	t.Helper()
	b, err := l.MarshalSigned(key)
	if err != nil {
		t.Fatalf("MarshalSigned: %v", err)
	}
	return b
}

func TestLSARoundTrip(t *testing.T) {
	for _, l := range []*LSA{
		fullLSA(),
		{Origin: "lonely", PublicKey: testPub(1)}, // no neighbours, no services
	} {
		b := mustMarshal(t, l, testKey(1))
		got, err := ParseLSA(b)
		if err != nil {
			t.Fatalf("ParseLSA: %v", err)
		}
		if !reflect.DeepEqual(got, l) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, l)
		}
		if again := mustMarshal(t, got, testKey(1)); !bytes.Equal(again, b) {
			t.Fatal("re-marshal of a parsed LSA differs")
		}
	}
}

// TestLSADeterministic: equal LSAs encode equally whatever the map order.
func TestLSADeterministic(t *testing.T) {
	tags := map[string]string{}
	for i := range MaxTags {
		tags[fmt.Sprintf("k%02d", (i*7)%MaxTags)] = fmt.Sprint(i)
	}
	l := &LSA{Origin: "a", PublicKey: testPub(1), Services: []ServiceAd{{Name: "s", Tags: tags}}}
	first := mustMarshal(t, l, testKey(1))
	for range 50 {
		// A fresh map with another insertion order each time.
		copyTags := map[string]string{}
		for k, v := range tags {
			copyTags[k] = v
		}
		l.Services[0].Tags = copyTags
		if b := mustMarshal(t, l, testKey(1)); !bytes.Equal(b, first) {
			t.Fatal("encoding depends on map order")
		}
	}
	// The tags are written in sorted order.
	d := decoder{b: first}
	d.u8()
	d.str8()
	d.take(ed25519.PublicKeySize + 16 + 2 + 2)
	d.str8()
	d.u8()
	n := int(d.u8())
	prev := ""
	for i := range n {
		k := d.str8()
		d.str16()
		if i > 0 && k <= prev {
			t.Fatalf("tag %q written after %q", k, prev)
		}
		prev = k
	}
	if d.err != nil || n != MaxTags {
		t.Fatalf("walking the tags: %v, %d tags", d.err, n)
	}
}

// TestLSATamper flips every byte of a signed LSA in turn: each change must
// be refused, by the signature check or by the decoder.
func TestLSATamper(t *testing.T) {
	l := fullLSA()
	l.Services = l.Services[:2] // without the 4 KiB tag: fewer bytes to flip
	b := mustMarshal(t, l, testKey(1))
	signedLen := len(b) - ed25519.SignatureSize
	for i := range b {
		for _, mask := range []byte{0x01, 0xff} {
			c := bytes.Clone(b)
			c[i] ^= mask
			l, err := ParseLSA(c)
			if err == nil {
				t.Fatalf("byte %d ^ %#x: accepted %+v", i, mask, l)
			}
			if i >= signedLen && !strings.Contains(err.Error(), "bad signature") {
				t.Fatalf("signature byte %d ^ %#x: %v, want bad signature", i, mask, err)
			}
		}
	}
}

// TestLSATruncated: every strict prefix, and the LSA with a byte appended,
// is refused.
func TestLSATruncated(t *testing.T) {
	b := mustMarshal(t, fullLSA(), testKey(1))
	for i := range len(b) {
		if _, err := ParseLSA(b[:i]); err == nil {
			t.Fatalf("prefix of %d bytes accepted", i)
		}
	}
	if _, err := ParseLSA(append(bytes.Clone(b), 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
}

// resign replaces the signature of an LSA with one by key over its
// (possibly edited) signed part.
func resign(b []byte, key ed25519.PrivateKey) []byte {
	signed := b[:len(b)-ed25519.SignatureSize]
	return signLSABody(signed, key)
}

// signLSABody appends a signature by key to a hand-built signed part.
func signLSABody(signed []byte, key ed25519.PrivateKey) []byte {
	sig := ed25519.Sign(key, append([]byte(lsaContext), signed...))
	return append(bytes.Clone(signed), sig...)
}

func TestLSAWrongKey(t *testing.T) {
	// Carries key 1 but signed by key 2: someone claiming node-a's key.
	b := resign(mustMarshal(t, fullLSA(), testKey(1)), testKey(2))
	if _, err := ParseLSA(b); err == nil || !strings.Contains(err.Error(), "node-a: bad signature") {
		t.Fatalf("got %v, want bad signature", err)
	}
	// Signed without the context prefix: a signature made for another
	// purpose must not pass as an LSA signature.
	good := mustMarshal(t, fullLSA(), testKey(1))
	signed := good[:len(good)-ed25519.SignatureSize]
	raw := append(bytes.Clone(signed), ed25519.Sign(testKey(1), signed)...)
	if _, err := ParseLSA(raw); err == nil || !strings.Contains(err.Error(), "bad signature") {
		t.Fatalf("context-free signature: got %v", err)
	}
	// MarshalSigned refuses to sign with a key that is not the LSA's own,
	// and a malformed key, instead of emitting an LSA nobody accepts (or
	// panicking in ed25519.Sign).
	for name, key := range map[string]ed25519.PrivateKey{"other key": testKey(2), "nil key": nil, "short key": testKey(1)[:32]} {
		if _, err := fullLSA().MarshalSigned(key); err == nil {
			t.Errorf("MarshalSigned with %s succeeded", name)
		}
	}
}

func TestLSAMarshalBounds(t *testing.T) {
	many := func(n int, f func(i int) string) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = f(i)
		}
		return s
	}
	neighbours := func(n int, name func(i int) string) []Neighbor {
		var nb []Neighbor
		for _, id := range many(n, name) {
			nb = append(nb, Neighbor{id, 1})
		}
		return nb
	}
	services := func(n int) []ServiceAd {
		var s []ServiceAd
		for _, name := range many(n, func(i int) string { return fmt.Sprint("s", i) }) {
			s = append(s, ServiceAd{Name: name})
		}
		return s
	}
	tags := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprint("t", i)] = "v"
		}
		return m
	}
	works := func(n int) []WorkCommandAd {
		var w []WorkCommandAd
		for i := range n {
			w = append(w, WorkCommandAd{WorkType: fmt.Sprint("w", i)})
		}
		return w
	}
	short := func(i int) string { return fmt.Sprint("n", i) }
	long := func(i int) string { return fmt.Sprintf("%0255d", i) }
	tests := []struct {
		name string
		edit func(l *LSA)
		ok   bool
	}{
		{"max neighbours", func(l *LSA) { l.Neighbors = neighbours(MaxNeighbors, short) }, true},
		{"too many neighbours", func(l *LSA) { l.Neighbors = neighbours(MaxNeighbors+1, short) }, false},
		{"too large for a frame", func(l *LSA) { l.Neighbors = neighbours(MaxNeighbors, long) }, false},
		{"max services", func(l *LSA) { l.Services = services(MaxServices) }, true},
		{"too many services", func(l *LSA) { l.Services = services(MaxServices + 1) }, false},
		{"max tags", func(l *LSA) { l.Services = []ServiceAd{{Name: "s", Tags: tags(MaxTags)}} }, true},
		{"too many tags", func(l *LSA) { l.Services = []ServiceAd{{Name: "s", Tags: tags(MaxTags + 1)}} }, false},
		{"max work commands", func(l *LSA) { l.Services = []ServiceAd{{Name: "s", WorkCommands: works(MaxWorkCommands)}} }, true},
		{"too many work commands", func(l *LSA) { l.Services = []ServiceAd{{Name: "s", WorkCommands: works(MaxWorkCommands + 1)}} }, false},
		{"tag value too long", func(l *LSA) {
			l.Services = []ServiceAd{{Name: "s", Tags: map[string]string{"k": strings.Repeat("v", maxTagValue+1)}}}
		}, false},
		{"tag key too long", func(l *LSA) {
			l.Services = []ServiceAd{{Name: "s", Tags: map[string]string{strings.Repeat("k", MaxNameLen+1): "v"}}}
		}, false},
		{"empty origin", func(l *LSA) { l.Origin = "" }, false},
		{"long origin", func(l *LSA) { l.Origin = strings.Repeat("o", MaxNameLen+1) }, false},
		{"bad key size", func(l *LSA) { l.PublicKey = l.PublicKey[:31] }, false},
		{"empty neighbour", func(l *LSA) { l.Neighbors = []Neighbor{{"", 1}} }, false},
		{"zero cost", func(l *LSA) { l.Neighbors = []Neighbor{{"b", 0}} }, false},
		{"NaN cost", func(l *LSA) { l.Neighbors = []Neighbor{{"b", math.NaN()}} }, false},
		{"Inf cost", func(l *LSA) { l.Neighbors = []Neighbor{{"b", math.Inf(1)}} }, false},
		{"empty service", func(l *LSA) { l.Services = []ServiceAd{{Name: ""}} }, false},
		{"empty work type", func(l *LSA) {
			l.Services = []ServiceAd{{Name: "s", WorkCommands: works(1)}}
			l.Services[0].WorkCommands[0].WorkType = ""
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &LSA{Origin: "a", PublicKey: testPub(1)}
			tt.edit(l)
			b, err := l.MarshalSigned(testKey(1))
			if !tt.ok {
				if err == nil {
					t.Fatalf("MarshalSigned accepted it (%d bytes)", len(b))
				}
				return
			}
			if err != nil {
				t.Fatalf("MarshalSigned: %v", err)
			}
			if len(b)+1 > MaxFrameSize {
				t.Fatalf("%d bytes do not fit a frame", len(b))
			}
			got, err := ParseLSA(b)
			if err != nil {
				t.Fatalf("ParseLSA: %v", err)
			}
			if !reflect.DeepEqual(got, l) {
				t.Fatal("round trip differs")
			}
		})
	}
}

// lsaHead builds the fixed start of an LSA's signed part.
func lsaHead(origin string, pub ed25519.PublicKey) []byte {
	b := []byte{lsaVersion}
	b = appendStr8(b, origin)
	b = append(b, pub...)
	b = binary.BigEndian.AppendUint64(b, 1) // seq
	return binary.BigEndian.AppendUint64(b, 2)
}

// TestParseLSABounds hand-crafts signed bodies that MarshalSigned would
// never write; the decoder must refuse each, validly signed or not.
func TestParseLSABounds(t *testing.T) {
	u16 := func(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
	cost := func(b []byte, c float64) []byte { return binary.BigEndian.AppendUint64(b, math.Float64bits(c)) }
	head := func() []byte { return lsaHead("a", testPub(1)) }
	// service builds a one-service LSA from raw service bytes.
	service := func(svc ...byte) []byte { return append(u16(u16(head(), 0), 1), svc...) }
	svcHead := func(tags int) []byte { return append(appendStr8(nil, "s"), 0, byte(tags)) }
	tag := func(b []byte, k, v string) []byte { return appendStr16(appendStr8(b, k), v) }
	work := func(b []byte, wt string, sec byte) []byte { return append(appendStr8(b, wt), sec) }

	tests := []struct {
		name   string
		signed []byte
		want   string
	}{
		{"version 0", append([]byte{0}, head()[1:]...), "unsupported version 0"},
		{"version 2", append([]byte{2}, head()[1:]...), "unsupported version 2"},
		{"empty origin", u16(u16(lsaHead("", testPub(1)), 0), 0), "empty origin"},
		{"too many neighbours", u16(head(), MaxNeighbors+1), "neighbours (max 1024)"},
		{"max neighbours claimed, none present", u16(head(), MaxNeighbors), "truncated"},
		{"empty neighbour", u16(cost(appendStr8(u16(head(), 1), ""), 1), 0), "empty neighbour ID"},
		{"zero cost", u16(cost(appendStr8(u16(head(), 1), "b"), 0), 0), "invalid cost"},
		{"NaN cost", u16(cost(appendStr8(u16(head(), 1), "b"), math.NaN()), 0), "invalid cost"},
		{"too many services", u16(u16(head(), 0), MaxServices+1), "services (max 256)"},
		{"empty service", service(append(append(appendStr8(nil, ""), 0, 0), 0, 0)...), "empty service name"},
		{"too many tags", service(svcHead(MaxTags + 1)...), "tags (max 32)"},
		{"too many work commands", service(u16(svcHead(0), MaxWorkCommands+1)...), "work commands (max 256)"},
		{"duplicate tag", service(u16(tag(tag(svcHead(2), "k", "1"), "k", "2"), 0)...), "out of order or repeated"},
		{"unsorted tags", service(u16(tag(tag(svcHead(2), "b", "1"), "a", "2"), 0)...), "out of order or repeated"},
		{"tag value too long", service(u16(tag(svcHead(1), "k", strings.Repeat("v", maxTagValue+1)), 0)...), "value longer than 4096"},
		{"empty work type", service(work(u16(svcHead(0), 1), "", 0)...), "empty work type"},
		{"secure flag 2", service(work(u16(svcHead(0), 1), "w", 2)...), "secure flag 2"},
		{"trailing byte", append(u16(u16(head(), 0), 0), 0), "trailing garbage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLSA(signLSABody(tt.signed, testKey(1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "LSA: ") {
				t.Fatalf("got %v, want an LSA error mentioning %q", err, tt.want)
			}
		})
	}
	// Sanity: the builders make a valid LSA when the content is valid.
	ok := service(work(u16(tag(tag(svcHead(2), "a", "1"), "b", "2"), 1), "w", 1)...)
	l, err := ParseLSA(signLSABody(ok, testKey(1)))
	if err != nil {
		t.Fatalf("valid hand-built LSA: %v", err)
	}
	want := &LSA{Origin: "a", PublicKey: testPub(1), Seq: 1, Time: 2,
		Services: []ServiceAd{{Name: "s", Tags: map[string]string{"a": "1", "b": "2"}, WorkCommands: []WorkCommandAd{{"w", true}}}}}
	if !reflect.DeepEqual(l, want) {
		t.Fatalf("got %+v, want %+v", l, want)
	}
	if b := mustMarshal(t, l, testKey(1)); !bytes.Equal(b[:len(ok)], ok) {
		t.Fatal("re-encoding of the hand-built LSA differs")
	}
}
