package wire

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// The fuzz targets below run their seed corpus (testdata/fuzz/<FuzzName>/)
// as ordinary tests. The seeds are generated from the tables in
// fuzzcorpus_test.go, which say for each one whether it is valid,
// truncated, oversize or garbage; regenerate them with
//
//	go test -run '^TestFuzzCorpus$' ./wire/ -update-fuzz-corpus
//
// and fuzz one target with
//
//	go test -run '^$' -fuzz '^FuzzReadFrame$' -fuzztime 50s ./wire/
//
// For FuzzHandshake add -fuzzminimizetime 3s: every new input is a TLS
// flight of a kilobyte or more, and minimizing one for the default 60 s
// takes most of a short run.

// FuzzReadFrame feeds arbitrary bytes to a FrameReader and checks every
// frame and error against a direct reading of the same bytes.
func FuzzReadFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, r := range frameReaders {
			checkFrameStream(t, r.name, r.read, data)
		}
	})
}

// checkFrameStream reads frames from data until an error and compares each
// step with the reference model: walk the length prefixes by hand.
func checkFrameStream(t *testing.T, name string, read readerFunc, data []byte) {
	fr := NewFrameReader(bytes.NewReader(data))
	rest := data
	for i := 0; ; i++ {
		typ, body, err := read(fr)
		var want error
		var n uint32
		switch {
		case len(rest) == 0:
			want = io.EOF
		case len(rest) < FrameHeaderLen:
			want = io.ErrUnexpectedEOF
		default:
			n = binary.BigEndian.Uint32(rest)
			switch {
			case n == 0:
				want = ErrEmptyFrame
			case n > MaxFrameSize:
				want = ErrOversizeFrame
			case uint64(len(rest)-FrameHeaderLen) < uint64(n-1):
				want = io.ErrUnexpectedEOF
			}
		}
		if want != nil {
			if !errors.Is(err, want) {
				t.Fatalf("%s frame %d: got %v, want %v", name, i, err, want)
			}
			if want == io.EOF && err != io.EOF {
				t.Fatalf("%s frame %d: clean EOF returned as %v", name, i, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s frame %d: %v", name, i, err)
		}
		if len(body) > MaxFrameSize {
			t.Fatalf("%s frame %d: body of %d bytes", name, i, len(body))
		}
		end := FrameHeaderLen + int(n) - 1
		if typ != rest[4] || !bytes.Equal(body, rest[FrameHeaderLen:end]) {
			t.Fatalf("%s frame %d: got type %d, %d bytes; want type %d, %d bytes", name, i, typ, len(body), rest[4], end-FrameHeaderLen)
		}
		rest = rest[end:]
	}
}

// FuzzHello: whatever ParseHello accepts is a valid hello that re-encodes
// to exactly the bytes it came from.
func FuzzHello(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHello(data)
		if err != nil {
			if h != (Hello{}) {
				t.Fatalf("error %v with hello %+v", err, h)
			}
			return
		}
		if h.Version != ProtocolVersion || CheckName("node ID", h.NodeID) != nil || !ValidCost(h.Cost) {
			t.Fatalf("accepted invalid hello %+v", h)
		}
		if b := h.Marshal(); !bytes.Equal(b, data) {
			t.Fatalf("re-marshal differs:\n got % x\nwant % x", b, data)
		}
	})
}

// fuzzLSAKey signs every LSA of the FuzzLSA corpus.
var fuzzLSAKey = testKey(1)

// FuzzLSA checks two things for each input:
//
//  1. ParseLSA(input): anything accepted carries a valid signature by the
//     key it names; for the corpus key, MarshalSigned of the parsed LSA
//     reproduces the input byte for byte.
//  2. The input minus its last 64 bytes, re-signed with the corpus key, so
//     that mutations of the signed part reach the decoder behind the
//     signature check: anything accepted must re-encode to the same
//     signed bytes (one encoding per LSA), anything refused must not panic.
func FuzzLSA(f *testing.F) {
	pub := fuzzLSAKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		if l, err := ParseLSA(data); err == nil {
			checkAcceptedLSA(t, pub, l, data)
		}
		if len(data) < ed25519.SignatureSize {
			return
		}
		signed := signLSABody(data[:len(data)-ed25519.SignatureSize], fuzzLSAKey)
		if l, err := ParseLSA(signed); err == nil {
			checkAcceptedLSA(t, pub, l, signed)
		}
	})
}

func checkAcceptedLSA(t *testing.T, corpusKey ed25519.PublicKey, l *LSA, data []byte) {
	t.Helper()
	signed, sig := data[:len(data)-ed25519.SignatureSize], data[len(data)-ed25519.SignatureSize:]
	if !ed25519.Verify(l.PublicKey, append([]byte(lsaContext), signed...), sig) {
		t.Fatalf("accepted an LSA whose signature does not verify")
	}
	if !l.PublicKey.Equal(corpusKey) {
		return // signed by a key we do not hold; nothing more to compare
	}
	b, err := l.MarshalSigned(fuzzLSAKey)
	if err != nil {
		t.Fatalf("accepted LSA does not marshal: %v (%+v)", err, l)
	}
	if !bytes.Equal(b[:len(b)-ed25519.SignatureSize], signed) {
		t.Fatalf("accepted LSA re-encodes differently:\n got % x\nwant % x", b[:len(b)-ed25519.SignatureSize], signed)
	}
	if !bytes.Equal(b, data) {
		t.Fatal("same signed bytes, different signature") // Ed25519 is deterministic
	}
}

// FuzzIdentityAd: whatever decodes re-encodes to exactly its input (one
// encoding per ad) within the bounds; whatever ParseIdentityAd accepts
// also decodes, carries a valid signature by its leaf, and Verify on it
// never panics.
func FuzzIdentityAd(f *testing.F) {
	_, pool := fixedIdentityCert(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, decErr := decodeIdentityAd(data)
		if decErr == nil {
			if !bytes.Equal(a.Marshal(), data) {
				t.Fatalf("re-encoding differs:\n got % x\nwant % x", a.Marshal(), data)
			}
			if a.checkChainSize() != nil || len(a.Sig) == 0 || len(a.Sig) > MaxIdentitySigBytes || a.Time <= 0 || CheckName("node ID", a.NodeID) != nil {
				t.Fatalf("decoded an ad out of bounds: %+v", a)
			}
		}
		p, err := ParseIdentityAd(data)
		if err != nil {
			return
		}
		if decErr != nil {
			t.Fatalf("ParseIdentityAd accepted what the decoder refused: %v", decErr)
		}
		if err := checkLeafSignature(p.certs[0], signedIdentity(p.NodeID, p.PublicKey, p.Time), p.Sig); err != nil {
			t.Fatalf("accepted an ad whose signature does not verify: %v", err)
		}
		_ = p.Verify(pool, false)
	})
}

// FuzzRouted parses a routed body, then its kind-specific rest, and checks
// that the views alias the input at consistent offsets and that encoding
// the parsed values reproduces the input.
func FuzzRouted(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseRouted(body)
		if err != nil {
			return
		}
		if len(r.Src) == 0 || len(r.Dst) == 0 || r.Kind < KindDatagram || r.Kind > KindStreamReset {
			t.Fatalf("accepted %+v", r)
		}
		if 4+len(r.Src)+len(r.Dst)+len(r.Rest) != len(body) || r.Hop != body[RoutedHopOffset] {
			t.Fatalf("offsets: src %d dst %d rest %d of %d", len(r.Src), len(r.Dst), len(r.Rest), len(body))
		}
		if len(r.Rest) > 0 && &r.Rest[0] != &body[len(body)-len(r.Rest)] {
			t.Fatal("Rest does not alias the tail of the body")
		}
		frame := AppendRouted(nil, r.Hop, r.Kind, string(r.Src), string(r.Dst), len(r.Rest))
		frame = append(frame, r.Rest...)
		if !bytes.Equal(frame[FrameHeaderLen:], body) || len(frame) != RoutedLen(string(r.Src), string(r.Dst), len(r.Rest)) {
			t.Fatal("AppendRouted does not reproduce the body")
		}
		if binary.BigEndian.Uint32(frame) != uint32(len(body)+1) {
			t.Fatal("AppendRouted frame length is wrong")
		}
		var re []byte
		switch r.Kind {
		case KindDatagram:
			dg, err := ParseDatagram(r.Rest)
			if err != nil {
				return
			}
			re = append(AppendDatagramRest(nil, string(dg.SrcService), string(dg.DstService)), dg.Payload...)
			if len(re) != DatagramRestLen(string(dg.SrcService), string(dg.DstService), len(dg.Payload)) {
				t.Fatal("DatagramRestLen disagrees with AppendDatagramRest")
			}
		case KindUnreachable:
			u, err := ParseUnreachable(r.Rest)
			if err != nil {
				return
			}
			re = u.Marshal()
		default:
			sf, err := ParseStreamFrame(r.Kind, r.Rest)
			if err != nil {
				return
			}
			re = append(AppendStreamRest(nil, r.Kind, &sf), sf.Payload...)
			if len(re) != StreamRestLen(r.Kind, &sf) {
				t.Fatalf("kind %d: StreamRestLen %d, encoded %d", r.Kind, StreamRestLen(r.Kind, &sf), len(re))
			}
		}
		if !bytes.Equal(re, r.Rest) {
			t.Fatalf("kind %d: re-encoded rest differs:\n got % x\nwant % x", r.Kind, re, r.Rest)
		}
	})
}

// FuzzHandshake plays the dialer's side of a link with a fuzzed byte
// stream against a real server-side Handshake over net.Pipe. The
// handshake must fail (nobody can answer the server's random without a
// real TLS stack) and return within its Timeout; it must never panic.
func FuzzHandshake(f *testing.F) {
	server := testConfig(f, "fuzz-server", 1, 1, nil)
	server.Timeout = 100 * time.Millisecond
	f.Fuzz(func(t *testing.T, data []byte) {
		mine, peer := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			drained := make(chan struct{})
			go func() { // read whatever the server says, so it never blocks
				io.Copy(io.Discard, peer)
				close(drained)
			}()
			peer.Write(data)
			peer.Close()
			<-drained
		}()
		res := make(chan error, 1)
		go func() {
			p, err := Handshake(context.Background(), mine, true, server)
			if p != nil {
				p.Conn.NetConn().Close()
			}
			res <- err
		}()
		hang := time.NewTimer(hangBound)
		defer hang.Stop()
		select {
		case err := <-res:
			if err == nil {
				t.Fatal("a fuzzed byte stream completed the handshake")
			}
		case <-hang.C:
			t.Fatalf("Handshake did not return within %v (Timeout %v)", hangBound, server.Timeout)
		}
		<-done
	})
}
