package wire

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"meshd/certs"
	"meshd/internal/testpki"
)

// newTestCA is a receptor-style CA of key type kt.
func newTestCA(t *testing.T, kt certs.KeyType) *testpki.CA {
	return testpki.New(t, "Test CA "+string(kt), kt)
}

// caPair is a server and a dialer, each with a certificate of ca for
// its own node ID, verifying each other.
func caPair(t *testing.T, ca *testpki.CA, kt certs.KeyType) (dialer, server *HandshakeConfig) {
	t.Helper()
	dialer = testConfig(t, "node-a", 1, 1, nil)
	server = testConfig(t, "node-b", 2, 1, nil)
	dialer.X509 = &X509{Certificate: ca.Issue(t, kt, certs.SignOptions{}, "node-a"), Roots: ca.Pool, VerifyPeer: true, ServerName: "127.0.0.1"}
	server.X509 = &X509{Certificate: ca.Issue(t, kt, certs.SignOptions{}, "node-b"), Roots: ca.Pool, VerifyPeer: true}
	return dialer, server
}

func TestX509HandshakeKeyTypes(t *testing.T) {
	for _, kt := range []certs.KeyType{certs.Ed25519, certs.ECDSA, certs.RSA} {
		for _, transport := range transports {
			t.Run(string(kt)+"/"+transport, func(t *testing.T) {
				dialer, server := caPair(t, newTestCA(t, kt), kt)
				d, s := handshakePair(t, transport, dialer, server)
				if d.err != nil || s.err != nil {
					t.Fatalf("dialer: %v, server: %v", d.err, s.err)
				}
				// Each side learns the other's Ed25519 identity key
				// from the proof, not from the certificate.
				if d.peer.NodeID != "node-b" || !d.peer.Key.Equal(testPub(2)) {
					t.Errorf("dialer sees %s %x", d.peer.NodeID, d.peer.Key)
				}
				if s.peer.NodeID != "node-a" || !s.peer.Key.Equal(testPub(1)) {
					t.Errorf("server sees %s %x", s.peer.NodeID, s.peer.Key)
				}
				exchangeFrames(t, d.peer, s.peer)
			})
		}
	}
}

func TestX509HandshakeRefusals(t *testing.T) {
	ca := newTestCA(t, certs.Ed25519)
	other := newTestCA(t, certs.Ed25519)
	expired := certs.SignOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}
	cases := []struct {
		name   string
		change func(dialer, server *HandshakeConfig)
		want   string // in the error of the side that refuses
		server bool   // the server refuses (else the dialer)
	}{
		{"dialer certificate for another node", func(d, s *HandshakeConfig) {
			d.X509.Certificate = ca.Issue(t, certs.Ed25519, certs.SignOptions{}, "node-x")
		}, "certificate is for node node-x, not node-a", true},
		{"server certificate for another node", func(d, s *HandshakeConfig) {
			s.X509.Certificate = ca.Issue(t, certs.Ed25519, certs.SignOptions{}, "node-x")
		}, "certificate is for node node-x, not node-b", false},
		{"dialer certificate of another CA", func(d, s *HandshakeConfig) {
			d.X509.Certificate = other.Issue(t, certs.Ed25519, certs.SignOptions{}, "node-a")
		}, "signed by unknown authority", true},
		{"server certificate of another CA", func(d, s *HandshakeConfig) {
			s.X509.Certificate = other.Issue(t, certs.Ed25519, certs.SignOptions{}, "node-b")
		}, "signed by unknown authority", false},
		{"expired dialer certificate", func(d, s *HandshakeConfig) {
			d.X509.Certificate = ca.Issue(t, certs.Ed25519, expired, "node-a")
		}, "certificate has expired", true},
		{"expired server certificate", func(d, s *HandshakeConfig) {
			s.X509.Certificate = ca.Issue(t, certs.Ed25519, expired, "node-b")
		}, "certificate has expired", false},
		{"dialer without a certificate", func(d, s *HandshakeConfig) {
			d.X509.Certificate = nil
		}, "client didn't provide a certificate", true},
		{"server name not in the certificate", func(d, s *HandshakeConfig) {
			d.X509.ServerName = "127.0.0.2"
		}, "127.0.0.2", false},
		{"dialer pin mismatch", func(d, s *HandshakeConfig) {
			d.X509.Pins = [][]byte{make([]byte, 32)}
		}, "does not match any pinned fingerprint", false},
		{"dialer in identity mode", func(d, s *HandshakeConfig) {
			d.X509 = nil
		}, "one end of this link uses certificate trust", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dialer, server := caPair(t, ca, certs.Ed25519)
			c.change(dialer, server)
			d, s := handshakePair(t, "tcp", dialer, server)
			if d.err == nil || s.err == nil {
				t.Fatalf("link came up: dialer %v, server %v", d.err, s.err)
			}
			refuser := d.err
			if c.server {
				refuser = s.err
			}
			if !strings.Contains(refuser.Error(), c.want) {
				t.Errorf("refusing side's error %q does not contain %q (other side: dialer %v / server %v)", refuser, c.want, d.err, s.err)
			}
		})
	}
}

func TestX509HandshakeOptions(t *testing.T) {
	ca := newTestCA(t, certs.ECDSA)
	other := newTestCA(t, certs.ECDSA)
	t.Run("skipreceptornamescheck", func(t *testing.T) {
		dialer, server := caPair(t, ca, certs.ECDSA)
		dialer.X509.Certificate = ca.Issue(t, certs.ECDSA, certs.SignOptions{})
		server.X509.SkipNodeIDCheck = true
		if d, s := handshakePair(t, "pipe", dialer, server); d.err != nil || s.err != nil {
			t.Fatalf("dialer: %v, server: %v", d.err, s.err)
		}
	})
	t.Run("server without client verification", func(t *testing.T) {
		// The dialer is then known by its Ed25519 key alone; the node's
		// key trust (here: a pinned list) decides.
		dialer, server := caPair(t, ca, certs.ECDSA)
		dialer.X509.Certificate = nil
		server.X509.VerifyPeer = false
		server.Trust = trustOf(t, "node-a", 1)
		if d, s := handshakePair(t, "pipe", dialer, server); d.err != nil || s.err != nil {
			t.Fatalf("dialer: %v, server: %v", d.err, s.err)
		}
	})
	t.Run("insecureskipverify with a matching pin", func(t *testing.T) {
		dialer, server := caPair(t, ca, certs.ECDSA)
		server.X509.Certificate = other.Issue(t, certs.ECDSA, certs.SignOptions{}, "node-b")
		leaf, _ := x509.ParseCertificate(server.X509.Certificate.Certificate[0])
		pins, err := certs.ParsePins([]string{certs.Fingerprint(leaf)})
		if err != nil {
			t.Fatal(err)
		}
		dialer.X509.VerifyPeer = false
		dialer.X509.Pins = pins
		if d, s := handshakePair(t, "pipe", dialer, server); d.err != nil || s.err != nil {
			t.Fatalf("dialer: %v, server: %v", d.err, s.err)
		}
	})
}

// A proof made for one TLS session does not verify in another.
func TestIdentityProofBoundToSession(t *testing.T) {
	ca := newTestCA(t, certs.Ed25519)
	var states []tls.ConnectionState
	for range 2 {
		dialer, server := caPair(t, ca, certs.Ed25519)
		d, s := handshakePair(t, "tcp", dialer, server)
		if d.err != nil || s.err != nil {
			t.Fatalf("dialer: %v, server: %v", d.err, s.err)
		}
		states = append(states, d.peer.Conn.ConnectionState())
	}
	ident, err := NewIdentity("node-a", testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	p, err := signIdentity(ident, states[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(states[0]); err != nil {
		t.Fatalf("own session: %v", err)
	}
	if err := p.Verify(states[1]); err == nil {
		t.Fatal("a replayed proof verified in another session")
	}
	q, err := ParseIdentityProof(p.Marshal())
	if err != nil || q.NodeID != p.NodeID || !q.PublicKey.Equal(p.PublicKey) {
		t.Fatalf("round trip: %+v, %v", q, err)
	}
	q.NodeID = "node-z"
	if err := q.Verify(states[0]); err == nil {
		t.Fatal("a proof with another node ID verified")
	}
}

// FuzzIdentityProof: any bytes either fail to parse or parse to a proof
// that encodes back to exactly those bytes.
func FuzzIdentityProof(f *testing.F) {
	ident, err := NewIdentity("node-a", testKey(1))
	if err != nil {
		f.Fatal(err)
	}
	good := (&IdentityProof{NodeID: ident.NodeID, PublicKey: ident.PublicKey(), Sig: make([]byte, 64)}).Marshal()
	for _, seed := range [][]byte{good, good[:len(good)-1], append(good, 0), []byte("MESHID"), nil, []byte("MESHD\x01")} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseIdentityProof(data)
		if err != nil {
			return
		}
		if got := p.Marshal(); string(got) != string(data) {
			t.Fatalf("re-encoding differs: %x vs %x", got, data)
		}
	})
}

// TestBindsNodeID: only a link whose peer chain is verified against
// configured CAs, with the node-ID check on, vouches for the peer's key.
func TestBindsNodeID(t *testing.T) {
	pool := x509.NewCertPool()
	for _, tt := range []struct {
		x    *X509
		want bool
	}{
		{nil, false},
		{&X509{VerifyPeer: true, Roots: pool}, true},
		{&X509{VerifyPeer: true}, false}, // system roots
		{&X509{VerifyPeer: true, Roots: pool, SkipNodeIDCheck: true}, false},
		{&X509{Roots: pool}, false},
	} {
		if got := tt.x.BindsNodeID(); got != tt.want {
			t.Errorf("%+v: BindsNodeID %v, want %v", tt.x, got, tt.want)
		}
	}
}
