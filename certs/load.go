package certs

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// LoadCertKey reads a certificate (with any intermediates after it) and
// its private key, as a tls-server or tls-client entry names them. Errors
// name the file at fault, and a key that belongs to another certificate is
// said to be one.
func LoadCertKey(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read key: %w", err)
	}
	leaf, err := ParseCertificate(certPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", certFile, err)
	}
	key, err := ParseKey(keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", keyFile, err)
	}
	if !samePublicKey(key.Public(), leaf.PublicKey) {
		return tls.Certificate{}, fmt.Errorf("key %s does not match certificate %s (%s certificate for %q)",
			keyFile, certFile, keyTypeOf(leaf.PublicKey), leaf.Subject.CommonName)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s and %s: %w", certFile, keyFile, err)
	}
	return pair, nil
}

// LoadPool reads a PEM bundle of CA certificates (rootcas, clientcas). A
// file with no certificate, or a certificate that does not parse, is an
// error, where receptor would silently trust nothing.
func LoadPool(file string) (*x509.CertPool, error) {
	cas, err := LoadCAs(file)
	if err != nil {
		return nil, err
	}
	return NewPool(cas...), nil
}

// LoadCAs is LoadPool returning the certificates, for a caller that
// pools the CAs of several files.
func LoadCAs(file string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read CA bundle: %w", err)
	}
	var cas []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", file, len(cas)+1, err)
		}
		cas = append(cas, cert)
	}
	if len(cas) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificates found", file)
	}
	return cas, nil
}

// NewPool is a pool of the given certificates.
func NewPool(cas ...*x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	return pool
}

// ParsePins decodes receptor's pinnedservercert / pinnedclientcert values:
// the hex SHA-256 or SHA-512 of the certificate's DER, colons allowed
// (receptor's own decoder takes only these two lengths; SHA-224 and
// SHA-384 are accepted too, as its verifier does).
func ParsePins(pins []string) ([][]byte, error) {
	out := make([][]byte, 0, len(pins))
	for _, p := range pins {
		b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(p), ":", ""))
		if err != nil {
			return nil, fmt.Errorf("fingerprint %q is not hex", p)
		}
		switch len(b) {
		case sha256.Size224, sha256.Size, sha512.Size384, sha512.Size:
		default:
			return nil, fmt.Errorf("fingerprint %q is %d bytes; want the SHA-256 (32) or SHA-512 (64) of the certificate", p, len(b))
		}
		out = append(out, b)
	}
	return out, nil
}

// PinnedMatch reports whether the certificate's fingerprint, by the hash
// each pin's length implies, equals one of the pins.
func PinnedMatch(cert *x509.Certificate, pins [][]byte) bool {
	for _, pin := range pins {
		sum, err := fingerprint(cert.Raw, len(pin))
		if err == nil && bytes.Equal(sum, pin) {
			return true
		}
	}
	return false
}

// Fingerprint is the SHA-256 of the certificate's DER as colon-separated
// hex, the form pinnedservercert and pinnedclientcert take.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

func fingerprint(der []byte, size int) ([]byte, error) {
	switch size {
	case sha256.Size224:
		s := sha256.Sum224(der)
		return s[:], nil
	case sha256.Size:
		s := sha256.Sum256(der)
		return s[:], nil
	case sha512.Size384:
		s := sha512.Sum384(der)
		return s[:], nil
	case sha512.Size:
		s := sha512.Sum512(der)
		return s[:], nil
	}
	return nil, errors.New("unsupported fingerprint length")
}
