package wire

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "node")
	path := filepath.Join(dir, "identity.key")
	key, created, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatal("first call did not report a new key")
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	dst, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if dst.Mode().Perm()&0o077 != 0 {
		t.Fatalf("key directory mode %v is open to others", dst.Mode().Perm())
	}
	again, created, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if created || !again.Equal(key) {
		t.Fatalf("second call: created %v, same key %v", created, again.Equal(key))
	}
	// WriteKey leaves no temporary file behind.
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want only the key", len(ents))
	}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadKeyRefuses(t *testing.T) {
	dir := t.TempDir()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		write func(path string)
		want  string
	}{
		{"ecdsa pkcs8", func(p string) { writePEM(t, p, "PRIVATE KEY", ecDER) }, "must be Ed25519, found *ecdsa.PrivateKey"},
		{"garbage", func(p string) { os.WriteFile(p, []byte("not a key at all\n"), 0o600) }, `not a PEM "PRIVATE KEY" file`},
		{"empty", func(p string) { os.WriteFile(p, nil, 0o600) }, `not a PEM "PRIVATE KEY" file`},
		{"wrong PEM type", func(p string) { writePEM(t, p, "EC PRIVATE KEY", ecDER) }, `not a PEM "PRIVATE KEY" file`},
		{"garbage DER", func(p string) { writePEM(t, p, "PRIVATE KEY", []byte("garbage")) }, ""}, // the path, then the asn1 error
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			tt.write(path)
			before, _ := os.ReadFile(path)
			if _, err := LoadKey(path); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("LoadKey: %v; want the path and %q", err, tt.want)
			}
			// LoadOrCreateKey must not replace a file it cannot read: that
			// would silently give the node a new identity.
			if _, _, err := LoadOrCreateKey(path); err == nil {
				t.Fatal("LoadOrCreateKey accepted it")
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Fatal("LoadOrCreateKey overwrote an unreadable key file")
			}
		})
	}
}

func TestWriteKeyLoadKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	if err := WriteKey(path, testKey(5)); err != nil {
		t.Fatal(err)
	}
	if err := WriteKey(path, testKey(6)); err != nil { // replaces the old key
		t.Fatal(err)
	}
	k, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Equal(testKey(6)) {
		t.Fatal("loaded key differs from the one written last")
	}
}

func TestNewIdentity(t *testing.T) {
	id, err := NewIdentity("node-x", testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	if id.NodeID != "node-x" || !id.PublicKey().Equal(testPub(1)) {
		t.Fatalf("identity %s, key %x", id.NodeID, id.PublicKey())
	}
	cert, err := x509.ParseCertificate(id.cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	gotID, gotKey, err := peerIdentity([]*x509.Certificate{cert})
	if err != nil || gotID != "node-x" || !gotKey.Equal(testPub(1)) {
		t.Fatalf("peerIdentity: %q %x %v", gotID, gotKey, err)
	}
	for _, bad := range []string{"", strings.Repeat("n", MaxNameLen+1)} {
		if _, err := NewIdentity(bad, testKey(1)); err == nil {
			t.Errorf("NewIdentity(%.10q...) accepted", bad)
		}
	}
}

func TestTrustLineParses(t *testing.T) {
	tr, err := ParseTrust("x", []byte(TrustLine("node-q", testPub(9))))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Check("node-q", testPub(9)); err != nil {
		t.Fatal(err)
	}
}
