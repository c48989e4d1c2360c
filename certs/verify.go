package certs

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Errors VerifyPeer wraps, for errors.Is.
var (
	ErrNoCertificate    = errors.New("peer presented no certificate")
	ErrExpired          = errors.New("certificate has expired")
	ErrNotYetValid      = errors.New("certificate is not yet valid")
	ErrUnknownAuthority = errors.New("certificate signed by unknown authority")
	ErrKeyUsage         = errors.New("certificate key usage does not allow this use")
	ErrPinMismatch      = errors.New("certificate does not match any pinned fingerprint")
)

// NodeIDError is a certificate that does not name the expected node.
type NodeIDError struct {
	Have []string // node IDs the certificate names
	Want string
}

func (e *NodeIDError) Error() string {
	switch len(e.Have) {
	case 0:
		return fmt.Sprintf("certificate names no node ID, not %s", e.Want)
	case 1:
		return fmt.Sprintf("certificate is for node %s, not %s", e.Have[0], e.Want)
	}
	return fmt.Sprintf("certificate is for nodes %s, not %s", strings.Join(e.Have, ", "), e.Want)
}

// VerifyOptions say what VerifyPeer accepts.
type VerifyOptions struct {
	// Roots are the CAs the chain must lead to (rootcas or clientcas);
	// nil means the system roots.
	Roots *x509.CertPool
	// Usage is x509.ExtKeyUsageServerAuth when checking a server,
	// x509.ExtKeyUsageClientAuth when checking a client; the zero value,
	// x509.ExtKeyUsageAny, accepts either.
	Usage x509.ExtKeyUsage
	// NodeID is the node the leaf must name in a receptor otherName,
	// compared exactly. It is required unless SkipNodeIDCheck is set
	// (receptor's skipreceptornamescheck).
	NodeID          string
	SkipNodeIDCheck bool
	// Pins, when not empty, are fingerprints (ParsePins) one of which the
	// leaf must match, in addition to the chain check.
	Pins [][]byte
	// Now is the time validity is checked at; zero means time.Now().
	Now time.Time
}

// VerifyPeer checks a peer's certificate chain as presented in a TLS
// handshake (leaf first, DER), as receptor's ReceptorVerifyFunc does: the
// leaf matches a pin if any are set, the chain leads to a root, every
// certificate is within its validity period and allowed for the use, and
// the leaf names the expected node ID. Its signature fits
// tls.Config.VerifyPeerCertificate once the options are bound.
func VerifyPeer(rawCerts [][]byte, opts VerifyOptions) error {
	if len(rawCerts) == 0 {
		return ErrNoCertificate
	}
	certs := make([]*x509.Certificate, len(rawCerts))
	for i, der := range rawCerts {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("bad peer certificate %d: %w", i, err)
		}
		certs[i] = cert
	}
	return VerifyChain(certs, opts)
}

// VerifyChain is VerifyPeer for parsed certificates, leaf first.
func VerifyChain(certs []*x509.Certificate, opts VerifyOptions) error {
	if len(certs) == 0 {
		return ErrNoCertificate
	}
	leaf := certs[0]
	if !opts.SkipNodeIDCheck && opts.NodeID == "" {
		return errors.New("no expected node ID to check the certificate against")
	}
	if len(opts.Pins) > 0 && !PinnedMatch(leaf, opts.Pins) {
		return fmt.Errorf("%w (%s)", ErrPinMismatch, Fingerprint(leaf))
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	vo := x509.VerifyOptions{
		Roots:         opts.Roots,
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{opts.Usage},
	}
	for _, c := range certs[1:] {
		vo.Intermediates.AddCert(c)
	}
	if _, err := handledSAN(leaf).Verify(vo); err != nil {
		return explainVerifyError(err, now)
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return fmt.Errorf("%w: digital signatures are not allowed", ErrKeyUsage)
	}
	if opts.SkipNodeIDCheck {
		return nil
	}
	return CheckNodeID(leaf, opts.NodeID)
}

// CheckNodeID returns a *NodeIDError unless the certificate names the node
// in a receptor otherName.
func CheckNodeID(cert *x509.Certificate, want string) error {
	have, err := NodeIDs(cert)
	if err != nil {
		return err
	}
	if !slices.Contains(have, want) {
		return &NodeIDError{Have: have, Want: want}
	}
	return nil
}

// handledSAN returns cert, or a copy of it without the subjectAltName in
// its unhandled critical extensions: Go's parser leaves a critical SAN
// holding only otherNames unhandled, and this package handles it.
func handledSAN(cert *x509.Certificate) *x509.Certificate {
	i := slices.IndexFunc(cert.UnhandledCriticalExtensions, func(id asn1.ObjectIdentifier) bool { return id.Equal(OIDSubjectAltName) })
	if i < 0 {
		return cert
	}
	c := *cert
	c.UnhandledCriticalExtensions = slices.Delete(slices.Clone(cert.UnhandledCriticalExtensions), i, i+1)
	return &c
}

// explainVerifyError turns x509's verification errors into this
// package's, keeping the original wrapped.
func explainVerifyError(err error, now time.Time) error {
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &invalid):
		c := invalid.Cert
		switch invalid.Reason {
		case x509.Expired:
			if now.Before(c.NotBefore) {
				return fmt.Errorf("%w: %q is valid from %s (%w)", ErrNotYetValid,
					c.Subject.CommonName, c.NotBefore.UTC().Format(time.RFC3339), err)
			}
			return fmt.Errorf("%w: %q expired at %s (%w)", ErrExpired,
				c.Subject.CommonName, c.NotAfter.UTC().Format(time.RFC3339), err)
		case x509.IncompatibleUsage:
			return fmt.Errorf("%w (%w)", ErrKeyUsage, err)
		}
	case errors.As(err, &unknown):
		return fmt.Errorf("%w (%w)", ErrUnknownAuthority, err)
	}
	return err
}
