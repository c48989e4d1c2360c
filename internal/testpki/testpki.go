// Package testpki makes receptor-style CAs and node certificates for
// tests of the packages that check them (wire, mesh), so that they share
// one way to build a PKI.
package testpki

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"

	"meshd/certs"
)

// CA is a CA that issues node certificates.
type CA struct {
	CertPEM, KeyPEM []byte
	Pool            *x509.CertPool // holds only this CA
}

// New makes a CA with a key of type kt.
func New(t testing.TB, name string, kt certs.KeyType) *CA {
	t.Helper()
	cert, key, err := certs.InitCA(certs.CAOptions{CommonName: name, KeyType: kt})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cert)
	return &CA{CertPEM: cert, KeyPEM: key, Pool: pool}
}

// Issue makes a certificate with a key of type kt naming nodeIDs in
// receptor's otherName and 127.0.0.1 (the host test links dial), valid
// as sign says.
func (ca *CA) Issue(t testing.TB, kt certs.KeyType, sign certs.SignOptions, nodeIDs ...string) *tls.Certificate {
	t.Helper()
	csr, key, err := certs.MakeRequest(certs.RequestOptions{
		CommonName: "node", NodeIDs: nodeIDs, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyType: kt,
	})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := certs.SignRequest(csr, ca.CertPEM, ca.KeyPEM, sign)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return &pair
}
