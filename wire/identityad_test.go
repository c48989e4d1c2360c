package wire

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"meshd/certs"
)

const adTime = int64(1700000000e9)

func mustSignAd(t *testing.T, nodeID string, cert *tls.Certificate) []byte {
	t.Helper()
	b, err := SignIdentityAd(nodeID, testPub(1), adTime, cert)
	if err != nil {
		t.Fatalf("SignIdentityAd: %v", err)
	}
	return b
}

// Ads signed by certificates of every key type receptor's PKI makes
// parse, verify against their CA and re-encode to the same bytes.
func TestIdentityAdKeyTypes(t *testing.T) {
	for _, kt := range []certs.KeyType{certs.Ed25519, certs.ECDSA, certs.RSA} {
		t.Run(string(kt), func(t *testing.T) {
			ca := newTestCA(t, kt)
			cert := ca.Issue(t, kt, certs.SignOptions{}, "node-a")
			body := mustSignAd(t, "node-a", cert)
			a, err := ParseIdentityAd(body)
			if err != nil {
				t.Fatal(err)
			}
			if a.NodeID != "node-a" || !a.PublicKey.Equal(testPub(1)) || a.Time != adTime || len(a.Chain) != len(cert.Certificate) {
				t.Fatalf("parsed %+v", a)
			}
			if err := a.Verify(ca.Pool, false); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !bytes.Equal(a.Marshal(), body) {
				t.Fatal("re-encoding differs")
			}
			if id, tm, err := PeekIdentityAd(body); err != nil || id != "node-a" || tm != adTime {
				t.Fatalf("PeekIdentityAd: %q %d %v", id, tm, err)
			}
		})
	}
}

// Verify refuses what a link would refuse.
func TestIdentityAdVerifyRefusals(t *testing.T) {
	ca := newTestCA(t, certs.ECDSA)
	other := newTestCA(t, certs.ECDSA)
	expired := certs.SignOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}
	cases := []struct {
		name  string
		cert  *tls.Certificate
		roots *x509.CertPool
		want  error
	}{
		{"another CA", other.Issue(t, certs.ECDSA, certs.SignOptions{}, "node-a"), ca.Pool, certs.ErrUnknownAuthority},
		{"expired", ca.Issue(t, certs.ECDSA, expired, "node-a"), ca.Pool, certs.ErrExpired},
		{"another node ID", ca.Issue(t, certs.ECDSA, certs.SignOptions{}, "node-b"), ca.Pool, &certs.NodeIDError{}},
		{"no node ID", ca.Issue(t, certs.ECDSA, certs.SignOptions{}), ca.Pool, &certs.NodeIDError{}},
		{"no roots", ca.Issue(t, certs.ECDSA, certs.SignOptions{}, "node-a"), nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := ParseIdentityAd(mustSignAd(t, "node-a", c.cert))
			if err != nil {
				t.Fatal(err) // well-formed and self-consistent: only Verify refuses it
			}
			err = a.Verify(c.roots, false)
			var idErr *certs.NodeIDError
			switch {
			case err == nil:
				t.Fatal("verified")
			case c.want == nil:
			case errors.As(c.want, &idErr):
				if !errors.As(err, &idErr) {
					t.Fatalf("got %v, want a node ID error", err)
				}
			case !errors.Is(err, c.want):
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	t.Run("another node ID with skipreceptornamescheck", func(t *testing.T) {
		a, err := ParseIdentityAd(mustSignAd(t, "node-a", ca.Issue(t, certs.ECDSA, certs.SignOptions{}, "node-b")))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Verify(ca.Pool, true); err != nil {
			t.Fatal(err)
		}
	})
}

// Any change to what the signature covers, and any malformed body, is
// refused by ParseIdentityAd.
func TestIdentityAdParseRefusals(t *testing.T) {
	ca := newTestCA(t, certs.RSA)
	good := mustSignAd(t, "node-a", ca.Issue(t, certs.RSA, certs.SignOptions{}, "node-a"))
	a, err := ParseIdentityAd(good)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(c *IdentityAd)) []byte { return editAd(a, f) }
	cases := map[string][]byte{
		"tampered key":     edit(func(c *IdentityAd) { c.PublicKey[0] ^= 1 }),
		"tampered time":    edit(func(c *IdentityAd) { c.Time++ }),
		"tampered node ID": edit(func(c *IdentityAd) { c.NodeID = "node-b" }),
		"tampered sig":     edit(func(c *IdentityAd) { c.Sig = append(bytes.Clone(c.Sig[1:]), c.Sig[0]^1) }),
		"zero time":        edit(func(c *IdentityAd) { c.Time = 0 }),
		"empty node ID":    edit(func(c *IdentityAd) { c.NodeID = "" }),
		"no certificates":  edit(func(c *IdentityAd) { c.Chain = nil }),
		"empty certificate": edit(func(c *IdentityAd) {
			c.Chain = append(c.Chain, nil)
		}),
		"garbage certificate": edit(func(c *IdentityAd) { c.Chain[0] = []byte("not DER") }),
		"too many certificates": edit(func(c *IdentityAd) {
			for len(c.Chain) <= MaxIdentityCerts {
				c.Chain = append(c.Chain, a.Chain[0])
			}
		}),
		"chain too large": edit(func(c *IdentityAd) {
			c.Chain = [][]byte{a.Chain[0], make([]byte, MaxIdentityChainBytes)}
		}),
		"signature too large": edit(func(c *IdentityAd) { c.Sig = make([]byte, MaxIdentitySigBytes+1) }),
		"empty signature":     edit(func(c *IdentityAd) { c.Sig = nil }),
		"bad version":         append([]byte{2}, good[1:]...),
		"trailing byte":       append(bytes.Clone(good), 0),
		"empty":               nil,
	}
	for i := 1; i < len(good); i += max(1, len(good)/40) {
		cases[fmt.Sprintf("truncated to %d bytes", i)] = good[:i]
	}
	for name, body := range cases {
		if _, err := ParseIdentityAd(body); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// editAd encodes a copy of a changed by f, without signing it again.
func editAd(a *IdentityAd, f func(c *IdentityAd)) []byte {
	c := *a
	c.PublicKey = bytes.Clone(a.PublicKey)
	c.Chain = append([][]byte(nil), a.Chain...)
	f(&c)
	return c.Marshal()
}

// SignIdentityAd refuses what would make an ad every node refuses.
func TestSignIdentityAdRefusals(t *testing.T) {
	ca := newTestCA(t, certs.Ed25519)
	cert := ca.Issue(t, certs.Ed25519, certs.SignOptions{}, "node-a")
	otherKey := *ca.Issue(t, certs.Ed25519, certs.SignOptions{}, "node-a")
	otherKey.Certificate = cert.Certificate // a key that is not the leaf's
	big := *cert
	for len(big.Certificate) <= MaxIdentityCerts {
		big.Certificate = append(big.Certificate, cert.Certificate[0])
	}
	badChain := *cert
	badChain.Certificate = [][]byte{cert.Certificate[0], []byte("not DER")} // X509KeyPair checks only the leaf
	for name, f := range map[string]func() ([]byte, error){
		"chain certificate that does not parse": func() ([]byte, error) { return SignIdentityAd("node-a", testPub(1), adTime, &badChain) },
		"key of another certificate":            func() ([]byte, error) { return SignIdentityAd("node-a", testPub(1), adTime, &otherKey) },
		"too many certificates":                 func() ([]byte, error) { return SignIdentityAd("node-a", testPub(1), adTime, &big) },
		"no certificate":                        func() ([]byte, error) { return SignIdentityAd("node-a", testPub(1), adTime, nil) },
		"zero time":                             func() ([]byte, error) { return SignIdentityAd("node-a", testPub(1), 0, cert) },
		"bad node ID":                           func() ([]byte, error) { return SignIdentityAd("", testPub(1), adTime, cert) },
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
}

// fixedIdentityCert is a CA and a certificate for node-a made from fixed
// Ed25519 keys, serials and dates, so that ads signed with it (and the
// fuzz seed corpus) are the same bytes on every run.
func fixedIdentityCert(t testing.TB) (*tls.Certificate, *x509.CertPool) {
	t.Helper()
	caKey, leafKey := testKey(20), testKey(21)
	from, until := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2120, 1, 1, 0, 0, 0, 0, time.UTC)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Fixed CA"},
		NotBefore: from, NotAfter: until, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(nil, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	san, err := certs.MarshalSAN(nil, nil, []string{"node-a"})
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "node-a"},
		NotBefore: from, NotAfter: until, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		ExtraExtensions: []pkix.Extension{{Id: certs.OIDSubjectAltName, Value: san}},
	}
	leafDER, err := x509.CreateCertificate(nil, leafTmpl, caCert, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}, pool
}

func TestFixedIdentityCert(t *testing.T) {
	cert, pool := fixedIdentityCert(t)
	again, _ := fixedIdentityCert(t)
	if !bytes.Equal(cert.Certificate[0], again.Certificate[0]) {
		t.Fatal("the fixed certificate differs between runs")
	}
	a, err := ParseIdentityAd(mustSignAd(t, "node-a", cert))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Verify(pool, false); err != nil {
		t.Fatal(err)
	}
}
