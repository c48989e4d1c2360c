package wire

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// hangBound is how long a test waits for a handshake before calling it
// hung. It is a deadlock detector, not a performance threshold: every
// handshake here has a Timeout well below it.
const hangBound = 10 * time.Second

// testConfig is one side of a handshake: node id with key seed, a fixed
// cost and optional trust.
func testConfig(t testing.TB, id string, seed byte, cost float64, trust *Trust) *HandshakeConfig {
	t.Helper()
	ident, err := NewIdentity(id, testKey(seed))
	if err != nil {
		t.Fatal(err)
	}
	return &HandshakeConfig{
		Identity: ident,
		Trust:    trust,
		Cost:     func(string, ed25519.PublicKey) (float64, error) { return cost, nil },
		Timeout:  5 * time.Second,
	}
}

// trustOf pins the given node IDs to the keys of the given seeds.
func trustOf(t testing.TB, pairs ...any) *Trust {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(pairs); i += 2 {
		fmt.Fprintln(&b, TrustLine(pairs[i].(string), testPub(byte(pairs[i+1].(int)))))
	}
	tr, err := ParseTrust("test-trust", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// connPair returns two connected ends: "pipe" (net.Pipe, unbuffered) or
// "tcp" (loopback).
func connPair(t testing.TB, transport string) (dialer, server net.Conn) {
	t.Helper()
	if transport == "pipe" {
		return net.Pipe()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a := <-ch
	if a.err != nil {
		d.Close()
		t.Fatal(a.err)
	}
	return d, a.c
}

type outcome struct {
	peer *Peer
	err  error
}

// await waits for one side's result, failing the test if it hangs.
func await(t testing.TB, side string, ch <-chan outcome) outcome {
	t.Helper()
	select {
	case o := <-ch:
		if o.peer != nil {
			// Close the transport, not the tls.Conn: its close_notify
			// would wait up to 5 s for a pipe nobody reads any more.
			t.Cleanup(func() { o.peer.Conn.NetConn().Close() })
		}
		return o
	case <-time.After(hangBound):
		t.Fatalf("%s handshake did not return within %v", side, hangBound)
		return outcome{}
	}
}

// handshakePair runs a dialer and a server handshake against each other.
func handshakePair(t testing.TB, transport string, dialer, server *HandshakeConfig) (d, s outcome) {
	t.Helper()
	dc, sc := connPair(t, transport)
	dch, sch := make(chan outcome, 1), make(chan outcome, 1)
	go func() {
		p, err := Handshake(context.Background(), sc, true, server)
		sch <- outcome{p, err}
	}()
	go func() {
		p, err := Handshake(context.Background(), dc, false, dialer)
		dch <- outcome{p, err}
	}()
	return await(t, "dialer", dch), await(t, "server", sch)
}

var transports = []string{"tcp", "pipe"}

func TestHandshakeSuccess(t *testing.T) {
	for _, transport := range transports {
		for _, costs := range [][2]float64{{1, 3}, {3, 1}, {2.5, 2.5}} {
			t.Run(fmt.Sprintf("%s/%v", transport, costs), func(t *testing.T) {
				trust := trustOf(t, "node-a", 1, "node-b", 2)
				a := testConfig(t, "node-a", 1, costs[0], trust)
				b := testConfig(t, "node-b", 2, costs[1], trust)
				var costAsked [2]string
				a.Cost = func(id string, key ed25519.PublicKey) (float64, error) {
					costAsked[0] = id
					if !key.Equal(testPub(2)) {
						return 0, errors.New("cost callback got the wrong key")
					}
					return costs[0], nil
				}
				b.Cost = func(id string, key ed25519.PublicKey) (float64, error) {
					costAsked[1] = id
					return costs[1], nil
				}
				d, s := handshakePair(t, transport, a, b)
				if d.err != nil || s.err != nil {
					t.Fatalf("dialer: %v; server: %v", d.err, s.err)
				}
				want := max(costs[0], costs[1])
				if d.peer.NodeID != "node-b" || !d.peer.Key.Equal(testPub(2)) || d.peer.Cost != want {
					t.Errorf("dialer sees %s cost %v", d.peer.NodeID, d.peer.Cost)
				}
				if s.peer.NodeID != "node-a" || !s.peer.Key.Equal(testPub(1)) || s.peer.Cost != want {
					t.Errorf("server sees %s cost %v", s.peer.NodeID, s.peer.Cost)
				}
				if costAsked != [2]string{"node-b", "node-a"} {
					t.Errorf("Cost asked about %q", costAsked)
				}
				st := d.peer.Conn.ConnectionState()
				if st.Version != tls.VersionTLS13 || st.NegotiatedProtocol != alpn {
					t.Errorf("TLS version %#x, ALPN %q", st.Version, st.NegotiatedProtocol)
				}
				exchangeFrames(t, d.peer, s.peer)
			})
		}
	}
}

// exchangeFrames checks that the link carries frames both ways after the
// handshake, through the Readers the handshake returned.
func exchangeFrames(t *testing.T, a, b *Peer) {
	t.Helper()
	for _, dir := range [][2]*Peer{{a, b}, {b, a}} {
		from, to := dir[0], dir[1]
		body := []byte("after the hello from " + to.NodeID)
		errc := make(chan error, 1)
		go func() {
			err := WriteFrame(from.Conn, FrameRouted, body)
			if err == nil {
				err = from.Flush()
			}
			errc <- err
		}()
		typ, got, err := to.Reader.ReadFrame()
		if err != nil {
			t.Fatalf("read after handshake: %v", err)
		}
		if typ != FrameRouted || string(got.B) != string(body) {
			t.Fatalf("got frame %d %q", typ, got.B)
		}
		PutBuf(got)
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

func TestHandshakeOpenMode(t *testing.T) {
	// No trust on either side: any key joins (encrypted, unauthenticated).
	d, s := handshakePair(t, "tcp", testConfig(t, "a", 1, 1, nil), testConfig(t, "b", 7, 1, nil))
	if d.err != nil || s.err != nil {
		t.Fatalf("dialer: %v; server: %v", d.err, s.err)
	}
}

// checkRefusedByTLS checks the error of the side whose certificate was
// refused: the TLS alert the refusing side sent (crypto/tls reports a
// received alert as "remote error: tls: ..."), or a RejectedError.
func checkRefusedByTLS(t *testing.T, side string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: handshake succeeded", side)
	}
	var rej *RejectedError
	if errors.As(err, &rej) || strings.Contains(err.Error(), "remote error: tls: bad certificate") {
		return
	}
	t.Fatalf("%s: got %v, want a TLS alert or a RejectedError", side, err)
}

func TestHandshakeTrust(t *testing.T) {
	tests := []struct {
		name                 string
		dialer, server       *HandshakeConfig
		refusedBy, errorText string
	}{
		{
			name:      "server refuses unlisted dialer",
			dialer:    testConfig(t, "intruder", 3, 1, nil),
			server:    testConfig(t, "node-b", 2, 1, trustOf(t, "node-a", 1)),
			refusedBy: "server", errorText: "node intruder is not listed in trust file test-trust",
		},
		{
			name:      "server refuses a listed dialer with another key",
			dialer:    testConfig(t, "node-a", 3, 1, nil),
			server:    testConfig(t, "node-b", 2, 1, trustOf(t, "node-a", 1)),
			refusedBy: "server", errorText: "node node-a presented a key that differs from trust file test-trust",
		},
		{
			name:      "dialer refuses unlisted server",
			dialer:    testConfig(t, "node-a", 1, 1, trustOf(t, "node-b", 2)),
			server:    testConfig(t, "node-c", 3, 1, nil),
			refusedBy: "dialer", errorText: "node node-c is not listed",
		},
		{
			name:      "dialer refuses a listed server with another key",
			dialer:    testConfig(t, "node-a", 1, 1, trustOf(t, "node-b", 2)),
			server:    testConfig(t, "node-b", 4, 1, nil),
			refusedBy: "dialer", errorText: "node node-b presented a key that differs",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, s := handshakePair(t, "tcp", tt.dialer, tt.server)
			refuser, refused, refusedSide := s, d, "dialer"
			if tt.refusedBy == "dialer" {
				refuser, refused, refusedSide = d, s, "server"
			}
			if refuser.err == nil || !strings.Contains(refuser.err.Error(), tt.errorText) {
				t.Fatalf("%s: got %v, want %q", tt.refusedBy, refuser.err, tt.errorText)
			}
			t.Logf("%s: %v", refusedSide, refused.err)
			checkRefusedByTLS(t, refusedSide, refused.err)
		})
	}
}

func TestHandshakeCostRejects(t *testing.T) {
	for _, transport := range transports {
		for _, rejecter := range []string{"server", "dialer"} {
			t.Run(transport+"/"+rejecter, func(t *testing.T) {
				a := testConfig(t, "node-a", 1, 1, nil)
				b := testConfig(t, "node-b", 2, 1, nil)
				reason := errors.New("node node-x is not allowed here")
				victim := "dialer"
				if rejecter == "server" {
					b.Cost = func(string, ed25519.PublicKey) (float64, error) { return 0, reason }
				} else {
					a.Cost = func(string, ed25519.PublicKey) (float64, error) { return 0, reason }
					victim = "server"
				}
				d, s := handshakePair(t, transport, a, b)
				mine, theirs := s, d
				if rejecter == "dialer" {
					mine, theirs = d, s
				}
				if !errors.Is(mine.err, reason) {
					t.Fatalf("%s: got %v, want its own Cost error", rejecter, mine.err)
				}
				var rej *RejectedError
				if !errors.As(theirs.err, &rej) || rej.Reason != reason.Error() {
					t.Fatalf("%s: got %v, want RejectedError %q", victim, theirs.err, reason)
				}
				if got := theirs.err.Error(); got != "refused by peer: "+reason.Error() {
					t.Fatalf("%s: error text %q", victim, got)
				}
			})
		}
	}
}

// TestHandshakeInvalidLocalCost: a Cost callback that returns a cost the
// peer would refuse is caught locally and reported to the peer.
func TestHandshakeInvalidLocalCost(t *testing.T) {
	for _, bad := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		a := testConfig(t, "node-a", 1, 1, nil)
		b := testConfig(t, "node-b", 2, bad, nil)
		d, s := handshakePair(t, "tcp", a, b)
		if s.err == nil || !strings.Contains(s.err.Error(), "invalid local cost") {
			t.Fatalf("cost %v: server got %v", bad, s.err)
		}
		var rej *RejectedError
		if !errors.As(d.err, &rej) {
			t.Fatalf("cost %v: dialer got %v", bad, d.err)
		}
	}
}

func TestHandshakeRejectReasonSanitized(t *testing.T) {
	a := testConfig(t, "node-a", 1, 1, nil)
	b := testConfig(t, "node-b", 2, 1, nil)
	b.Cost = func(string, ed25519.PublicKey) (float64, error) {
		return 0, errors.New("evil\x1b[2J\nreason" + strings.Repeat("x", 500))
	}
	d, _ := handshakePair(t, "tcp", a, b)
	var rej *RejectedError
	if !errors.As(d.err, &rej) {
		t.Fatalf("got %v", d.err)
	}
	if !strings.HasPrefix(rej.Reason, "evil?[2J?reason") || len(rej.Reason) != 200 {
		t.Fatalf("reason %q (%d bytes) not sanitized", rej.Reason, len(rej.Reason))
	}
	for _, r := range rej.Reason {
		if r < 0x20 || r == 0x7f {
			t.Fatalf("control character %q in reason", r)
		}
	}
}

// TestHandshakeSilentPeer: a peer that connects (or accepts) and then says
// nothing is cut off by the handshake Timeout.
func TestHandshakeSilentPeer(t *testing.T) {
	for _, transport := range transports {
		for _, isServer := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/server=%v", transport, isServer), func(t *testing.T) {
				mine, silent := connPair(t, transport)
				defer silent.Close()
				hc := testConfig(t, "node-a", 1, 1, nil)
				hc.Timeout = 300 * time.Millisecond
				ch := make(chan outcome, 1)
				go func() {
					p, err := Handshake(context.Background(), mine, isServer, hc)
					ch <- outcome{p, err}
				}()
				o := await(t, "silent-peer", ch)
				if o.err == nil {
					t.Fatal("handshake with a silent peer succeeded")
				}
				var ne net.Error
				if !errors.As(o.err, &ne) || !ne.Timeout() {
					if !errors.Is(o.err, context.DeadlineExceeded) {
						t.Fatalf("got %v, want a timeout", o.err)
					}
				}
			})
		}
	}
}

// TestHandshakeStalledAfterTLS: the peer completes TLS but never sends its
// hello; the Timeout covers the hello exchange too.
func TestHandshakeStalledAfterTLS(t *testing.T) {
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			// The Timeout must outlast the TLS part for the test to reach
			// the hello; on a loaded machine, try again with more time.
			for timeout := 300 * time.Millisecond; timeout < hangBound/2; timeout *= 4 {
				server := testConfig(t, "node-a", 1, 1, nil)
				tlsDone := false
				server.Cost = func(string, ed25519.PublicKey) (float64, error) { tlsDone = true; return 1, nil }
				o, _ := scriptedPeer(t, transport, server, testConfig(t, "node-b", 2, 1, nil),
					func(tc *tls.Conn) error {
						_, err := io.Copy(io.Discard, tc) // read, never write
						return err
					}, timeout)
				if !tlsDone {
					t.Logf("TLS did not finish within %v; retrying", timeout)
					continue
				}
				if o.err == nil || !strings.Contains(o.err.Error(), "read hello") {
					t.Fatalf("got %v, want a failed hello read", o.err)
				}
				return
			}
			t.Fatal("TLS never finished within the Timeout")
		})
	}
}

// scriptedPeer runs Handshake as the server over transport against a peer
// that does the TLS part of a handshake with evil's identity and then runs
// script on the TLS connection instead of meshd's hello exchange.
func scriptedPeer(t *testing.T, transport string, server, evil *HandshakeConfig, script func(tc *tls.Conn) error, timeout time.Duration) (outcome, error) {
	t.Helper()
	dc, sc := connPair(t, transport)
	server.Timeout = timeout
	sch := make(chan outcome, 1)
	go func() {
		p, err := Handshake(context.Background(), sc, true, server)
		sch <- outcome{p, err}
	}()
	evilErr := make(chan error, 1)
	go func() {
		defer dc.Close()
		tc := tls.Client(dc, tlsConfig(evil))
		_ = dc.SetDeadline(time.Now().Add(hangBound / 2))
		if err := tc.Handshake(); err != nil {
			evilErr <- err
			return
		}
		evilErr <- script(tc)
	}()
	o := await(t, "server", sch)
	select {
	case err := <-evilErr:
		return o, err
	case <-time.After(hangBound):
		t.Fatal("scripted peer did not finish")
		return o, nil
	}
}

// sendThenDrain returns a script that sends frames and then reads until
// the server closes the link.
func sendThenDrain(frames ...func(w io.Writer) error) func(tc *tls.Conn) error {
	return func(tc *tls.Conn) error {
		errc := make(chan error, 1)
		go func() { // read concurrently, so an unbuffered pipe cannot deadlock
			_, err := io.Copy(io.Discard, tc)
			errc <- err
		}()
		for _, f := range frames {
			if err := f(tc); err != nil {
				tc.NetConn().Close()
				<-errc
				return err
			}
		}
		return <-errc
	}
}

func helloFrame(h Hello) func(w io.Writer) error {
	return func(w io.Writer) error { return WriteFrame(w, FrameHello, h.Marshal()) }
}

func rawFrame(typ byte, body []byte) func(w io.Writer) error {
	return func(w io.Writer) error { return WriteFrame(w, typ, body) }
}

func TestHandshakeBadHello(t *testing.T) {
	tests := []struct {
		name   string
		script func(tc *tls.Conn) error
		want   string
	}{
		{"hello names another node", sendThenDrain(helloFrame(Hello{Version: ProtocolVersion, NodeID: "node-c", Cost: 1})),
			`hello names node "node-c" but the peer authenticated as "node-b"`},
		{"wrong version", sendThenDrain(helloFrame(Hello{Version: 9, NodeID: "node-b", Cost: 1})), "unsupported protocol version 9"},
		{"zero cost", sendThenDrain(helloFrame(Hello{Version: ProtocolVersion, NodeID: "node-b", Cost: 0})), "invalid cost"},
		{"not a hello frame", sendThenDrain(rawFrame(FrameKeepalive, nil)), "expected hello, got frame type 4"},
		{"garbage hello body", sendThenDrain(rawFrame(FrameHello, []byte("MESHD garbage"))), "hello:"},
		{"empty frame", sendThenDrain(func(w io.Writer) error { _, err := w.Write([]byte{0, 0, 0, 0, 1}); return err }), "empty frame"},
		{"oversize frame", sendThenDrain(func(w io.Writer) error { _, err := w.Write([]byte{0xff, 0xff, 0xff, 0xff, 1}); return err }), "oversize frame"},
		{"truncated hello then close", func(tc *tls.Conn) error {
			_, err := tc.Write([]byte{0, 0, 0, 20, FrameHello, 'M'})
			tc.Close()
			return err
		}, "truncated frame body"},
		{"close before hello", func(tc *tls.Conn) error { return tc.Close() }, "read hello: EOF"},
	}
	for _, transport := range transports {
		for _, tt := range tests {
			t.Run(transport+"/"+tt.name, func(t *testing.T) {
				o, _ := scriptedPeer(t, transport, testConfig(t, "node-a", 1, 1, nil), testConfig(t, "node-b", 2, 1, nil), tt.script, 5*time.Second)
				if o.err == nil || !strings.Contains(o.err.Error(), tt.want) {
					t.Fatalf("got %v, want %q", o.err, tt.want)
				}
			})
		}
	}
}

// TestHandshakePlaintextPeer: something that does not speak TLS at all.
func TestHandshakePlaintextPeer(t *testing.T) {
	inputs := map[string][]byte{
		"http":         []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"receptor":     []byte(`{"cmd":"HELLO","id":"foo"}` + "\n"),
		"meshd hello":  append(AppendFrameHeader(nil, FrameHello, 20), (&Hello{ProtocolVersion, "node-b", 1}).Marshal()...),
		"tls-ish":      {0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3},
		"zeros":        make([]byte, 4096),
		"nothing":      nil,
		"huge garbage": []byte(strings.Repeat("\xff", 70000)),
	}
	for _, transport := range transports {
		for name, in := range inputs {
			for _, isServer := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/%s/server=%v", transport, name, isServer), func(t *testing.T) {
					mine, peer := connPair(t, transport)
					go func() {
						defer peer.Close()
						go io.Copy(io.Discard, peer)
						peer.Write(in)
					}()
					hc := testConfig(t, "node-a", 1, 1, nil)
					hc.Timeout = time.Second
					ch := make(chan outcome, 1)
					go func() {
						p, err := Handshake(context.Background(), mine, isServer, hc)
						ch <- outcome{p, err}
					}()
					if o := await(t, "handshake", ch); o.err == nil {
						t.Fatal("handshake with a plaintext peer succeeded")
					}
				})
			}
		}
	}
}

func TestHandshakeContextCancelled(t *testing.T) {
	mine, peer := connPair(t, "tcp")
	defer peer.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ch := make(chan outcome, 1)
	go func() {
		p, err := Handshake(ctx, mine, false, testConfig(t, "node-a", 1, 1, nil))
		ch <- outcome{p, err}
	}()
	if o := await(t, "handshake", ch); o.err == nil {
		t.Fatal("handshake with a cancelled context succeeded")
	}
}

// TestHandshakeCancelDuringHello: cancelling the context while the hello
// exchange waits on a stalled peer ends the handshake then, not at the
// Timeout.
func TestHandshakeCancelDuringHello(t *testing.T) {
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			mine, peer := connPair(t, transport)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			hc := testConfig(t, "node-a", 1, 1, nil)
			hc.Timeout = time.Hour // only the cancellation can end it
			hc.Cost = func(string, ed25519.PublicKey) (float64, error) {
				cancel() // TLS is done; the hello exchange comes next
				return 1, nil
			}
			peerDone := make(chan error, 1)
			go func() { // completes TLS, then only reads
				defer peer.Close()
				tc := tls.Client(peer, tlsConfig(testConfig(t, "node-b", 2, 1, nil)))
				if err := tc.Handshake(); err != nil {
					peerDone <- err
					return
				}
				_, err := io.Copy(io.Discard, tc)
				peerDone <- err
			}()
			ch := make(chan outcome, 1)
			go func() {
				p, err := Handshake(ctx, mine, true, hc)
				ch <- outcome{p, err}
			}()
			o := await(t, "handshake", ch)
			if !errors.Is(o.err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", o.err)
			}
			<-peerDone
		})
	}
}

// TestPeerIdentity: certificates a meshd node never makes are refused.
func TestPeerIdentity(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := func(cn string) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	}
	mk := func(tm *x509.Certificate, pub, signer any) []byte {
		der, err := x509.CreateCertificate(rand.Reader, tm, tm, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	tests := []struct {
		name string
		raw  [][]byte
		want string
	}{
		{"no certificate", nil, "peer sent no certificate"},
		{"garbage", [][]byte{[]byte("not DER")}, "peer certificate:"},
		{"ecdsa key", [][]byte{mk(tmpl("node-a"), &ec.PublicKey, ec)}, "peer key is *ecdsa.PublicKey, want Ed25519"},
		{"signed by another key", [][]byte{mk(tmpl("node-a"), testPub(1), testKey(2))}, "not signed by its own key"},
		{"empty node ID", [][]byte{mk(tmpl(""), testPub(1), testKey(1))}, "peer certificate: empty node ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verifyIdentity(tt.raw, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	good := mk(tmpl("node-a"), testPub(1), testKey(1))
	if err := verifyIdentity([][]byte{good}, nil); err != nil {
		t.Fatalf("good certificate, open mode: %v", err)
	}
	if err := verifyIdentity([][]byte{good}, trustOf(t, "node-a", 2)); err == nil {
		t.Fatal("good certificate with a key the trust file does not list")
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"plain reason":     "plain reason",
		"tab\tnl\ndel\x7f": "tab?nl?del?",
		"utf8 ✓":           "utf8 ✓",
		"bad \xff utf8":    "bad \uFFFD utf8",
		"":                 "",
	} {
		if got := sanitize([]byte(in)); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}
