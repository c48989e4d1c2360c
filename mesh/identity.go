package mesh

// Identity advertisements (CA mode): a node whose certificate names it
// floods that certificate once, signed over its Ed25519 key; a node that
// trusts the CA checks every LSA of that origin against that key, even if
// the origin is many hops away. Where keys come from, strongest first:
// the trust file (pinned); a key a certificate vouches for (a verified
// identity ad, or a direct link whose certificate was verified in CA
// mode); the first key seen (open mode). Nodes without an identity ad
// (no certificate naming them, e.g. a tls-client without one) stay on
// first sight.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"

	"meshd/wire"
)

// Bounds on the identity database: an ad is at most a few tens of
// kilobytes (wire.MaxIdentityChainBytes), and every node of the mesh has
// at most one.
const (
	maxIdentityAds   = 8192
	maxIdentityBytes = 16 << 20
)

// identEntry is one node's newest verified identity ad.
type identEntry struct {
	key      ed25519.PublicKey
	time     int64  // origination time: a newer ad replaces this one
	raw      []byte // the ad, flooded byte for byte
	received time.Time
}

// errBadIdentity marks an identity ad that only a misbehaving neighbour
// sends: honest nodes parse and check the signature before they flood.
var errBadIdentity = errors.New("invalid identity advertisement")

// SetIdentity replaces the certificate this node advertises its key
// under and the CAs it checks other nodes' identity ads against
// (configuration reload). A changed certificate is advertised at once;
// ads accepted earlier are not checked again.
func (n *Node) SetIdentity(cert *tls.Certificate, roots *x509.CertPool) {
	n.checkOwnIdentity(cert, roots)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.idRoots = roots
	if sameCert(n.idCert, cert) {
		n.idCert = cert
		return
	}
	n.idCert = cert
	n.originateIdentityLocked()
}

func sameCert(a, b *tls.Certificate) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.Certificate) != len(b.Certificate) {
		return false
	}
	for i := range a.Certificate {
		if !bytes.Equal(a.Certificate[i], b.Certificate[i]) {
			return false
		}
	}
	return true
}

// checkOwnIdentity warns when this node's own ad would be refused by
// nodes with the same CAs: a misconfiguration otherwise seen only as
// other nodes' refusals.
func (n *Node) checkOwnIdentity(cert *tls.Certificate, roots *x509.CertPool) {
	if cert == nil {
		return
	}
	raw, err := wire.SignIdentityAd(n.id, n.PublicKey(), time.Now().UnixNano(), cert)
	if err == nil && roots != nil {
		var ad *wire.IdentityAd
		if ad, err = wire.ParseIdentityAd(raw); err == nil {
			err = ad.Verify(roots, false)
		}
	}
	if err != nil {
		n.log.Warn("this node's identity advertisement would be refused; other nodes will trust its key on first sight", "err", err)
	}
}

// originateIdentityLocked signs, stores and floods this node's identity
// ad, or forgets it when the node has no certificate.
func (n *Node) originateIdentityLocked() {
	if n.idCert == nil {
		n.dropIdentityLocked(n.id)
		return
	}
	t := max(time.Now().UnixNano(), n.ownAdTime+1)
	raw, err := wire.SignIdentityAd(n.id, n.PublicKey(), t, n.idCert)
	if err != nil {
		n.log.Error("cannot build identity advertisement; other nodes will trust this node's key on first sight", "err", err)
		n.dropIdentityLocked(n.id)
		return
	}
	n.ownAdTime = t
	n.storeIdentityLocked(n.id, &identEntry{key: n.PublicKey(), time: t, raw: raw, received: time.Now()})
	n.floodLocked(wire.FrameIdentityAd, raw, nil)
}

func (n *Node) storeIdentityLocked(id string, e *identEntry) {
	n.dropIdentityLocked(id)
	n.idents[id] = e
	n.identBytes += len(e.raw)
}

func (n *Node) dropIdentityLocked(id string) {
	if old := n.idents[id]; old != nil {
		n.identBytes -= len(old.raw)
		delete(n.idents, id)
	}
}

// handleIdentityAd verifies, stores and floods an identity ad received on
// link from. Only a malformed or badly signed ad returns an error
// (cutting the link); one this node cannot or will not use is dropped,
// counted and logged, and not passed on.
func (n *Node) handleIdentityAd(from *link, body []byte) error {
	n.mu.Lock()
	roots := n.idRoots
	n.mu.Unlock()
	if roots == nil {
		return nil // no CA to check it against: neither used nor passed on
	}
	if n.haveIdentity(body) {
		n.stats.staleIdentity.Add(1)
		return nil
	}
	ad, err := wire.ParseIdentityAd(body)
	if err != nil {
		n.stats.badIdentity.Add(1)
		return fmt.Errorf("%w: %v", errBadIdentity, err)
	}
	// The chain check is the expensive part: done before taking the lock.
	if err := ad.Verify(roots, false); err != nil {
		n.refuseIdentity(ad.NodeID, from, err)
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if ad.NodeID == n.id {
		n.ownIdentityLocked(ad, body, from)
		return nil
	}
	old := n.idents[ad.NodeID]
	if old != nil && ad.Time <= old.time {
		n.stats.staleIdentity.Add(1)
		return nil
	}
	if err := n.checkIdentityKeyLocked(ad.NodeID, ad.PublicKey); err != nil {
		n.refuseIdentity(ad.NodeID, from, err)
		return nil
	}
	if old == nil && (len(n.idents) >= maxIdentityAds || n.identBytes+len(body) > maxIdentityBytes) {
		n.refuseIdentity(ad.NodeID, from, errors.New("identity database full"))
		return nil
	}
	raw := bytes.Clone(body)
	n.storeIdentityLocked(ad.NodeID, &identEntry{key: ad.PublicKey, time: ad.Time, raw: raw, received: time.Now()})
	if old == nil || !old.key.Equal(ad.PublicKey) {
		n.log.Debug("node key vouched for by its certificate", "node", ad.NodeID, "via", from.peer)
	}
	n.adoptVerifiedKeyLocked(ad.NodeID, ad.PublicKey)
	n.floodLocked(wire.FrameIdentityAd, raw, from)
	return nil
}

func (n *Node) refuseIdentity(node string, from *link, err error) {
	n.stats.badIdentity.Add(1)
	n.logLimited("bad-identity:"+node, "identity advertisement refused", "node", node, "via", from.peer, "err", err)
}

// haveIdentity reports whether body is a copy of an identity ad this node
// already has (or an older one), so that flooding's duplicates skip the
// certificate checks. A forged body can at worst be dropped here.
func (n *Node) haveIdentity(body []byte) bool {
	id, t, err := wire.PeekIdentityAd(body)
	if err != nil {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	e := n.idents[id]
	return e != nil && t <= e.time
}

// ownIdentityLocked handles a verified ad that names this node. One
// newer than ours comes from an earlier incarnation (or another holder of
// our certificate): we advertise again above it, so that ours wins. One
// that says what ours says (our key, our certificate chain) is taken as
// ours instead: outbidding it would never end if it came from a copy of
// this node (a cloned host with the same key and certificate), each copy
// signing and flooding a newer ad for every ad of the other.
func (n *Node) ownIdentityLocked(ad *wire.IdentityAd, body []byte, from *link) {
	mine := ad.PublicKey.Equal(n.PublicKey())
	if !mine {
		n.stats.badIdentity.Add(1)
		n.logLimited("dup-self-identity", "another node advertises a certificate for this node's ID with another key; it is ignored", "via", from.peer)
	}
	if n.idCert == nil || ad.Time < n.ownAdTime {
		return
	}
	n.ownAdTime = ad.Time
	if mine && slices.EqualFunc(ad.Chain, n.idCert.Certificate, bytes.Equal) {
		raw := bytes.Clone(body)
		n.storeIdentityLocked(n.id, &identEntry{key: n.PublicKey(), time: ad.Time, raw: raw, received: time.Now()})
		n.floodLocked(wire.FrameIdentityAd, raw, from)
		return
	}
	n.originateIdentityLocked()
}

// checkIdentityKeyLocked decides whether a verified ad may bind key to
// node: the trust file, if any, has the last word, and a direct link
// whose certificate was verified proves its key live, so an ad cannot
// displace it.
func (n *Node) checkIdentityKeyLocked(node string, key ed25519.PublicKey) error {
	if n.cfg.Trust != nil {
		return n.cfg.Trust.Check(node, key)
	}
	if l := n.links[node]; l != nil && l.verified && !l.peerKey.Equal(key) {
		return fmt.Errorf("node %s: its certificate-verified link proves another key", node)
	}
	return nil
}

// verifiedKeyLocked returns the key a certificate vouches for node, if
// any: that of a certificate-verified direct link, else that of its
// identity ad.
func (n *Node) verifiedKeyLocked(node string) (ed25519.PublicKey, bool) {
	if l := n.links[node]; l != nil && l.verified {
		return l.peerKey, true
	}
	if e := n.idents[node]; e != nil {
		return e.key, true
	}
	return nil, false
}

// adoptVerifiedKeyLocked makes key, which a certificate vouches for,
// node's key. A first-sight binding of another key gives way: the LSA it
// let in is dropped (and routes recomputed) and a link that proved that
// other key is closed.
func (n *Node) adoptVerifiedKeyLocked(node string, key ed25519.PublicKey) {
	if old, ok := n.bindings[node]; ok && !old.Equal(key) {
		n.logLimited("rebind:"+node, "a certificate vouches for another key of this node than the one trusted so far; what that key signed is dropped", "node", node)
	}
	n.bindings[node] = key
	if e := n.lsdb[node]; e != nil && !e.lsa.PublicKey.Equal(key) {
		delete(n.lsdb, node)
		n.stats.badLSA.Add(1)
		n.scheduleRecomputeLocked()
	}
	if l := n.links[node]; l != nil && !l.peerKey.Equal(key) {
		go l.close(fmt.Errorf("node %s: a certificate vouches for another key", node))
	}
}

// expireIdentitiesLocked forgets the ads of nodes that are gone: no LSA,
// no link, and the ad older than MaxAge (an ad arrives before its LSA).
func (n *Node) expireIdentitiesLocked(now time.Time) {
	for id, e := range n.idents {
		if id == n.id || n.lsdb[id] != nil || n.links[id] != nil || now.Sub(e.received) <= n.cfg.MaxAge {
			continue
		}
		n.dropIdentityLocked(id)
	}
}
