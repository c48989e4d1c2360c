package cli

// Building *tls.Config objects from tls-server and tls-client entries, at
// start (and at reload), with receptor's semantics: minimum TLS 1.2, or
// 1.3 with mintls13; a server asks for client certificates with
// requireclientcert, clientcas or pinnedclientcert and then verifies them
// (chain to clientcas, or the system roots; a receptor node ID in the
// certificate unless skipreceptornamescheck; a pinned fingerprint if
// any); a client verifies the server's chain against rootcas (or the
// system roots) and the name it dialled, unless insecureskipverify, and
// its pinned fingerprints in any case. Errors name the entry.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

	"meshd/certs"
)

func minTLSVersion(tls13 bool) uint16 {
	if tls13 {
		return tls.VersionTLS13
	}
	return tls.VersionTLS12
}

// serverTLSConfig builds the server side of a tls-server entry.
func serverTLSConfig(t *TLSServerEntry) (*tls.Config, error) {
	pair, err := certs.LoadCertKey(t.Cert, t.Key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Where, err)
	}
	cfg := &tls.Config{
		MinVersion:   minTLSVersion(t.MinTLS13),
		Certificates: []tls.Certificate{pair},
	}
	var pool *x509.CertPool
	if t.ClientCAs != "" {
		if pool, err = certs.LoadPool(t.ClientCAs); err != nil {
			return nil, fmt.Errorf("%s: key \"clientcas\": %w", t.Where, err)
		}
	}
	pins, err := certs.ParsePins(t.PinnedClientCert)
	if err != nil {
		return nil, fmt.Errorf("%s: key \"pinnedclientcert\": %w", t.Where, err)
	}
	if !t.RequireClientCert && pool == nil && len(pins) == 0 {
		return cfg, nil
	}
	// Go's own client verification cannot skip the node ID check nor
	// take pins; VerifyPeer does what receptor's verify function does.
	cfg.ClientAuth = tls.RequireAnyClientCert
	skipNames := t.SkipReceptorNamesCheck
	cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		opts := certs.VerifyOptions{Roots: pool, Usage: x509.ExtKeyUsageClientAuth, SkipNodeIDCheck: true, Pins: pins}
		if err := certs.VerifyPeer(raw, opts); err != nil {
			return fmt.Errorf("client certificate refused: %w", err)
		}
		if skipNames {
			return nil
		}
		leaf, err := x509.ParseCertificate(raw[0])
		if err != nil {
			return err
		}
		ids, err := certs.NodeIDs(leaf)
		if err != nil {
			return fmt.Errorf("client certificate refused: %w", err)
		}
		if len(ids) == 0 {
			return errors.New("client certificate refused: it names no receptor node ID (set skipreceptornamescheck to accept it)")
		}
		return nil
	}
	return cfg, nil
}

// clientTLSConfig builds the client side of a tls-client entry for
// dialling address (host:port): the server's certificate must be valid
// for host, as for receptor's proxies.
func clientTLSConfig(t *TLSClientEntry, address string) (*tls.Config, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	cfg := &tls.Config{MinVersion: minTLSVersion(t.MinTLS13), ServerName: host}
	if t.Cert != "" {
		pair, err := certs.LoadCertKey(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Where, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	var pool *x509.CertPool
	if t.RootCAs != "" {
		if pool, err = certs.LoadPool(t.RootCAs); err != nil {
			return nil, fmt.Errorf("%s: key \"rootcas\": %w", t.Where, err)
		}
	}
	pins, err := certs.ParsePins(t.PinnedServerCert)
	if err != nil {
		return nil, fmt.Errorf("%s: key \"pinnedservercert\": %w", t.Where, err)
	}
	insecure := t.InsecureSkipVerify
	cfg.InsecureSkipVerify = true // verified below, as receptor does
	cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return certs.ErrNoCertificate
		}
		leaf, err := x509.ParseCertificate(raw[0])
		if err != nil {
			return fmt.Errorf("server certificate: %w", err)
		}
		if insecure {
			if len(pins) > 0 && !certs.PinnedMatch(leaf, pins) {
				return fmt.Errorf("server certificate refused: %w (%s)", certs.ErrPinMismatch, certs.Fingerprint(leaf))
			}
			return nil
		}
		opts := certs.VerifyOptions{Roots: pool, Usage: x509.ExtKeyUsageServerAuth, SkipNodeIDCheck: true, Pins: pins}
		if err := certs.VerifyPeer(raw, opts); err != nil {
			return fmt.Errorf("server certificate refused: %w", err)
		}
		if err := leaf.VerifyHostname(host); err != nil {
			return fmt.Errorf("server certificate refused: %w", err)
		}
		return nil
	}
	return cfg, nil
}

// checkTLSEntries builds every tls-server and tls-client entry once, so
// that a bad file stops the node at start (or fails a reload) with an
// error naming the entry, even if nothing uses the entry yet.
func checkTLSEntries(cfg *Config) error {
	for i := range cfg.TLSServers {
		if _, err := serverTLSConfig(&cfg.TLSServers[i]); err != nil {
			return err
		}
	}
	for i := range cfg.TLSClients {
		if _, err := clientTLSConfig(&cfg.TLSClients[i], "localhost:0"); err != nil {
			return err
		}
	}
	return nil
}
