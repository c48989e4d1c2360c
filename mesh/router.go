package mesh

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sort"
	"time"

	"meshd/wire"
)

// lsaEntry is one origin's newest advertisement.
type lsaEntry struct {
	lsa      *wire.LSA
	raw      []byte // signed body, flooded byte for byte
	received time.Time
}

// nextSeqLocked returns a sequence number above every earlier one, also
// across restarts: it follows the wall clock in nanoseconds.
func (n *Node) nextSeqLocked() uint64 {
	seq := uint64(time.Now().UnixNano())
	if seq <= n.ownSeq {
		seq = n.ownSeq + 1
	}
	n.ownSeq = seq
	return seq
}

// originateLocked builds, signs, stores and floods this node's LSA. It is
// called on every change of links or services and periodically.
func (n *Node) originateLocked() {
	if n.closed {
		return
	}
	lsa := &wire.LSA{
		Origin:    n.id,
		PublicKey: n.ident.PublicKey(),
		Seq:       n.nextSeqLocked(),
		Time:      time.Now().UnixNano(),
	}
	for id, l := range n.links {
		lsa.Neighbors = append(lsa.Neighbors, wire.Neighbor{NodeID: id, Cost: l.cost})
	}
	sort.Slice(lsa.Neighbors, func(i, j int) bool { return lsa.Neighbors[i].NodeID < lsa.Neighbors[j].NodeID })
	lsa.Services = n.ownServicesLocked()
	raw, err := lsa.MarshalSigned(n.cfg.Key)
	if err != nil {
		n.log.Error("cannot build routing advertisement", "err", err)
		return
	}
	n.lsdb[n.id] = &lsaEntry{lsa: lsa, raw: raw, received: time.Now()}
	n.floodLocked(wire.FrameLSA, raw, nil)
	n.recomputeLocked()
}

// ownServicesLocked lists this node's advertised services by name.
func (n *Node) ownServicesLocked() []wire.ServiceAd {
	var ads []wire.ServiceAd
	for _, s := range n.services {
		if s.ad != nil {
			ads = append(ads, s.ad.wire(s.name))
		}
	}
	sort.Slice(ads, func(i, j int) bool { return ads[i].Name < ads[j].Name })
	return ads
}

// floodLocked sends a routing frame body (an LSA or an identity ad) to
// every link except from. Both go in the control class, in order, so an
// identity ad always precedes the LSAs it vouches for on every link.
func (n *Node) floodLocked(typ byte, raw []byte, from *link) {
	for _, l := range n.links {
		if l != from {
			l.sendBytes(typ, raw)
		}
	}
}

// errBadLSA marks an LSA that only a misbehaving neighbour sends: honest
// nodes verify before they flood.
var errBadLSA = errors.New("invalid routing advertisement")

// handleLSA verifies, stores and floods an LSA received on link from.
// Only a malformed or badly signed LSA returns an error (cutting the
// link); stale, replayed or untrusted ones are dropped.
func (n *Node) handleLSA(from *link, body []byte) error {
	if n.haveLSA(body) {
		n.stats.staleLSA.Add(1)
		return nil
	}
	lsa, err := wire.ParseLSA(body)
	if err != nil {
		n.stats.badLSA.Add(1)
		return fmt.Errorf("%w: %v", errBadLSA, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if lsa.Origin == n.id {
		n.ownLSALocked(lsa, from)
		return nil
	}
	if err := n.checkKeyLocked(lsa.Origin, lsa.PublicKey); err != nil {
		n.stats.badLSA.Add(1)
		n.logLimited("untrusted-lsa:"+lsa.Origin, "dropping routing advertisement", "origin", lsa.Origin, "via", from.peer, "err", err)
		return nil
	}
	old := n.lsdb[lsa.Origin]
	if old != nil && lsa.Seq <= old.lsa.Seq {
		n.stats.staleLSA.Add(1)
		return nil
	}
	raw := bytes.Clone(body)
	n.lsdb[lsa.Origin] = &lsaEntry{lsa: lsa, raw: raw, received: time.Now()}
	n.bindLocked(lsa.Origin, lsa.PublicKey)
	n.floodLocked(wire.FrameLSA, raw, from)
	n.scheduleRecomputeLocked()
	return nil
}

// haveLSA reports whether body is a copy of an LSA this node already has
// (or an older one), so that flooding's duplicates skip the signature
// check. A forged body can at worst be dropped here as "already seen",
// which changes nothing.
func (n *Node) haveLSA(body []byte) bool {
	origin, seq, err := wire.PeekLSA(body)
	if err != nil || origin == n.id {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	e := n.lsdb[origin]
	return e != nil && seq <= e.lsa.Seq
}

// ownLSALocked handles an LSA that names this node as origin. One signed
// by another key is a node claiming our ID: it is dropped and can never
// shut us down. One signed by our key with a higher sequence is an echo of
// an earlier incarnation of us: we re-originate above it.
func (n *Node) ownLSALocked(lsa *wire.LSA, from *link) {
	if !lsa.PublicKey.Equal(n.ident.PublicKey()) {
		n.stats.badLSA.Add(1)
		n.logLimited("dup-self", "another node claims this node's ID; its advertisements are ignored", "via", from.peer)
		return
	}
	if lsa.Seq > n.ownSeq {
		n.ownSeq = lsa.Seq
		n.scheduleOriginateLocked()
	}
}

// checkKeyLocked decides whether key may speak for node: the trust file
// in pinned mode; otherwise the key a certificate vouches for, if any
// (identity.go); otherwise the first key seen for that ID (like SSH's
// known_hosts) while the node is known.
func (n *Node) checkKeyLocked(node string, key ed25519.PublicKey) error {
	if n.cfg.Trust != nil {
		return n.cfg.Trust.Check(node, key)
	}
	if want, ok := n.verifiedKeyLocked(node); ok {
		if !want.Equal(key) {
			return fmt.Errorf("node %s: not the key its certificate vouches for", node)
		}
		return nil
	}
	if known, ok := n.bindings[node]; ok && !known.Equal(key) {
		return fmt.Errorf("duplicate node ID %s: a node with another key already uses it", node)
	}
	return nil
}

// bindLocked records key as node's, counting a key trusted on first
// sight (no trust file, and no key known for node yet: a certificate
// would have bound one before).
func (n *Node) bindLocked(node string, key ed25519.PublicKey) {
	if _, known := n.bindings[node]; !known && n.cfg.Trust == nil {
		n.stats.firstSight.Add(1)
	}
	n.bindings[node] = key
}

// expireLocked forgets LSAs not refreshed within MaxAge (their nodes
// left), their identity ads, and the key bindings of nodes no longer
// known by any of these or a link.
func (n *Node) expireLocked(now time.Time) {
	changed := false
	for id, e := range n.lsdb {
		if id == n.id || now.Sub(e.received) <= n.cfg.MaxAge {
			continue
		}
		delete(n.lsdb, id)
		changed = true
	}
	n.expireIdentitiesLocked(now)
	for id := range n.bindings {
		if n.lsdb[id] == nil && n.links[id] == nil && n.idents[id] == nil {
			delete(n.bindings, id)
		}
	}
	if changed {
		n.scheduleRecomputeLocked()
	}
}

func (n *Node) logLimited(key, msg string, args ...any) {
	if n.rl.allow(key) {
		n.log.Warn(msg, args...)
	}
}

// originateDelay batches link and service changes into one new LSA.
const originateDelay = 5 * time.Millisecond

// scheduleOriginateLocked asks for a new own LSA shortly.
func (n *Node) scheduleOriginateLocked() {
	if n.originatePending {
		return
	}
	n.originatePending = true
	time.AfterFunc(originateDelay, n.kickRouting)
}

// scheduleRecomputeLocked asks for a new routing table as soon as possible.
func (n *Node) scheduleRecomputeLocked() {
	n.recomputePending = true
	n.kickRouting()
}

func (n *Node) kickRouting() {
	select {
	case n.routingKick <- struct{}{}:
	default:
	}
}

// routingLoop performs pending originations and recomputations.
func (n *Node) routingLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.routingKick:
		}
		n.mu.Lock()
		if n.originatePending {
			n.originatePending = false
			n.originateLocked() // recomputes too
		} else if n.recomputePending {
			n.recomputeLocked()
		}
		n.mu.Unlock()
	}
}
