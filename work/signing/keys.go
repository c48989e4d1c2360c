package signing

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
)

// MaxKeyFile is the largest key file, in bytes, that the Load and Parse
// functions accept.
const MaxKeyFile = 1 << 20

// MinRSABits is the smallest RSA modulus accepted, for signing and verifying.
const MinRSABits = 2048

const useEd25519OrRSA = "use an Ed25519 or RSA key"

var errEncrypted = errors.New("key is encrypted with a passphrase; meshd needs an unencrypted key")

// LoadPrivateKey reads the private key in the file at path: see
// ParsePrivateKey. Errors name the file.
func LoadPrivateKey(path string) (crypto.Signer, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	key, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// LoadPublicKey reads the public key in the file at path: see
// ParsePublicKey. Errors name the file.
func LoadPublicKey(path string) (crypto.PublicKey, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	key, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// readKeyFile reads the file at path, refusing one larger than MaxKeyFile.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxKeyFile {
		return nil, fmt.Errorf("%s: file is larger than %d bytes: not a key file", path, MaxKeyFile)
	}
	return data, nil
}

// ParsePrivateKey parses an unencrypted Ed25519 or RSA private key from the
// one PEM key block in data (PEM blocks that are not keys, such as
// "EC PARAMETERS", are ignored; a second key block is refused). Its type is
// one of:
//
//   - "PRIVATE KEY": PKCS#8, as written by GenerateEd25519 and
//     `openssl genpkey`;
//   - "RSA PRIVATE KEY": PKCS#1, as written by `openssl genrsa -traditional`;
//   - "OPENSSH PRIVATE KEY": as written by `ssh-keygen -t ed25519` or
//     `ssh-keygen -t rsa`.
//
// The key is an ed25519.PrivateKey or a *rsa.PrivateKey of at least
// MinRSABits bits. Passphrase-protected keys, other key types and public
// keys are refused with an error saying what was found.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	block, err := findKeyBlock(data)
	if err != nil {
		return nil, err
	}
	if block == nil {
		if _, _, _, _, err := ssh.ParseAuthorizedKey(data); err == nil {
			return nil, errors.New("found an OpenSSH public key, not a private key")
		}
		return nil, errors.New("no PEM or OpenSSH private key found")
	}
	if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
		return nil, fmt.Errorf("found a PEM %q block, which is not a private key", block.Type)
	}
	return parsePrivateBlock(block)
}

// ParsePublicKey parses an Ed25519 or RSA public key from data, which holds
// one of:
//
//   - a PEM "PUBLIC KEY" block (PKIX, as written by GenerateEd25519 and
//     `openssl pkey -pubout`);
//   - a PEM "RSA PUBLIC KEY" block (PKCS#1, `openssl rsa -RSAPublicKey_out`);
//   - an OpenSSH public key line, `ssh-ed25519 AAAA... comment` or
//     `ssh-rsa AAAA... comment`, as in a .pub file or an authorized_keys
//     line (options before the key type are allowed and ignored);
//   - a private key in any form ParsePrivateKey accepts, whose public half is
//     returned: convenient for tests and for a single host that both signs
//     and verifies.
//
// The key is an ed25519.PublicKey or a *rsa.PublicKey of at least
// MinRSABits bits. Data holding more than one key is refused, so that a
// second key is never silently ignored.
func ParsePublicKey(data []byte) (crypto.PublicKey, error) {
	block, err := findKeyBlock(data)
	if err != nil {
		return nil, err
	}
	if block == nil {
		return parseAuthorizedKey(data)
	}
	switch block.Type {
	case "PUBLIC KEY":
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM \"PUBLIC KEY\" block: %w", err)
		}
		return checkPublicKey(key)
	case "RSA PUBLIC KEY":
		key, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM \"RSA PUBLIC KEY\" block: %w", err)
		}
		return checkPublicKey(key)
	}
	if strings.HasSuffix(block.Type, "PRIVATE KEY") {
		priv, err := parsePrivateBlock(block)
		if err != nil {
			return nil, err
		}
		return priv.Public(), nil
	}
	return nil, fmt.Errorf("unsupported PEM block %q: want \"PUBLIC KEY\", \"RSA PUBLIC KEY\" or a private key", block.Type)
}

// GenerateEd25519 returns a new Ed25519 key and its PEM encodings: the
// private key as PKCS#8 ("PRIVATE KEY") and the public key as PKIX
// ("PUBLIC KEY").
func GenerateEd25519() (priv crypto.Signer, privPEM, pubPEM []byte, err error) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generate Ed25519 key: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encode Ed25519 private key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encode Ed25519 public key: %w", err)
	}
	privPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})
	pubPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	return key, privPEM, pubPEM, nil
}

// findKeyBlock returns the first PEM block in data whose type ends in "KEY",
// or nil if there is none. It refuses data that is empty, larger than
// MaxKeyFile, holds a second key block, or holds only PEM blocks that are not
// keys.
func findKeyBlock(data []byte) (*pem.Block, error) {
	if len(data) > MaxKeyFile {
		return nil, fmt.Errorf("key data is %d bytes, larger than %d: not a key", len(data), MaxKeyFile)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("key data is empty")
	}
	var found *pem.Block
	var others []string
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case !strings.HasSuffix(block.Type, "KEY"):
			others = append(others, fmt.Sprintf("%q", block.Type))
		case found != nil:
			return nil, fmt.Errorf("found more than one PEM key block (%q and %q): give each key its own file", found.Type, block.Type)
		default:
			found = block
		}
	}
	if found == nil && len(others) > 0 {
		return nil, fmt.Errorf("found PEM block %s but no key", strings.Join(others, ", "))
	}
	return found, nil
}

// parsePrivateBlock parses a PEM block whose type ends in "PRIVATE KEY".
func parsePrivateBlock(block *pem.Block) (crypto.Signer, error) {
	if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, errEncrypted
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
	case "OPENSSH PRIVATE KEY":
		key, err = ssh.ParseRawPrivateKey(pem.EncodeToMemory(block))
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, errEncrypted
		}
	case "ENCRYPTED PRIVATE KEY":
		return nil, errEncrypted
	default:
		return nil, fmt.Errorf("unsupported key type: PEM %q block: %s", block.Type, useEd25519OrRSA)
	}
	if err != nil {
		return nil, fmt.Errorf("PEM %q block: %w", block.Type, err)
	}
	return checkPrivateKey(key)
}

// checkPrivateKey returns key as a crypto.Signer if it is an Ed25519 or a
// large enough RSA key.
func checkPrivateKey(key any) (crypto.Signer, error) {
	switch k := key.(type) {
	case *ed25519.PrivateKey:
		if k == nil {
			break
		}
		return checkPrivateKey(*k)
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("Ed25519 private key is %d bytes, not %d", len(k), ed25519.PrivateKeySize)
		}
		if !bytes.Equal(ed25519.NewKeyFromSeed(k.Seed()), k) {
			return nil, errors.New("Ed25519 private key is corrupt: its public half does not match its seed")
		}
		return k, nil
	case *rsa.PrivateKey:
		if k == nil || k.N == nil {
			break
		}
		if _, err := checkPublicKey(&k.PublicKey); err != nil {
			return nil, err
		}
		return k, nil
	}
	return nil, fmt.Errorf("unsupported key type %T: %s", key, useEd25519OrRSA)
}

// checkPublicKey returns key if it is an Ed25519 or a large enough RSA key.
func checkPublicKey(key any) (crypto.PublicKey, error) {
	switch k := key.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 public key is %d bytes, not %d", len(k), ed25519.PublicKeySize)
		}
		return k, nil
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			break
		}
		if bits := k.N.BitLen(); bits < MinRSABits {
			return nil, fmt.Errorf("RSA key is %d bits: meshd needs at least %d", bits, MinRSABits)
		}
		return k, nil
	}
	return nil, fmt.Errorf("unsupported key type %T: %s", key, useEd25519OrRSA)
}

// parseAuthorizedKey parses data as one OpenSSH public key line, skipping
// blank and comment lines.
func parseAuthorizedKey(data []byte) (crypto.PublicKey, error) {
	pub, _, _, rest, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		if bytes.HasPrefix(bytes.TrimSpace(data), []byte("ssh-")) {
			return nil, errors.New("malformed OpenSSH public key line")
		}
		return nil, errors.New("no PEM public key, OpenSSH public key line or private key found")
	}
	if _, _, _, _, err := ssh.ParseAuthorizedKey(rest); err == nil {
		return nil, errors.New("found more than one OpenSSH public key line: give each key its own file")
	}
	cpk, ok := pub.(ssh.CryptoPublicKey)
	if t := pub.Type(); !ok || (t != ssh.KeyAlgoED25519 && t != ssh.KeyAlgoRSA) {
		return nil, fmt.Errorf("unsupported OpenSSH key type %q: %s", t, useEd25519OrRSA)
	}
	return checkPublicKey(cpk.CryptoPublicKey())
}
