package wire

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var updateFuzzCorpus = flag.Bool("update-fuzz-corpus", false, "rewrite the seed corpus in testdata/fuzz")

// seed is one file of a fuzz target's seed corpus.
type seed struct {
	name string
	data []byte
	// fresh marks seeds whose bytes differ on every generation (TLS
	// randoms); TestFuzzCorpus checks only that they exist.
	fresh bool
}

// frameSeeds seed FuzzReadFrame.
func frameSeeds() []seed {
	hello := (&Hello{Version: ProtocolVersion, NodeID: "node-a", Cost: 1}).Marshal()
	var valid bytes.Buffer
	WriteFrame(&valid, FrameHello, hello)
	WriteFrame(&valid, FrameKeepalive, nil)
	WriteFrame(&valid, FrameRouted, append(AppendRouted(nil, 8, KindDatagram, "a", "b", 6)[FrameHeaderLen:], AppendDatagramRest(nil, "p", "q")...))
	WriteFrame(&valid, FrameReject, []byte("go away"))
	v := valid.Bytes()
	return []seed{
		// valid
		{name: "valid-empty-input", data: nil}, // clean EOF at once
		{name: "valid-keepalive", data: frameBytes(1, FrameKeepalive, nil)},
		{name: "valid-four-frames", data: v}, // hello, keepalive, routed, reject
		{name: "valid-unknown-type", data: frameBytes(3, 0xEE, []byte("xy"))},
		// truncated
		{name: "truncated-header", data: v[:3]},
		{name: "truncated-body", data: v[:FrameHeaderLen+4]},
		{name: "truncated-second-header", data: v[:FrameHeaderLen+len(hello)+2]},
		{name: "truncated-last-body", data: v[:len(v)-1]},
		// empty frames (length 0)
		{name: "empty-frame", data: frameBytes(0, FrameHello, nil)},
		{name: "empty-frame-after-valid", data: append(bytes.Clone(v), 0, 0, 0, 0, 0)},
		// oversize length fields
		{name: "oversize-by-one", data: frameBytes(MaxFrameSize+1, FrameRouted, []byte("body"))},
		{name: "oversize-max-uint32", data: frameBytes(0xFFFFFFFF, FrameRouted, nil)},
		{name: "oversize-after-valid", data: append(bytes.Clone(v), frameBytes(1<<24, FrameLSA, nil)...)},
		{name: "max-size-claim-short-body", data: frameBytes(MaxFrameSize, FrameRouted, []byte("short"))},
		// garbage
		{name: "garbage-text", data: []byte("GET / HTTP/1.1\r\nHost: meshd\r\n\r\n")},
		{name: "garbage-tls-record", data: []byte{0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5}},
	}
}

// helloSeeds seed FuzzHello.
func helloSeeds() []seed {
	one := math.Float64bits(1)
	good := helloBytes(helloMagic, ProtocolVersion, "node-a", one)
	return []seed{
		// valid
		{name: "valid", data: good},
		{name: "valid-long-id-tiny-cost", data: helloBytes(helloMagic, ProtocolVersion, strings.Repeat("n", MaxNameLen), 1)},
		// truncated
		{name: "truncated-magic", data: good[:3]},
		{name: "truncated-id", data: good[:8]},
		{name: "truncated-cost", data: good[:len(good)-1]},
		// invalid fields and garbage
		{name: "bad-magic", data: helloBytes("MESHX", ProtocolVersion, "node-a", one)},
		{name: "wrong-version", data: helloBytes(helloMagic, 2, "node-a", one)},
		{name: "empty-id", data: helloBytes(helloMagic, ProtocolVersion, "", one)},
		{name: "nan-cost", data: helloBytes(helloMagic, ProtocolVersion, "node-a", math.Float64bits(math.NaN()))},
		{name: "zero-cost", data: helloBytes(helloMagic, ProtocolVersion, "node-a", 0)},
		{name: "negative-cost", data: helloBytes(helloMagic, ProtocolVersion, "node-a", math.Float64bits(-2))},
		{name: "inf-cost", data: helloBytes(helloMagic, ProtocolVersion, "node-a", math.Float64bits(math.Inf(1)))},
		{name: "trailing-byte", data: append(bytes.Clone(good), 0)},
		{name: "garbage-empty", data: nil},
	}
}

// lsaSeeds seed FuzzLSA; all are signed with fuzzLSAKey unless they say
// otherwise.
func lsaSeeds(t testing.TB) []seed {
	full := mustMarshal(t, fullLSA(), fuzzLSAKey)
	minimal := mustMarshal(t, &LSA{Origin: "m", PublicKey: testPub(1), Seq: 1, Time: 1}, fuzzLSAKey)
	small := &LSA{Origin: "node-a", PublicKey: testPub(1), Seq: 9, Time: 1700000000e9,
		Neighbors: []Neighbor{{"node-b", 1}, {"node-c", 2}},
		Services: []ServiceAd{{Name: "control", ConnType: 1, Tags: map[string]string{"a": "1", "b": "2"},
			WorkCommands: []WorkCommandAd{{"echo", false}, {"cat", true}}}}}
	smallB := mustMarshal(t, small, fuzzLSAKey)
	tampered := bytes.Clone(smallB)
	tampered[len(tampered)/2] ^= 1
	head := lsaHead("a", testPub(1))
	u16 := func(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
	return []seed{
		// valid
		{name: "valid-full", data: full},
		{name: "valid-minimal", data: minimal},
		{name: "valid-small", data: smallB},
		// truncated
		{name: "truncated-signature", data: smallB[:len(smallB)-1]},
		{name: "truncated-mid", data: smallB[:len(smallB)/2]},
		{name: "truncated-short", data: smallB[:40]},
		// bad signature
		{name: "tampered-byte", data: tampered},
		{name: "signed-by-other-key", data: resign(smallB, testKey(2))},
		// bounds: validly signed, refused by the decoder
		{name: "oversize-neighbour-count", data: signLSABody(u16(head, MaxNeighbors+1), fuzzLSAKey)},
		{name: "oversize-service-count", data: signLSABody(u16(u16(head, 0), MaxServices+1), fuzzLSAKey)},
		{name: "oversize-tag-count", data: signLSABody(append(u16(u16(head, 0), 1), append(appendStr8(nil, "s"), 0, MaxTags+1)...), fuzzLSAKey)},
		// garbage
		{name: "garbage-zeros", data: make([]byte, 100)},
		{name: "garbage-empty", data: nil},
	}
}

// identityAdSeeds seed FuzzIdentityAd; all are signed by the fixed
// certificate (fixedIdentityCert) unless they say otherwise.
func identityAdSeeds(t testing.TB) []seed {
	cert, _ := fixedIdentityCert(t)
	leafOnly := &tls.Certificate{Certificate: cert.Certificate[:1], PrivateKey: cert.PrivateKey}
	sign := func(c *tls.Certificate) []byte {
		b, err := SignIdentityAd("node-a", testPub(1), 1700000000e9, c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	chain, leaf := sign(cert), sign(leafOnly)
	a, err := decodeIdentityAd(chain)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(c *IdentityAd)) []byte { return editAd(a, f) }
	return []seed{
		// valid
		{name: "valid-leaf-and-ca", data: chain},
		{name: "valid-leaf-only", data: leaf},
		// truncated
		{name: "truncated-signature", data: chain[:len(chain)-1]},
		{name: "truncated-mid-certificate", data: chain[:len(chain)/2]},
		{name: "truncated-before-time", data: chain[:40]},
		// signature does not cover the change
		{name: "tampered-time", data: edit(func(c *IdentityAd) { c.Time++ })},
		{name: "tampered-key", data: edit(func(c *IdentityAd) { c.PublicKey[31] ^= 1 })},
		{name: "tampered-node-id", data: edit(func(c *IdentityAd) { c.NodeID = "node-b" })},
		{name: "certificates-swapped", data: edit(func(c *IdentityAd) { c.Chain[0], c.Chain[1] = c.Chain[1], c.Chain[0] })},
		// bounds
		{name: "oversize-certificate-count", data: edit(func(c *IdentityAd) {
			for len(c.Chain) <= MaxIdentityCerts {
				c.Chain = append(c.Chain, a.Chain[1])
			}
		})},
		{name: "oversize-chain", data: edit(func(c *IdentityAd) { c.Chain = [][]byte{a.Chain[0], make([]byte, MaxIdentityChainBytes)} })},
		{name: "oversize-signature", data: edit(func(c *IdentityAd) { c.Sig = make([]byte, MaxIdentitySigBytes+1) })},
		{name: "zero-certificates", data: edit(func(c *IdentityAd) { c.Chain = nil })},
		{name: "zero-time", data: edit(func(c *IdentityAd) { c.Time = 0 })},
		// garbage
		{name: "garbage-certificate", data: edit(func(c *IdentityAd) { c.Chain[1] = []byte("not a certificate") })},
		{name: "garbage-version", data: append([]byte{9}, chain[1:]...)},
		{name: "garbage-trailing-byte", data: append(bytes.Clone(chain), 0)},
		{name: "garbage-zeros", data: make([]byte, 100)},
		{name: "garbage-empty", data: nil},
	}
}

// routedSeeds seed FuzzRouted with frame bodies (no frame header).
func routedSeeds() []seed {
	body := func(kind byte, rest []byte) []byte {
		b := AppendRouted(nil, 30, kind, "node-a", "node-b", len(rest))[FrameHeaderLen:]
		return append(b, rest...)
	}
	seeds := []seed{
		// valid, one per kind
		{name: "valid-datagram", data: body(KindDatagram, append(AppendDatagramRest(nil, "ping", "echo"), "payload"...))},
		{name: "valid-unreachable", data: body(KindUnreachable, (&Unreachable{Kind: KindDatagram, SrcService: "ping", DstService: "echo", DstNode: "node-z", Problem: "no route"}).Marshal())},
	}
	for i, sc := range streamCases {
		rest := append(AppendStreamRest(nil, sc.kind, &sc.f), sc.f.Payload...)
		seeds = append(seeds, seed{name: fmt.Sprintf("valid-stream-%d-kind%d", i, sc.kind), data: body(sc.kind, rest)})
	}
	dg := body(KindDatagram, AppendDatagramRest(nil, "ping", "echo"))
	return append(seeds,
		// truncated
		seed{name: "truncated-header", data: dg[:5]},
		seed{name: "truncated-datagram-services", data: dg[:len(dg)-2]},
		seed{name: "truncated-stream-open", data: body(KindStreamOpen, []byte{0, 0, 0, 1, 0, 0})},
		// invalid
		seed{name: "empty-src", data: []byte{1, KindDatagram, 0, 1, 'b'}},
		seed{name: "unknown-kind", data: []byte{1, 99, 1, 'a', 1, 'b', 0, 0}},
		seed{name: "stream-reset-oversize-reason", data: body(KindStreamReset, []byte{0, 0, 0, 1, 0xff, 0xff, 'x'})},
		// garbage
		seed{name: "garbage", data: []byte("\xff\xfe\xfd\xfc\xfb\xfa")},
	)
}

// handshakeSeeds seed FuzzHandshake with what a dialer might send to a
// server: a real client flight, cut short or followed by garbage, and
// plaintext that is no TLS at all.
func handshakeSeeds(t testing.TB) []seed {
	flight := recordClientFlight(t)
	recLen := FrameHeaderLen + int(binary.BigEndian.Uint16(flight[3:5]))
	clientHello := flight[:recLen]
	return []seed{
		// valid start: a real client's bytes (they cannot finish: the
		// server's random differs every time)
		{name: "valid-client-flight", data: flight, fresh: true},
		{name: "valid-client-hello-only", data: clientHello, fresh: true},
		// truncated
		{name: "truncated-client-hello", data: clientHello[:len(clientHello)/2], fresh: true},
		{name: "truncated-record-header", data: clientHello[:3], fresh: true},
		// oversize TLS record (length beyond 16 KiB + 256)
		{name: "oversize-record", data: []byte{0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x00}},
		// garbage after a valid ClientHello, and plaintext
		{name: "garbage-after-client-hello", data: append(bytes.Clone(clientHello), bytes.Repeat([]byte{0x17, 0x03, 0x03, 0x00, 0x01, 0x00}, 4)...), fresh: true},
		{name: "garbage-plaintext-hello", data: append(AppendFrameHeader(nil, FrameHello, len(helloSeeds()[0].data)), helloSeeds()[0].data...)},
		{name: "garbage-http", data: []byte("GET / HTTP/1.1\r\nHost: meshd\r\n\r\n")},
		{name: "garbage-empty", data: nil},
	}
}

// recordClientFlight runs a real handshake over net.Pipe and returns every
// byte the dialer sent.
func recordClientFlight(t testing.TB) []byte {
	dc, sc := net.Pipe()
	rec := &recordingConn{Conn: dc}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if p, err := Handshake(context.Background(), sc, true, testConfig(t, "node-b", 2, 1, nil)); err == nil {
			p.Conn.NetConn().Close()
		}
	}()
	p, err := Handshake(context.Background(), rec, false, testConfig(t, "node-a", 1, 1, nil))
	if err != nil {
		t.Fatalf("recording handshake: %v", err)
	}
	p.Conn.NetConn().Close()
	wg.Wait()
	return rec.written()
}

type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	out []byte
}

func (r *recordingConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.out = append(r.out, p...)
	r.mu.Unlock()
	return r.Conn.Write(p)
}

func (r *recordingConn) written() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.out)
}

// corpusFile is the `go test fuzz v1` encoding of one []byte argument.
func corpusFile(data []byte) []byte {
	return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data)
}

// TestFuzzCorpus checks that the checked-in seed corpus matches the seed
// tables, or rewrites it with -update-fuzz-corpus.
func TestFuzzCorpus(t *testing.T) {
	targets := map[string][]seed{
		"FuzzReadFrame":  frameSeeds(),
		"FuzzHello":      helloSeeds(),
		"FuzzLSA":        lsaSeeds(t),
		"FuzzRouted":     routedSeeds(),
		"FuzzHandshake":  handshakeSeeds(t),
		"FuzzIdentityAd": identityAdSeeds(t),
	}
	for target, seeds := range targets {
		dir := filepath.Join("testdata", "fuzz", target)
		if *updateFuzzCorpus {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		names := map[string]bool{}
		for _, s := range seeds {
			if names[s.name] {
				t.Fatalf("%s: two seeds named %s", target, s.name)
			}
			names[s.name] = true
			checkSeedLabel(t, target, s)
			path := filepath.Join(dir, s.name)
			want := corpusFile(s.data)
			if *updateFuzzCorpus {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%v (regenerate with -update-fuzz-corpus)", err)
				continue
			}
			if !s.fresh && !bytes.Equal(got, want) {
				t.Errorf("%s is out of date (regenerate with -update-fuzz-corpus)", path)
			}
		}
	}
}

// checkSeedLabel keeps the seed names honest: a seed called valid-* parses
// and, for the message codecs, every other seed is refused.
func checkSeedLabel(t *testing.T, target string, s seed) {
	t.Helper()
	valid := strings.HasPrefix(s.name, "valid-") || s.name == "valid"
	var err error
	switch target {
	case "FuzzHello":
		_, err = ParseHello(s.data)
	case "FuzzLSA":
		_, err = ParseLSA(s.data)
	case "FuzzIdentityAd":
		_, err = ParseIdentityAd(s.data)
	case "FuzzRouted":
		var r Routed
		if r, err = ParseRouted(s.data); err == nil {
			switch r.Kind {
			case KindDatagram:
				_, err = ParseDatagram(r.Rest)
			case KindUnreachable:
				_, err = ParseUnreachable(r.Rest)
			default:
				_, err = ParseStreamFrame(r.Kind, r.Rest)
			}
		}
	default:
		return
	}
	if valid != (err == nil) {
		t.Errorf("%s seed %s: valid=%v but parse error %v", target, s.name, valid, err)
	}
}
