package wire

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// alpn names meshd's link protocol in the TLS handshake.
const alpn = "meshd-link/1"

// HandshakeConfig is what one side brings to a link handshake.
type HandshakeConfig struct {
	Identity *Identity
	Trust    *Trust // nil: open mode
	// Cost returns this side's cost for a link to peerID, or an error that
	// refuses the peer (allowed peers, duplicate ID, ...). The error text is
	// sent to the peer in a reject frame.
	Cost    func(peerID string, peerKey ed25519.PublicKey) (float64, error)
	Timeout time.Duration // whole handshake; default 10 s
	// X509, if set, puts the link in CA mode (x509.go): certificates of a
	// receptor PKI instead of the self-signed identity certificate.
	X509 *X509
}

// Peer is the outcome of a successful handshake.
type Peer struct {
	NodeID string
	Key    ed25519.PublicKey
	Cost   float64      // agreed cost: the larger of both sides' costs
	Conn   *tls.Conn    // writes reach the peer only at the next Flush
	Reader *FrameReader // continues where the handshake stopped reading
	batch  *batchConn
}

// Flush sends what has been written to Conn since the last Flush: after
// the handshake, TLS records are batched below TLS until the link writer
// flushes at the end of each batch of frames.
func (p *Peer) Flush() error { return p.batch.Flush() }

// RejectedError is returned when the other side refused the link.
type RejectedError struct{ Reason string }

func (e *RejectedError) Error() string { return "refused by peer: " + e.Reason }

// Handshake secures conn with TLS 1.3, authenticates the peer's node ID
// and key, and exchanges hellos. On failure conn is closed.
func Handshake(ctx context.Context, conn net.Conn, isServer bool, hc *HandshakeConfig) (*Peer, error) {
	timeout := hc.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	// The deadline bounds the hello exchange; cancelling ctx must cut it
	// short too, not only the TLS part (HandshakeContext sees ctx).
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	p, err := handshake(ctx, conn, isServer, hc)
	if !stop() && err == nil {
		err = ctx.Err() // the deadline may be poisoned: do not hand the link out
	}
	if err != nil {
		conn.Close()
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", err, cerr)
		}
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return p, nil
}

func handshake(ctx context.Context, conn net.Conn, isServer bool, hc *HandshakeConfig) (*Peer, error) {
	cfg := tlsConfig(hc)
	if hc.X509 != nil {
		cfg = x509TLSConfig(hc.X509, isServer)
	}
	bc := &batchConn{Conn: conn}
	var tc *tls.Conn
	if isServer {
		tc = tls.Server(bc, cfg)
	} else {
		tc = tls.Client(bc, cfg)
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		if strings.Contains(err.Error(), "application protocol") {
			// The ALPNs differ only between the two trust modes.
			return nil, fmt.Errorf("tls handshake: %w (one end of this link uses certificate trust, a tls entry, and the other does not)", err)
		}
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	fr := NewFrameReader(tc)
	var id string
	var key ed25519.PublicKey
	var err error
	if hc.X509 != nil {
		id, key, err = exchangeIdentity(conn, tc, fr, hc)
	} else {
		id, key, err = peerIdentity(tc.ConnectionState().PeerCertificates)
	}
	if err != nil {
		return nil, err
	}
	p := &Peer{NodeID: id, Key: key, Conn: tc, Reader: fr, batch: bc}
	myCost, err := hc.Cost(id, key)
	if err == nil && !ValidCost(myCost) {
		err = fmt.Errorf("invalid local cost %v for link to %s", myCost, id)
	}
	if err != nil {
		_ = WriteFrame(tc, FrameReject, []byte(err.Error()))
		return nil, err
	}
	// Both sides send their hello before reading the other's. The hello is
	// written concurrently with the read so that the exchange cannot
	// deadlock on a transport that does not buffer writes (net.Pipe, or a
	// full send window): each side's write completes as the other reads.
	hello := Hello{Version: ProtocolVersion, NodeID: hc.Identity.NodeID, Cost: myCost}
	var theirs Hello
	err = exchange(conn, tc, "hello", FrameHello, hello.Marshal(), func() (err error) {
		theirs, err = readHello(p.Reader)
		return err
	})
	if err != nil {
		return nil, err
	}
	if theirs.NodeID != id {
		return nil, fmt.Errorf("hello names node %q but the peer authenticated as %q", theirs.NodeID, id)
	}
	p.Cost = max(myCost, theirs.Cost)
	bc.startBatching()
	return p, nil
}

// exchange writes one frame while read reads the other side's, so that
// the exchange cannot deadlock on a transport that does not buffer
// writes. A failed read closes conn to unblock the writer.
func exchange(conn net.Conn, tc *tls.Conn, what string, typ byte, body []byte, read func() error) error {
	sent := make(chan error, 1)
	go func() { sent <- WriteFrame(tc, typ, body) }()
	if err := read(); err != nil {
		conn.Close()
		<-sent
		return err
	}
	if err := <-sent; err != nil {
		return fmt.Errorf("send %s: %w", what, err)
	}
	return nil
}

// exchangeIdentity swaps identity proofs in CA mode and returns the
// peer's node ID and key once its proof verifies for this session and,
// if its certificate was verified, the certificate names that node.
func exchangeIdentity(conn net.Conn, tc *tls.Conn, fr *FrameReader, hc *HandshakeConfig) (string, ed25519.PublicKey, error) {
	state := tc.ConnectionState()
	mine, err := signIdentity(hc.Identity, state)
	if err != nil {
		return "", nil, err
	}
	var theirs *IdentityProof
	err = exchange(conn, tc, "identity proof", FrameIdentity, mine.Marshal(), func() (err error) {
		theirs, err = readIdentityProof(fr)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	err = theirs.Verify(state)
	if err == nil {
		if err = checkCertNodeID(hc.X509, state, theirs.NodeID); err != nil {
			err = fmt.Errorf("peer certificate: %w", err)
		}
	}
	if err != nil {
		// The peer waits for a hello: tell it why none comes.
		_ = WriteFrame(tc, FrameReject, []byte(err.Error()))
		return "", nil, err
	}
	return theirs.NodeID, theirs.PublicKey, nil
}

func readHello(fr *FrameReader) (Hello, error) {
	typ, body, err := fr.ReadFrame()
	if err != nil {
		return Hello{}, fmt.Errorf("read hello: %w", err)
	}
	defer PutBuf(body)
	switch typ {
	case FrameHello:
		return ParseHello(body.B)
	case FrameReject:
		return Hello{}, &RejectedError{Reason: sanitize(body.B)}
	}
	return Hello{}, fmt.Errorf("expected hello, got frame type %d", typ)
}

// sanitize makes a peer-supplied reason safe to log.
func sanitize(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	out := make([]rune, 0, len(b))
	for _, r := range string(b) {
		if r < 0x20 || r == 0x7f {
			r = '?'
		}
		out = append(out, r)
	}
	return string(out)
}

func tlsConfig(hc *HandshakeConfig) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// Links carry bulk data from the first byte: full-size records
		// from the start mean fewer records and system calls.
		DynamicRecordSizingDisabled: true,
		Certificates:                []tls.Certificate{hc.Identity.cert},
		NextProtos:                  []string{alpn},
		// Both sides present self-signed identity certificates; the chain
		// check is replaced by verifyIdentity below, which checks the key
		// against the trust list.
		InsecureSkipVerify: true,
		ClientAuth:         tls.RequireAnyClientCert,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyIdentity(raw, hc.Trust)
		},
	}
}

func verifyIdentity(raw [][]byte, trust *Trust) error {
	if len(raw) == 0 {
		return errors.New("peer sent no certificate")
	}
	cert, err := x509.ParseCertificate(raw[0])
	if err != nil {
		return fmt.Errorf("peer certificate: %w", err)
	}
	id, key, err := peerIdentity([]*x509.Certificate{cert})
	if err != nil {
		return err
	}
	return trust.Check(id, key)
}

// peerIdentity extracts and checks the node ID and key of a self-signed
// identity certificate.
func peerIdentity(certs []*x509.Certificate) (string, ed25519.PublicKey, error) {
	if len(certs) == 0 {
		return "", nil, errors.New("peer sent no certificate")
	}
	cert := certs[0]
	key, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok {
		return "", nil, fmt.Errorf("peer key is %T, want Ed25519", cert.PublicKey)
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		return "", nil, fmt.Errorf("peer certificate is not signed by its own key: %w", err)
	}
	id := cert.Subject.CommonName
	if err := CheckName("node ID", id); err != nil {
		return "", nil, fmt.Errorf("peer certificate: %w", err)
	}
	return id, key, nil
}
