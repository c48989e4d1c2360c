package cli

// Certificate trust for routing advertisements (mesh.Config's
// IdentityCert and IdentityRoots), taken from the tls entries the node's
// links use, so that CA mode needs no configuration of its own: the node
// advertises its key under its certificate when one of those entries'
// certificates names its node ID, and checks other nodes' identity
// advertisements against the CAs those entries verify peers with.

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"slices"

	"meshd/certs"
	"meshd/wire"
)

// linkIdentity is the node's part in identity advertisements.
type linkIdentity struct {
	cert    *tls.Certificate // advertised under; nil: none names this node
	from    string           // the entry cert comes from, for the log
	roots   *x509.CertPool   // others' ads must chain to these; nil: not checked
	cas     int              // how many CA certificates roots holds
	caLinks bool             // some link uses certificate trust at all
}

// nodeIdentity finds the certificate of the first tls entry (those of
// tcp-listeners, then those of tcp-peers) that names the node, and pools
// the clientcas and rootcas of the entries that verify peers. An entry
// that verifies against the system roots adds none: a public CA is not one
// that should vouch for node IDs.
func nodeIdentity(cfg *Config, lt *linkTLS) linkIdentity {
	var id linkIdentity
	var cas []*x509.Certificate
	use := func(kind, name string, x *wire.X509) {
		if x == nil {
			return
		}
		id.caLinks = true
		if id.cert == nil && names(x.Certificate, cfg.Node.ID) {
			id.cert, id.from = x.Certificate, kind+" "+name
		}
		if x.VerifyPeer {
			for _, c := range lt.cas[x] {
				if !slices.ContainsFunc(cas, c.Equal) { // entries often share a CA file
					cas = append(cas, c)
				}
			}
		}
	}
	for _, l := range cfg.TCPListeners {
		use("tls-server", l.TLS, lt.servers[l.TLS])
	}
	for _, p := range cfg.TCPPeers {
		use("tls-client", p.TLS, lt.clients[p.TLS])
	}
	if len(cas) > 0 {
		id.roots = certs.NewPool(cas...)
		id.cas = len(cas)
	}
	return id
}

// names reports whether cert's leaf names node in a receptor otherName.
func names(cert *tls.Certificate, node string) bool {
	if cert == nil || len(cert.Certificate) == 0 {
		return false
	}
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return false
		}
	}
	ids, err := certs.NodeIDs(leaf)
	return err == nil && slices.Contains(ids, node)
}

// log says, for a node with certificate links, how far certificates
// vouch for routing advertisements, and where first sight remains.
func (id linkIdentity) log(logger *slog.Logger) {
	if !id.caLinks {
		return
	}
	advertised := id.from
	if id.cert == nil {
		advertised = "none: no certificate of this node's tls entries names its node ID, so nodes not linked to it directly trust its key on first sight"
	}
	checked := "none: no tls entry of a link verifies peers against clientcas or rootcas, so keys of nodes not linked directly are trusted on first sight"
	if id.roots != nil {
		checked = "the clientcas and rootcas of this node's link tls entries"
	}
	logger.Info("certificate trust of routing advertisements", "identity_advertised_under", advertised, "identity_ads_checked_against", checked, "ca_certificates", id.cas)
}
