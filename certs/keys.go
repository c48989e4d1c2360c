package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// KeyType names a kind of private key.
type KeyType string

// The key types meshd creates. Ed25519 is the default.
const (
	Ed25519 KeyType = "ed25519"
	RSA     KeyType = "rsa"
	ECDSA   KeyType = "ecdsa" // P-256
)

// DefaultRSABits is the RSA key size when none is given (receptor's default).
const DefaultRSABits = 2048

// ParseKeyType accepts ed25519, rsa and ecdsa (any case); "" is Ed25519.
func ParseKeyType(s string) (KeyType, error) {
	switch KeyType(s) {
	case "", Ed25519, "ED25519", "Ed25519":
		return Ed25519, nil
	case RSA, "RSA":
		return RSA, nil
	case ECDSA, "ECDSA", "ec", "p256", "P-256":
		return ECDSA, nil
	}
	return "", fmt.Errorf("unknown key type %q (want ed25519, rsa or ecdsa)", s)
}

// GenerateKey makes a new private key; bits is used for RSA only (0 means
// DefaultRSABits) and must be 0 for the others.
func GenerateKey(kt KeyType, bits int) (crypto.Signer, error) {
	if kt == "" {
		kt = Ed25519
	}
	if kt != RSA && bits != 0 {
		return nil, fmt.Errorf("bits applies to rsa keys only, not %s", kt)
	}
	switch kt {
	case Ed25519:
		_, key, err := ed25519.GenerateKey(rand.Reader)
		return key, err
	case ECDSA:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RSA:
		if bits == 0 {
			bits = DefaultRSABits
		}
		if bits < 2048 || bits > 16384 {
			return nil, fmt.Errorf("rsa key size %d out of range (2048 to 16384 bits)", bits)
		}
		return rsa.GenerateKey(rand.Reader, bits)
	}
	return nil, fmt.Errorf("unknown key type %q", kt)
}

// MarshalKey encodes a private key as a PKCS#8 "PRIVATE KEY" PEM block,
// which receptor reads for every key type.
func MarshalKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKey reads the one private key in PEM data: PKCS#8 ("PRIVATE KEY"),
// PKCS#1 ("RSA PRIVATE KEY", what receptor writes) or SEC 1 ("EC PRIVATE
// KEY"). Other blocks, such as certificates, are skipped; no key, or more
// than one, is an error.
func ParseKey(data []byte) (crypto.Signer, error) {
	var found crypto.Signer
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("bad %s block: %w", block.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", key)
		}
		if found != nil {
			return nil, errors.New("more than one private key")
		}
		found = signer
	}
	if found == nil {
		return nil, errors.New("no PEM private key found")
	}
	return found, nil
}

// keyTypeOf names the type of a public key, for messages.
func keyTypeOf(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return "Ed25519"
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d bits", k.N.BitLen())
	}
	return fmt.Sprintf("%T", pub)
}

// samePublicKey reports whether two public keys are equal.
func samePublicKey(a, b crypto.PublicKey) bool {
	ak, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ak.Equal(b)
}
