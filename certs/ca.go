package certs

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// CAOptions are the parameters of a new CA (receptor's --cert-init).
type CAOptions struct {
	CommonName string
	KeyType    KeyType // "" is Ed25519
	Bits       int     // RSA only; 0 is DefaultRSABits
	NotBefore  time.Time
	NotAfter   time.Time // zero: NotBefore + 10 years, as receptor
}

// RequestOptions are the parameters of a certificate request (receptor's
// --cert-makereq).
type RequestOptions struct {
	CommonName  string
	DNSNames    []string
	IPAddresses []net.IP
	NodeIDs     []string
	// Key signs the request; when nil a new key of KeyType and Bits is made
	// and returned.
	Key     crypto.Signer
	KeyType KeyType
	Bits    int
}

// SignOptions are the validity period of a signed certificate (receptor's
// --cert-signreq).
type SignOptions struct {
	NotBefore time.Time // zero: now
	NotAfter  time.Time // zero: NotBefore + 1 year, as receptor
}

// InitCA makes a self-signed CA certificate and its key, both PEM.
func InitCA(opts CAOptions) (certPEM, keyPEM []byte, err error) {
	if opts.CommonName == "" {
		return nil, nil, errors.New("a CA needs a common name")
	}
	notBefore, notAfter, err := validity(opts.NotBefore, opts.NotAfter, 10)
	if err != nil {
		return nil, nil, err
	}
	key, err := GenerateKey(opts.KeyType, opts.Bits)
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: opts.CommonName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	keyPEM, err = MarshalKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pemCert(der), keyPEM, nil
}

// MakeRequest makes a certificate request (CSR) for the names in opts,
// each node ID as a receptor otherName in the subjectAltName. keyPEM is
// the new key, or nil when opts.Key was given.
func MakeRequest(opts RequestOptions) (csrPEM, keyPEM []byte, err error) {
	if opts.CommonName == "" {
		return nil, nil, errors.New("a certificate request needs a common name")
	}
	for _, id := range opts.NodeIDs {
		if id == "" {
			return nil, nil, errors.New("empty node ID")
		}
	}
	key := opts.Key
	if key == nil {
		if key, err = GenerateKey(opts.KeyType, opts.Bits); err != nil {
			return nil, nil, err
		}
		if keyPEM, err = MarshalKey(key); err != nil {
			return nil, nil, err
		}
	}
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: opts.CommonName}}
	if len(opts.DNSNames)+len(opts.IPAddresses)+len(opts.NodeIDs) > 0 {
		san, err := MarshalSAN(opts.DNSNames, opts.IPAddresses, opts.NodeIDs)
		if err != nil {
			return nil, nil, fmt.Errorf("encode subjectAltName: %w", err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: OIDSubjectAltName, Value: san}}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), keyPEM, nil
}

// SignRequest checks a request's signature and signs it with the CA,
// keeping the request's subjectAltName extension as it is (so its node IDs
// survive), as receptor does. The certificate is for client and server
// authentication.
func SignRequest(csrPEM, caCertPEM, caKeyPEM []byte, opts SignOptions) ([]byte, error) {
	csr, err := ParseRequest(csrPEM)
	if err != nil {
		return nil, err
	}
	caCert, err := ParseCertificate(caCertPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	caKey, err := ParseKey(caKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	if !samePublicKey(caKey.Public(), caCert.PublicKey) {
		return nil, errors.New("the CA key does not match the CA certificate")
	}
	if !caCert.IsCA || caCert.KeyUsage != 0 && caCert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("certificate %q is not a CA certificate", caCert.Subject.CommonName)
	}
	tmpl, err := leafTemplate(csr, opts)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, csr.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	return pemCert(der), nil
}

// leafTemplate is the certificate SignRequest issues for csr.
func leafTemplate(csr *x509.CertificateRequest, opts SignOptions) (*x509.Certificate, error) {
	nodeIDs, err := RequestNodeIDs(csr)
	if err != nil {
		return nil, fmt.Errorf("certificate request: %w", err)
	}
	if len(csr.DNSNames)+len(csr.IPAddresses)+len(nodeIDs) == 0 {
		return nil, errors.New("cannot sign: the request names no node ID, DNS name or IP address")
	}
	notBefore, notAfter, err := validity(opts.NotBefore, opts.NotAfter, 1)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	usage := x509.KeyUsageDigitalSignature
	if _, ok := csr.PublicKey.(*rsa.PublicKey); ok {
		usage |= x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      csr.Subject,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     usage,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	for _, ext := range csr.Extensions {
		if ext.Id.Equal(OIDSubjectAltName) {
			tmpl.ExtraExtensions = []pkix.Extension{ext}
			return tmpl, nil
		}
	}
	tmpl.DNSNames, tmpl.IPAddresses = csr.DNSNames, csr.IPAddresses
	return tmpl, nil
}

// ParseRequest reads a PEM certificate request and checks its signature.
func ParseRequest(data []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
		return nil, errors.New("no PEM certificate request found")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("bad certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request signature is invalid: %w", err)
	}
	return csr, nil
}

// ParseCertificate reads the first PEM certificate in data.
func ParseCertificate(data []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM certificate found")
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("bad certificate: %w", err)
		}
		return cert, nil
	}
}

// DescribeRequest is a few lines naming what a request asks for, shown
// before signing it (receptor's signreq prompt).
func DescribeRequest(csr *x509.CertificateRequest) string {
	s := fmt.Sprintf("Requested certificate:\n  Subject: %s\n  Key: %s\n  Signature algorithm: %s\n  Names:\n",
		csr.Subject, keyTypeOf(csr.PublicKey), csr.SignatureAlgorithm)
	for _, n := range csr.DNSNames {
		s += "    DNS name: " + n + "\n"
	}
	for _, ip := range csr.IPAddresses {
		s += "    IP address: " + ip.String() + "\n"
	}
	ids, err := RequestNodeIDs(csr)
	for _, id := range ids {
		s += "    Receptor node ID: " + id + "\n"
	}
	if err != nil {
		s += "    (bad subjectAltName: " + err.Error() + ")\n"
	}
	return s
}

// validity fills in a default period and checks it is not empty.
func validity(notBefore, notAfter time.Time, defaultYears int) (time.Time, time.Time, error) {
	if notBefore.IsZero() {
		notBefore = time.Now()
	}
	if notAfter.IsZero() {
		notAfter = notBefore.AddDate(defaultYears, 0, 0)
	}
	if !notAfter.After(notBefore) {
		return notBefore, notAfter, fmt.Errorf("notafter %s is not after notbefore %s",
			notAfter.Format(time.RFC3339), notBefore.Format(time.RFC3339))
	}
	return notBefore, notAfter, nil
}

// newSerial is a random positive 127-bit serial number.
func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	return n.Add(n, big.NewInt(1)), nil
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
