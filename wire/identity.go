package wire

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Identity is a node's ID bound to its Ed25519 key. The TLS certificate is
// self-signed by that key and names the node in its subject, so a TLS
// handshake proves both.
type Identity struct {
	NodeID string
	Key    ed25519.PrivateKey
	cert   tls.Certificate
}

// NewIdentity builds the node's TLS certificate from its key.
func NewIdentity(nodeID string, key ed25519.PrivateKey) (*Identity, error) {
	if err := CheckName("node ID", nodeID); err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: nodeID},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("identity certificate: %w", err)
	}
	return &Identity{
		NodeID: nodeID,
		Key:    key,
		cert:   tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
	}, nil
}

// PublicKey returns the node's public key.
func (id *Identity) PublicKey() ed25519.PublicKey { return id.Key.Public().(ed25519.PublicKey) }

// GenerateKey makes a new Ed25519 identity key.
func GenerateKey() (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	return key, err
}

// LoadOrCreateKey reads the identity key at path (PEM, PKCS#8), creating
// it with mode 0600 on first start. created reports a new key.
func LoadOrCreateKey(path string) (key ed25519.PrivateKey, created bool, err error) {
	key, err = LoadKey(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	if key, err = GenerateKey(); err != nil {
		return nil, false, err
	}
	if err := WriteKey(path, key); err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// LoadKey reads an Ed25519 private key in PEM PKCS#8 form.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM \"PRIVATE KEY\" file", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: identity key must be Ed25519, found %T", path, k)
	}
	return key, nil
}

// WriteKey stores key at path with mode 0600, creating the directory
// (0700). It writes a temporary file and renames it, so a crash never
// leaves a half-written key.
func WriteKey(path string, key ed25519.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// TrustLine formats one line of a trust file for nodeID and pub.
func TrustLine(nodeID string, pub ed25519.PublicKey) string {
	return nodeID + " ed25519 " + base64.StdEncoding.EncodeToString(pub)
}
