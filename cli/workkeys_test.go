package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeygenWork writes a work key pair that a node then loads.
func TestKeygenWork(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "work.key")
	if err := runKeygen(io.Discard, []string{"--work", key}); err != nil {
		t.Fatal(err)
	}
	if err := runKeygen(io.Discard, []string{"--work", key}); err == nil {
		t.Error("keygen --work overwrote an existing key")
	}
	fi, err := os.Stat(key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v %v", fi, err)
	}
	cfg := workConfig(t, dir, "- work-signing: {privatekey: "+key+"}\n- work-verification: {publickey: "+key+".pub}\n")
	r, err := startNode(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
}

// TestWorkKeyErrors: a key that is missing, unreadable or of another kind
// stops the node at start with an error naming the entry.
func TestWorkKeyErrors(t *testing.T) {
	dir := t.TempDir()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	ecFile := filepath.Join(dir, "ec.pem")
	os.WriteFile(ecFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("not a key\n"), 0o600)
	tests := []struct{ entry, want string }{
		{"- work-signing: {privatekey: " + filepath.Join(dir, "missing") + "}", "entry 2 (work-signing): privatekey"},
		{"- work-signing: {privatekey: " + ecFile + "}", "use an Ed25519 or RSA key"},
		{"- work-verification: {publickey: " + garbage + "}", "entry 2 (work-verification): publickey"},
	}
	for _, tt := range tests {
		cfg := workConfig(t, dir, tt.entry+"\n")
		r, err := startNode(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil {
			r.Close()
			t.Errorf("%s: node started", tt.entry)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q lacks %q", tt.entry, err, tt.want)
		}
	}
}

func workConfig(t *testing.T, dir, extra string) *Config {
	t.Helper()
	cfg, err := ParseConfig("w.yaml", []byte("- node: {id: w1, datadir: "+dir+"}\n"+extra))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
