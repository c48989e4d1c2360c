package wire

// Identity advertisements: in CA mode, a node floods the certificate of a
// receptor PKI that names it, with a signature by that certificate's key
// over its Ed25519 identity key. Every node that trusts the CA can then
// check the LSAs of nodes it is not linked to against a key the CA vouches
// for, instead of trusting the first key it sees (open mode).

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"

	"meshd/certs"
)

// identityAdContext separates identity-ad signatures from every other use
// of a certificate key (TLS signs with its own context strings).
const identityAdContext = "meshd-identity-ad-v1\x00"

const identityAdVersion = 1

// Bounds on an identity advertisement: a receptor node certificate with
// its intermediates is a few kilobytes, so these leave room while keeping
// the frame far below MaxFrameSize and the identity database small. The
// certificate count is kept low because chain building tries orders of
// intermediates: a refused ad of 8 certificates sharing one subject cost
// a receiver about 12 ms of CPU (P-521), one of 4 a small part of that.
const (
	MaxIdentityCerts      = 4 // leaf, up to two intermediates, and a root if the file has one
	MaxIdentityChainBytes = 32 << 10
	MaxIdentitySigBytes   = 1024 // an RSA-8192 signature
)

// IdentityAd binds a node ID to its Ed25519 identity key under a
// certificate naming that node.
//
// Body (FrameIdentityAd):
//
//	version u8 (=1)
//	node ID str8
//	pubkey  [32]byte        the node's Ed25519 identity key
//	time    i64             origination, Unix ns, > 0: the newest ad wins
//	n u8 (1..MaxIdentityCerts), n × cert str16   DER, leaf first
//	sig     str16           by the leaf's key over signedIdentity(...)
//
// The signature covers identityAdContext || node ID str8 || pubkey ||
// time: RSA PKCS#1 v1.5 with SHA-256, ECDSA with SHA-256 or Ed25519, as
// the leaf's key type says.
type IdentityAd struct {
	NodeID    string
	PublicKey ed25519.PublicKey
	Time      int64
	Chain     [][]byte // DER certificates, leaf first
	Sig       []byte

	certs []*x509.Certificate // Chain parsed
}

// SignIdentityAd makes the identity advertisement of nodeID's key pub at
// time t, signed with cert (a receptor PKI certificate, its intermediates
// and private key, as tls.X509KeyPair loads them).
func SignIdentityAd(nodeID string, pub ed25519.PublicKey, t int64, cert *tls.Certificate) ([]byte, error) {
	if err := CheckName("node ID", nodeID); err != nil {
		return nil, err
	}
	if len(pub) != ed25519.PublicKeySize || t <= 0 {
		return nil, errors.New("identity ad: bad key or time")
	}
	if cert == nil || len(cert.Certificate) == 0 {
		return nil, errors.New("identity ad: no certificate")
	}
	a := &IdentityAd{NodeID: nodeID, PublicKey: pub, Time: t, Chain: cert.Certificate}
	if err := a.checkChainSize(); err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("identity ad: %w", err)
	}
	signer, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("identity ad: a %T key cannot sign", cert.PrivateKey)
	}
	msg := signedIdentity(nodeID, pub, t)
	var opts crypto.SignerOpts = crypto.SHA256
	digest := msg
	if _, isEd := leaf.PublicKey.(ed25519.PublicKey); isEd {
		opts = crypto.Hash(0) // Ed25519 signs the message itself
	} else {
		sum := sha256.Sum256(msg)
		digest = sum[:]
	}
	if a.Sig, err = signer.Sign(rand.Reader, digest, opts); err != nil {
		return nil, fmt.Errorf("identity ad: sign: %w", err)
	}
	// Receivers cut the link that sends an ad they cannot parse, so the
	// node must never send one: a key that is not the leaf's, a signature
	// above MaxIdentitySigBytes (an RSA key above 8192 bits), or a chain
	// certificate that does not parse (tls.X509KeyPair parses only the
	// leaf) is refused here, as receivers would refuse it.
	raw := a.Marshal()
	if _, err := ParseIdentityAd(raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// signedIdentity is the message an identity ad's signature covers.
func signedIdentity(nodeID string, pub ed25519.PublicKey, t int64) []byte {
	b := appendStr8([]byte(identityAdContext), nodeID)
	b = append(b, pub...)
	return binary.BigEndian.AppendUint64(b, uint64(t))
}

// checkLeafSignature verifies sig by the leaf certificate's key, with the
// algorithm its key type implies (never one named by the sender).
func checkLeafSignature(leaf *x509.Certificate, msg, sig []byte) error {
	var algo x509.SignatureAlgorithm
	switch leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		algo = x509.SHA256WithRSA
	case *ecdsa.PublicKey:
		algo = x509.ECDSAWithSHA256
	case ed25519.PublicKey:
		algo = x509.PureEd25519
	default:
		return fmt.Errorf("identity ad: unsupported certificate key %T", leaf.PublicKey)
	}
	if err := leaf.CheckSignature(algo, msg, sig); err != nil {
		return fmt.Errorf("identity ad: bad signature: %w", err)
	}
	return nil
}

func (a *IdentityAd) checkChainSize() error {
	if len(a.Chain) == 0 || len(a.Chain) > MaxIdentityCerts {
		return fmt.Errorf("identity ad: %d certificates (1 to %d)", len(a.Chain), MaxIdentityCerts)
	}
	total := 0
	for _, der := range a.Chain {
		if len(der) == 0 {
			return errors.New("identity ad: empty certificate")
		}
		total += len(der)
	}
	if total > MaxIdentityChainBytes {
		return fmt.Errorf("identity ad: certificate chain of %d bytes (max %d)", total, MaxIdentityChainBytes)
	}
	return nil
}

// Marshal encodes the ad (its fields must be within bounds).
func (a *IdentityAd) Marshal() []byte {
	b := make([]byte, 0, 64+len(a.Sig)+MaxIdentityCerts*2)
	b = append(b, identityAdVersion)
	b = appendStr8(b, a.NodeID)
	b = append(b, a.PublicKey...)
	b = binary.BigEndian.AppendUint64(b, uint64(a.Time))
	b = append(b, byte(len(a.Chain)))
	for _, der := range a.Chain {
		b = append(binary.BigEndian.AppendUint16(b, uint16(len(der))), der...)
	}
	return append(binary.BigEndian.AppendUint16(b, uint16(len(a.Sig))), a.Sig...)
}

// ParseIdentityAd decodes an identity ad, parses its certificates and
// checks the signature by the leaf's key. Whether the chain leads to a
// trusted CA and names the node is Verify's question.
func ParseIdentityAd(body []byte) (*IdentityAd, error) {
	a, err := decodeIdentityAd(body)
	if err != nil {
		return nil, fmt.Errorf("identity ad: %w", err)
	}
	for i, der := range a.Chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("identity ad of %s: certificate %d: %w", a.NodeID, i+1, err)
		}
		a.certs = append(a.certs, c)
	}
	if err := checkLeafSignature(a.certs[0], signedIdentity(a.NodeID, a.PublicKey, a.Time), a.Sig); err != nil {
		return nil, fmt.Errorf("%w (node %s)", err, a.NodeID)
	}
	return a, nil
}

// decodeIdentityAd reads the fields; it accepts only what Marshal writes,
// so an ad has one encoding.
func decodeIdentityAd(body []byte) (*IdentityAd, error) {
	d := decoder{b: body}
	if v := d.u8(); d.err == nil && v != identityAdVersion {
		return nil, fmt.Errorf("unsupported version %d", v)
	}
	a := &IdentityAd{NodeID: d.str8()}
	a.PublicKey = ed25519.PublicKey(bytes.Clone(d.take(ed25519.PublicKeySize)))
	a.Time = int64(d.u64())
	n := int(d.u8())
	if n == 0 || n > MaxIdentityCerts {
		return nil, fmt.Errorf("%d certificates (1 to %d)", n, MaxIdentityCerts)
	}
	total := 0
	for i := 0; i < n && d.err == nil; i++ {
		der := d.take(int(d.u16()))
		total += len(der)
		if d.err == nil && (len(der) == 0 || total > MaxIdentityChainBytes) {
			return nil, fmt.Errorf("certificate %d: empty, or the chain exceeds %d bytes", i+1, MaxIdentityChainBytes)
		}
		a.Chain = append(a.Chain, bytes.Clone(der))
	}
	sigLen := int(d.u16())
	if d.err == nil && (sigLen == 0 || sigLen > MaxIdentitySigBytes) {
		return nil, fmt.Errorf("signature of %d bytes (1 to %d)", sigLen, MaxIdentitySigBytes)
	}
	a.Sig = bytes.Clone(d.take(sigLen))
	if err := d.finish(); err != nil {
		return nil, err
	}
	if err := CheckName("node ID", a.NodeID); err != nil {
		return nil, err
	}
	if a.Time <= 0 {
		return nil, fmt.Errorf("origination time %d", a.Time)
	}
	return a, nil
}

// PeekIdentityAd reads the node ID and time of an ad without checking
// anything else, so a receiver drops flooding's copies before paying for
// certificate checks. Nothing it returns may be trusted.
func PeekIdentityAd(body []byte) (nodeID string, t int64, err error) {
	d := decoder{b: body}
	if v := d.u8(); d.err == nil && v != identityAdVersion {
		return "", 0, fmt.Errorf("identity ad: unsupported version %d", v)
	}
	nodeID = d.str8()
	d.take(ed25519.PublicKeySize)
	t = int64(d.u64())
	if d.err != nil {
		return "", 0, fmt.Errorf("identity ad: %w", d.err)
	}
	return nodeID, t, nil
}

// Verify checks a parsed ad's chain as a link checks a peer's: it leads
// to roots (which must be given: an ad is never checked against the
// system roots), every certificate is valid now and allowed digital
// signatures, for either client or server use, and the leaf names the
// node unless skipNodeIDCheck (receptor's skipreceptornamescheck).
func (a *IdentityAd) Verify(roots *x509.CertPool, skipNodeIDCheck bool) error {
	if roots == nil {
		return errors.New("identity ad: no CA to verify it against")
	}
	if len(a.certs) == 0 {
		return errors.New("identity ad: not parsed")
	}
	opts := certs.VerifyOptions{Roots: roots, Usage: x509.ExtKeyUsageAny, NodeID: a.NodeID, SkipNodeIDCheck: skipNodeIDCheck}
	if err := certs.VerifyChain(a.certs, opts); err != nil {
		return fmt.Errorf("identity ad of %s: %w", a.NodeID, err)
	}
	return nil
}
