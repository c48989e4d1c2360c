package wire

// Receptor-compatible certificate trust on a link ("CA mode"): instead of
// the self-signed identity certificate, a side presents the certificate of
// a receptor PKI (any key type) and checks the other side's chain against
// configured CAs, with the node ID taken from the certificate's receptor
// otherName (certs.NodeIDs). The Ed25519 identity key that signs the
// node's routing advertisements is then bound to that node ID by an
// identity proof sent inside the TLS session.

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"meshd/certs"
)

// alpnX509 names the link protocol in CA mode. A side in the other mode
// offers another protocol, so a mismatch fails in the TLS handshake with
// "no application protocol" instead of a certificate puzzle.
const alpnX509 = "meshd-link-x509/1"

// X509 configures CA mode for the links of one listener (a tls-server
// entry) or one peer (a tls-client entry).
type X509 struct {
	// Certificate is presented to the peer. A server needs one; a client
	// without one can only link to servers that do not verify clients.
	Certificate *tls.Certificate
	// Roots are the CAs the peer's chain must lead to (clientcas on a
	// server, rootcas on a client); nil means the system roots.
	Roots *x509.CertPool
	// VerifyPeer makes the peer's certificate required and checked: on a
	// server, receptor's requireclientcert, clientcas or pinnedclientcert;
	// on a client, everything but insecureskipverify. An unverified peer
	// is identified by its Ed25519 key alone, under the node's key trust.
	VerifyPeer bool
	// ServerName (client only) is checked against the server
	// certificate's DNS names and IP addresses, as receptor checks the
	// host of a tcp-peer address; empty skips the check.
	ServerName string
	// SkipNodeIDCheck accepts a verified certificate that does not name
	// the node ID the peer claims (receptor's skipreceptornamescheck).
	SkipNodeIDCheck bool
	// Pins, if any, are fingerprints (certs.ParsePins) one of which the
	// peer's certificate must match, checked even when VerifyPeer is off.
	Pins [][]byte
}

// BindsNodeID reports whether a link under x proves the peer's node ID by
// its certificate: the chain is verified against configured CAs (not the
// system roots, which identity advertisements never use either) and must
// name the node the peer claims. The Ed25519 key such a peer proves is
// then as good as one its CA vouches for in an identity advertisement.
func (x *X509) BindsNodeID() bool {
	return x != nil && x.VerifyPeer && !x.SkipNodeIDCheck && x.Roots != nil
}

// x509TLSConfig is the TLS configuration of CA mode. The chain check runs
// in VerifyPeerCertificate (Go's own checks cannot take receptor's
// otherName SAN, pins or insecureskipverify-with-pins); the node ID is
// checked once the peer has named itself (checkCertNodeID).
func x509TLSConfig(x *X509, isServer bool) *tls.Config {
	cfg := &tls.Config{
		MinVersion:                  tls.VersionTLS13,
		DynamicRecordSizingDisabled: true,
		NextProtos:                  []string{alpnX509},
		InsecureSkipVerify:          true,
	}
	if x.Certificate != nil {
		cfg.Certificates = []tls.Certificate{*x.Certificate}
	}
	usage := x509.ExtKeyUsageServerAuth
	if isServer {
		usage = x509.ExtKeyUsageClientAuth
		switch {
		case x.VerifyPeer:
			cfg.ClientAuth = tls.RequireAnyClientCert
		case len(x.Pins) > 0:
			cfg.ClientAuth = tls.RequireAnyClientCert
		default:
			cfg.ClientAuth = tls.NoClientCert
			return cfg
		}
	}
	cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		return verifyX509Peer(x, raw, usage)
	}
	return cfg
}

func verifyX509Peer(x *X509, raw [][]byte, usage x509.ExtKeyUsage) error {
	if len(raw) == 0 {
		return certs.ErrNoCertificate
	}
	leaf, err := x509.ParseCertificate(raw[0])
	if err != nil {
		return fmt.Errorf("peer certificate: %w", err)
	}
	if !x.VerifyPeer {
		if !certs.PinnedMatch(leaf, x.Pins) {
			return fmt.Errorf("%w (%s)", certs.ErrPinMismatch, certs.Fingerprint(leaf))
		}
		return nil
	}
	opts := certs.VerifyOptions{Roots: x.Roots, Usage: usage, SkipNodeIDCheck: true, Pins: x.Pins}
	if err := certs.VerifyPeer(raw, opts); err != nil {
		return err
	}
	if x.ServerName != "" {
		if err := leaf.VerifyHostname(x.ServerName); err != nil {
			return err
		}
	}
	return nil
}

// checkCertNodeID checks that the peer's verified certificate names the
// node ID it claims in its identity proof.
func checkCertNodeID(x *X509, state tls.ConnectionState, nodeID string) error {
	if !x.VerifyPeer || x.SkipNodeIDCheck || len(state.PeerCertificates) == 0 {
		return nil
	}
	return certs.CheckNodeID(state.PeerCertificates[0], nodeID)
}

// identityContext separates identity-proof signatures from any other use
// of a node key; identityExporter labels the TLS keying material they
// sign, which ties a proof to this one TLS session.
const (
	identityContext  = "meshd-identity-v1\x00"
	identityExporter = "EXPORTER-meshd-identity"
	identityMagic    = "MESHID"
)

// IdentityProof binds a node ID to its Ed25519 key inside one TLS
// session, in CA mode, where the certificate does not carry that key.
//
// Body (FrameIdentity): "MESHID" | node ID str8 | pubkey [32]byte |
// sig [64]byte, the signature by that key over identityContext ||
// 32 bytes of TLS keying material (label identityExporter) || node ID
// str8 || pubkey. A proof replayed in another session does not verify.
type IdentityProof struct {
	NodeID    string
	PublicKey ed25519.PublicKey
	Sig       []byte
}

// signIdentity makes this side's proof for a session.
func signIdentity(id *Identity, state tls.ConnectionState) (*IdentityProof, error) {
	msg, err := identityMessage(state, id.NodeID, id.PublicKey())
	if err != nil {
		return nil, err
	}
	return &IdentityProof{NodeID: id.NodeID, PublicKey: id.PublicKey(), Sig: ed25519.Sign(id.Key, msg)}, nil
}

// Verify checks the proof's signature for a session.
func (p *IdentityProof) Verify(state tls.ConnectionState) error {
	msg, err := identityMessage(state, p.NodeID, p.PublicKey)
	if err != nil {
		return err
	}
	if !ed25519.Verify(p.PublicKey, msg, p.Sig) {
		return errors.New("identity proof: bad signature")
	}
	return nil
}

func identityMessage(state tls.ConnectionState, nodeID string, pub ed25519.PublicKey) ([]byte, error) {
	ekm, err := state.ExportKeyingMaterial(identityExporter, nil, 32)
	if err != nil {
		return nil, fmt.Errorf("identity proof: %w", err)
	}
	b := append([]byte(identityContext), ekm...)
	b = appendStr8(b, nodeID)
	return append(b, pub...), nil
}

// Marshal encodes the proof.
func (p *IdentityProof) Marshal() []byte {
	b := appendStr8([]byte(identityMagic), p.NodeID)
	b = append(b, p.PublicKey...)
	return append(b, p.Sig...)
}

// ParseIdentityProof decodes a proof (without checking its signature).
func ParseIdentityProof(body []byte) (*IdentityProof, error) {
	d := decoder{b: body}
	if string(d.take(len(identityMagic))) != identityMagic {
		return nil, errors.New("identity proof: bad magic")
	}
	p := &IdentityProof{NodeID: d.str8()}
	p.PublicKey = ed25519.PublicKey(append([]byte(nil), d.take(ed25519.PublicKeySize)...))
	p.Sig = append([]byte(nil), d.take(ed25519.SignatureSize)...)
	if err := d.finish(); err != nil {
		return nil, fmt.Errorf("identity proof: %w", err)
	}
	if err := CheckName("node ID", p.NodeID); err != nil {
		return nil, fmt.Errorf("identity proof: %w", err)
	}
	return p, nil
}

func readIdentityProof(fr *FrameReader) (*IdentityProof, error) {
	typ, body, err := fr.ReadFrame()
	if err != nil {
		return nil, fmt.Errorf("read identity proof: %w", err)
	}
	defer PutBuf(body)
	switch typ {
	case FrameIdentity:
		return ParseIdentityProof(body.B)
	case FrameReject:
		return nil, &RejectedError{Reason: sanitize(body.B)}
	}
	return nil, fmt.Errorf("expected identity proof, got frame type %d", typ)
}
