package certs

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// pki is a CA and one node certificate for node, made with key type kt.
type pki struct {
	caCert, caKey []byte
	cert, key     []byte
	pool          *x509.CertPool
	leaf          *x509.Certificate
}

func newPKI(t *testing.T, kt KeyType, node string, sign SignOptions) pki {
	t.Helper()
	var p pki
	var err error
	p.caCert, p.caKey, err = InitCA(CAOptions{CommonName: "Test CA", KeyType: kt})
	if err != nil {
		t.Fatalf("InitCA: %v", err)
	}
	csr, key, err := MakeRequest(RequestOptions{
		CommonName: node, NodeIDs: []string{node}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyType: kt,
	})
	if err != nil {
		t.Fatalf("MakeRequest: %v", err)
	}
	p.key = key
	p.cert, err = SignRequest(csr, p.caCert, p.caKey, sign)
	if err != nil {
		t.Fatalf("SignRequest: %v", err)
	}
	p.pool = x509.NewCertPool()
	if !p.pool.AppendCertsFromPEM(p.caCert) {
		t.Fatal("CA certificate does not load into a pool")
	}
	if p.leaf, err = ParseCertificate(p.cert); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p pki) raw() [][]byte { return [][]byte{p.leaf.Raw} }

func TestRoundTripKeyTypes(t *testing.T) {
	for _, kt := range []KeyType{Ed25519, ECDSA, RSA} {
		t.Run(string(kt), func(t *testing.T) {
			p := newPKI(t, kt, "node1", SignOptions{})
			ids, err := NodeIDs(p.leaf)
			if err != nil || !slices.Equal(ids, []string{"node1"}) {
				t.Fatalf("NodeIDs = %q, %v; want [node1]", ids, err)
			}
			if !slices.Equal(p.leaf.DNSNames, []string{"localhost"}) || len(p.leaf.IPAddresses) != 1 {
				t.Errorf("DNS/IP SANs lost: %v %v", p.leaf.DNSNames, p.leaf.IPAddresses)
			}
			for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageAny} {
				if err := VerifyPeer(p.raw(), VerifyOptions{Roots: p.pool, NodeID: "node1", Usage: usage}); err != nil {
					t.Errorf("VerifyPeer(usage %v): %v", usage, err)
				}
			}
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")
			writeFile(t, certFile, p.cert)
			writeFile(t, keyFile, p.key)
			if _, err := LoadCertKey(certFile, keyFile); err != nil {
				t.Errorf("LoadCertKey: %v", err)
			}
		})
	}
}

func TestVerifyPeerRefusals(t *testing.T) {
	p := newPKI(t, Ed25519, "node1", SignOptions{})
	other := newPKI(t, Ed25519, "node1", SignOptions{})
	past := time.Now().Add(-48 * time.Hour)
	expired := newPKI(t, Ed25519, "node1", SignOptions{NotBefore: past, NotAfter: past.Add(time.Hour)})

	err := VerifyPeer(p.raw(), VerifyOptions{Roots: p.pool, NodeID: "node2"})
	var nodeErr *NodeIDError
	if !errors.As(err, &nodeErr) || err.Error() != "certificate is for node node1, not node2" {
		t.Errorf("wrong node: %v", err)
	}
	if err := VerifyPeer(p.raw(), VerifyOptions{Roots: p.pool, NodeID: "node2", SkipNodeIDCheck: true}); err != nil {
		t.Errorf("skipped node check: %v", err)
	}
	if err := VerifyPeer(p.raw(), VerifyOptions{Roots: p.pool, NodeID: "Node1"}); !errors.As(err, &nodeErr) {
		t.Errorf("node IDs compare exactly: %v", err)
	}
	if err := VerifyPeer(p.raw(), VerifyOptions{Roots: p.pool}); err == nil {
		t.Error("no expected node ID and no skip: accepted")
	}

	err = VerifyPeer(expired.raw(), VerifyOptions{Roots: expired.pool, NodeID: "node1"})
	if !errors.Is(err, ErrExpired) || !strings.HasPrefix(err.Error(), "certificate has expired") {
		t.Errorf("expired: %v", err)
	}
	if err := VerifyPeer(p.raw(), VerifyOptions{Roots: p.pool, NodeID: "node1", Now: time.Now().Add(time.Hour)}); err != nil {
		t.Errorf("injected time inside the period: %v", err)
	}
	if err := VerifyPeer(p.raw(), VerifyOptions{Roots: p.pool, NodeID: "node1", Now: time.Now().AddDate(2, 0, 0)}); !errors.Is(err, ErrExpired) {
		t.Errorf("now injected past notafter: %v", err)
	}
	if err := VerifyPeer(p.raw(), VerifyOptions{Roots: p.pool, NodeID: "node1", Now: time.Now().Add(-time.Hour)}); !errors.Is(err, ErrNotYetValid) {
		t.Errorf("before notbefore: %v", err)
	}

	err = VerifyPeer(p.raw(), VerifyOptions{Roots: other.pool, NodeID: "node1"})
	if !errors.Is(err, ErrUnknownAuthority) || !strings.HasPrefix(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("another CA: %v", err)
	}
	if err := VerifyPeer(nil, VerifyOptions{Roots: p.pool, NodeID: "node1"}); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("no certificate: %v", err)
	}
	if err := VerifyPeer([][]byte{[]byte("junk")}, VerifyOptions{Roots: p.pool, NodeID: "node1"}); err == nil {
		t.Error("junk certificate accepted")
	}
}

func TestVerifyPeerPins(t *testing.T) {
	p := newPKI(t, ECDSA, "n1", SignOptions{})
	pins, err := ParsePins([]string{Fingerprint(p.leaf)})
	if err != nil {
		t.Fatal(err)
	}
	if !PinnedMatch(p.leaf, pins) {
		t.Fatal("own fingerprint does not match")
	}
	if err := VerifyPeer(p.raw(), VerifyOptions{Roots: p.pool, NodeID: "n1", Pins: pins}); err != nil {
		t.Errorf("pinned: %v", err)
	}
	wrong, _ := ParsePins([]string{strings.Repeat("00", 64)})
	if err := VerifyPeer(p.raw(), VerifyOptions{Roots: p.pool, NodeID: "n1", Pins: wrong}); !errors.Is(err, ErrPinMismatch) {
		t.Errorf("wrong pin: %v", err)
	}
	// Lower case without colons, as receptor also accepts.
	lower := strings.ToLower(strings.ReplaceAll(Fingerprint(p.leaf), ":", ""))
	if pins, err := ParsePins([]string{lower}); err != nil || !PinnedMatch(p.leaf, pins) {
		t.Errorf("plain hex pin: %v", err)
	}
	for _, bad := range []string{"zz", "00:11", strings.Repeat("ab", 20)} {
		if _, err := ParsePins([]string{bad}); err == nil {
			t.Errorf("ParsePins(%q) accepted", bad)
		}
	}
}

func TestSignRequestChecks(t *testing.T) {
	caCert, caKey, err := InitCA(CAOptions{CommonName: "CA"})
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := InitCA(CAOptions{CommonName: "CA2"})
	csr, _, err := MakeRequest(RequestOptions{CommonName: "n", NodeIDs: []string{"n"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SignRequest(csr, caCert, otherKey, SignOptions{}); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("mismatched CA key: %v", err)
	}
	// A request whose signature does not verify.
	block, _ := pem.Decode(csr)
	block.Bytes[len(block.Bytes)-1] ^= 1
	if _, err := SignRequest(pem.EncodeToMemory(block), caCert, caKey, SignOptions{}); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("tampered request: %v", err)
	}
	noNames, _, _ := MakeRequest(RequestOptions{CommonName: "n"})
	if _, err := SignRequest(noNames, caCert, caKey, SignOptions{}); err == nil {
		t.Error("request without names signed")
	}
	now := time.Now()
	if _, err := SignRequest(csr, caCert, caKey, SignOptions{NotBefore: now, NotAfter: now.Add(-time.Hour)}); err == nil {
		t.Error("notafter before notbefore accepted")
	}
	// A node certificate cannot act as a CA.
	leaf, _ := SignRequest(csr, caCert, caKey, SignOptions{})
	csr2, key2, _ := MakeRequest(RequestOptions{CommonName: "m", NodeIDs: []string{"m"}})
	if _, err := SignRequest(csr2, leaf, key2, SignOptions{}); err == nil {
		t.Error("signed with a leaf certificate as CA")
	}
	if _, _, err := InitCA(CAOptions{CommonName: "x", KeyType: Ed25519, Bits: 2048}); err == nil {
		t.Error("bits with ed25519 accepted")
	}
}

func TestMakeRequestExistingKey(t *testing.T) {
	_, keyPEM, err := MakeRequest(RequestOptions{CommonName: "a", NodeIDs: []string{"a"}, KeyType: RSA})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	csrPEM, newKey, err := MakeRequest(RequestOptions{CommonName: "a", NodeIDs: []string{"a", "b"}, Key: key})
	if err != nil || newKey != nil {
		t.Fatalf("MakeRequest with key: %v, new key %d bytes", err, len(newKey))
	}
	csr, err := ParseRequest(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !samePublicKey(csr.PublicKey, key.Public()) {
		t.Error("request does not use the given key")
	}
	if ids, _ := RequestNodeIDs(csr); !slices.Equal(ids, []string{"a", "b"}) {
		t.Errorf("node IDs %q", ids)
	}
}

func TestLoadCertKeyMismatch(t *testing.T) {
	a := newPKI(t, Ed25519, "a", SignOptions{})
	b := newPKI(t, Ed25519, "b", SignOptions{})
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.crt"), a.cert)
	writeFile(t, filepath.Join(dir, "b.key"), b.key)
	_, err := LoadCertKey(filepath.Join(dir, "a.crt"), filepath.Join(dir, "b.key"))
	if err == nil || !strings.Contains(err.Error(), "does not match certificate") || !strings.Contains(err.Error(), "b.key") {
		t.Errorf("mismatched key: %v", err)
	}
	if _, err := LoadCertKey(filepath.Join(dir, "missing.crt"), filepath.Join(dir, "b.key")); err == nil || !strings.Contains(err.Error(), "missing.crt") {
		t.Errorf("missing cert: %v", err)
	}
	writeFile(t, filepath.Join(dir, "ca.crt"), append(a.caCert, b.caCert...))
	pool, err := LoadPool(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyPeer(b.raw(), VerifyOptions{Roots: pool, NodeID: "b"}); err != nil {
		t.Errorf("bundle with both CAs: %v", err)
	}
	if _, err := LoadPool(filepath.Join(dir, "b.key")); err == nil || !strings.Contains(err.Error(), "no PEM certificates") {
		t.Errorf("pool from a key file: %v", err)
	}
}

// receptorSAN is the DER receptor writes for dNSName=localhost, node=foo
// (spec/receptor-mesh.md 6.3, verified against receptor).
const receptorSAN = "301f82096c6f63616c686f7374a012060" + "92b0601040192081301a0050c03666f6f"

func TestReceptorSANBytes(t *testing.T) {
	want, _ := hex.DecodeString(receptorSAN)
	got, err := MarshalSAN([]string{"localhost"}, nil, []string{"foo"})
	if err != nil || hex.EncodeToString(got) != hex.EncodeToString(want) {
		t.Fatalf("MarshalSAN = %x, %v; want %x", got, err, want)
	}
	ids, err := ParseSANNodeIDs(want)
	if err != nil || !slices.Equal(ids, []string{"foo"}) {
		t.Fatalf("ParseSANNodeIDs = %q, %v", ids, err)
	}
	// A long node ID, which receptor's encoder mangles, round-trips here.
	long := strings.Repeat("n", 300)
	der, err := MarshalSAN(nil, nil, []string{long})
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := ParseSANNodeIDs(der); err != nil || !slices.Equal(ids, []string{long}) {
		t.Fatalf("long node ID: %v", err)
	}
}

// TestNodeIDsHandBuiltCertificate puts receptor's exact SAN bytes, marked
// critical, into a certificate and checks NodeIDs and VerifyPeer read it.
func TestNodeIDsHandBuiltCertificate(t *testing.T) {
	caCert, caKey, _ := InitCA(CAOptions{CommonName: "CA"})
	san, _ := hex.DecodeString("3016a014060" + "92b0601040192081301a0070c056e6f646531")
	csrPEM, _, err := MakeRequest(RequestOptions{CommonName: "node1", NodeIDs: []string{"node1"}})
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := ParseRequest(csrPEM)
	if got := csr.Extensions[0].Value; hex.EncodeToString(got) != hex.EncodeToString(san) {
		t.Fatalf("request SAN %x, want %x", got, san)
	}
	tmpl, err := leafTemplate(csr, SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl.ExtraExtensions[0].Critical = true // only an otherName: Go leaves it unhandled
	ca, _ := ParseCertificate(caCert)
	key, _ := ParseKey(caKey)
	der, err := x509.CreateCertificate(nil, tmpl, ca, csr.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := NodeIDs(cert); err != nil || !slices.Equal(ids, []string{"node1"}) {
		t.Fatalf("NodeIDs = %q, %v", ids, err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if err := VerifyPeer([][]byte{der}, VerifyOptions{Roots: pool, NodeID: "node1"}); err != nil {
		t.Errorf("critical otherName-only SAN: %v", err)
	}
}

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSignWithReceptorRSAKey: receptor writes its CA key as PKCS#1
// ("RSA PRIVATE KEY"); signreq reads it.
func TestSignWithReceptorRSAKey(t *testing.T) {
	caCert, caKey, err := InitCA(CAOptions{CommonName: "CA", KeyType: RSA})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ParseKey(caKey)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))})
	csr, _, _ := MakeRequest(RequestOptions{CommonName: "n", NodeIDs: []string{"n"}})
	if _, err := SignRequest(csr, caCert, pkcs1, SignOptions{}); err != nil {
		t.Fatalf("sign with PKCS#1 CA key: %v", err)
	}
}
