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
	"meshd/wire"
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

// linkTLS is the certificate trust of a configuration's links, built
// from its tls-server and tls-client entries, by entry name.
type linkTLS struct {
	servers map[string]*wire.X509
	clients map[string]*wire.X509
	// cas are the certificates of the clientcas or rootcas file of each
	// entry that has one, by its link trust, for the node's identity
	// roots (identity.go).
	cas map[*wire.X509][]*x509.Certificate
}

// loadTLSEntries reads every tls-server and tls-client entry's files once
// (the same files, with the same errors, as serverTLSConfig and
// clientTLSConfig), so
// that a bad file stops the node at start (or fails a reload) with an
// error naming the entry, even if nothing uses the entry yet, and returns
// the link trust of the entries.
func loadTLSEntries(cfg *Config) (*linkTLS, error) {
	lt := &linkTLS{servers: map[string]*wire.X509{}, clients: map[string]*wire.X509{}, cas: map[*wire.X509][]*x509.Certificate{}}
	for i := range cfg.TLSServers {
		t := &cfg.TLSServers[i]
		x, cas, err := serverLinkX509(t)
		if err != nil {
			return nil, err
		}
		lt.servers[t.Name], lt.cas[x] = x, cas
	}
	for i := range cfg.TLSClients {
		t := &cfg.TLSClients[i]
		x, cas, err := clientLinkX509(t)
		if err != nil {
			return nil, err
		}
		lt.clients[t.Name], lt.cas[x] = x, cas
	}
	return lt, nil
}

// serverLinkX509 is a tls-server entry as the trust of a listener's
// links: receptor checks client certificates only with
// requireclientcert or clientcas (and pins), and so does meshd; an
// unchecked dialer is known by its Ed25519 key under the node's trust.
func serverLinkX509(t *TLSServerEntry) (x *wire.X509, cas []*x509.Certificate, err error) {
	pair, err := certs.LoadCertKey(t.Cert, t.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", t.Where, err)
	}
	x = &wire.X509{Certificate: &pair, VerifyPeer: t.RequireClientCert || t.ClientCAs != "", SkipNodeIDCheck: t.SkipReceptorNamesCheck}
	if t.ClientCAs != "" {
		if cas, err = certs.LoadCAs(t.ClientCAs); err != nil {
			return nil, nil, fmt.Errorf("%s: key \"clientcas\": %w", t.Where, err)
		}
		x.Roots = certs.NewPool(cas...)
	}
	if x.Pins, err = certs.ParsePins(t.PinnedClientCert); err != nil {
		return nil, nil, fmt.Errorf("%s: key \"pinnedclientcert\": %w", t.Where, err)
	}
	return x, cas, nil
}

// clientLinkX509 is a tls-client entry as the trust of a peer's links;
// forPeer completes it with the host the peer entry dials.
func clientLinkX509(t *TLSClientEntry) (x *wire.X509, cas []*x509.Certificate, err error) {
	x = &wire.X509{VerifyPeer: !t.InsecureSkipVerify, SkipNodeIDCheck: t.SkipReceptorNamesCheck}
	if t.Cert != "" {
		pair, err := certs.LoadCertKey(t.Cert, t.Key)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", t.Where, err)
		}
		x.Certificate = &pair
	}
	if t.RootCAs != "" {
		if cas, err = certs.LoadCAs(t.RootCAs); err != nil {
			return nil, nil, fmt.Errorf("%s: key \"rootcas\": %w", t.Where, err)
		}
		x.Roots = certs.NewPool(cas...)
	}
	if x.Pins, err = certs.ParsePins(t.PinnedServerCert); err != nil {
		return nil, nil, fmt.Errorf("%s: key \"pinnedservercert\": %w", t.Where, err)
	}
	return x, cas, nil
}

// forPeer returns the trust for links dialed to address: as receptor does
// for a tcp-peer, the server's certificate must be valid for the host
// dialed (DNS name or IP address), and then name the node it claims.
func (lt *linkTLS) forPeer(name, address string) *wire.X509 {
	x := lt.clients[name]
	if x == nil {
		return nil
	}
	c := *x
	if host, _, err := net.SplitHostPort(address); err == nil {
		c.ServerName = host
	}
	return &c
}
