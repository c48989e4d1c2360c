package mesh

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"time"

	"meshd/wire"
)

// ListenerSpec describes a link listener (receptor's tcp-listener, or
// meshd's unix-listener).
type ListenerSpec struct {
	Network      string // "tcp" or "unix"
	Address      string // host:port, or a socket path
	Perm         os.FileMode
	Cost         float64            // default 1
	NodeCost     map[string]float64 // per-peer cost overrides
	AllowedPeers []string           // nil: anyone
	// X509, if set, is certificate trust for this listener's links (a
	// tls-server entry) instead of self-signed identity certificates.
	X509 *wire.X509
}

// PeerSpec describes a link the node dials (tcp-peer, unix-peer).
type PeerSpec struct {
	Network      string
	Address      string
	Cost         float64
	Redial       bool
	AllowedPeers []string
	X509         *wire.X509 // certificate trust (a tls-client entry)
}

// Redial backoff: capped, jittered exponential.
const (
	minBackoff       = 200 * time.Millisecond
	maxBackoff       = 5 * time.Second
	maxHandshakes    = 64 // concurrent inbound handshakes per listener
	stableLinkUptime = 5 * time.Second
	dialTimeout      = 5 * time.Second
)

// AddListener opens a link listener and accepts peers on it until the
// node closes. It returns the bound address (useful with port 0).
func (n *Node) AddListener(spec ListenerSpec) (net.Addr, error) {
	ln, err := wire.Listen(spec.Network, spec.Address, spec.Perm)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		ln.Close()
		return nil, errors.New("node is closed")
	}
	n.listeners = append(n.listeners, ln)
	n.mu.Unlock()
	n.wg.Add(1)
	go n.acceptLoop(ln, spec)
	n.log.Info("listening for links", "network", spec.Network, "address", ln.Addr().String())
	return ln.Addr(), nil
}

func (n *Node) acceptLoop(ln net.Listener, spec ListenerSpec) {
	defer n.wg.Done()
	sem := make(chan struct{}, maxHandshakes)
	for {
		conn, err := ln.Accept()
		if err != nil {
			if n.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			n.logLimited("accept", "accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		select {
		case sem <- struct{}{}:
		default:
			n.logLimited("handshake-flood", "too many pending link handshakes; dropping connection", "remote", conn.RemoteAddr().String())
			conn.Close()
			continue
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			peer, err := wire.Handshake(n.ctx, conn, true, n.handshakeConfig(spec.Cost, spec.NodeCost, spec.AllowedPeers, spec.X509))
			<-sem
			if err != nil {
				n.logLimited(refusalKey(conn.RemoteAddr(), err), "inbound link refused", "remote", conn.RemoteAddr().String(), "err", err)
				return
			}
			n.runLink(peer, peer.NodeID, spec.X509.BindsNodeID())
		}()
	}
}

// AddPeer dials a peer and keeps the link up, redialing with backoff when
// spec.Redial is set, until the node closes or RemovePeer.
func (n *Node) AddPeer(spec PeerSpec) {
	ctx, cancel := context.WithCancel(n.ctx)
	n.mu.Lock()
	key := peerKey(spec.Network, spec.Address)
	n.peers[key] = append(n.peers[key], cancel)
	n.mu.Unlock()
	n.wg.Add(1)
	go n.dialLoop(ctx, spec)
}

func peerKey(network, address string) string { return network + " " + address }

func (n *Node) dialLoop(ctx context.Context, spec PeerSpec) {
	defer n.wg.Done()
	backoff := minBackoff
	for ctx.Err() == nil {
		peer, up, err := n.dialOnce(ctx, spec)
		if up >= stableLinkUptime {
			backoff = minBackoff
		}
		if !spec.Redial {
			if err != nil {
				n.logLimited("dial:"+spec.Address, "link to peer failed", "address", spec.Address, "err", err)
			}
			return
		}
		if existing := n.linkTo(peer); existing != nil {
			// The peer dialed us too and the other link won: dial
			// again only once that link is gone.
			n.log.Debug("already linked; waiting for that link to drop before redialing", "peer", peer)
			select {
			case <-ctx.Done():
				return
			case <-existing.done:
			}
			backoff = minBackoff
			continue
		}
		if err != nil {
			n.logLimited("dial:"+spec.Address, "link to peer failed", "address", spec.Address, "err", err, "retry_in", backoff.Round(time.Millisecond))
		}
		// Jitter by ±25% so that peers restarted together do not redial in lockstep.
		wait := time.Duration(float64(backoff) * (0.75 + 0.5*rand.Float64()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// dialOnce dials, handshakes and runs one link; it returns the peer's ID
// (once known) and how long the link was up.
func (n *Node) dialOnce(ctx context.Context, spec PeerSpec) (string, time.Duration, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	conn, err := wire.Dial(dctx, spec.Network, spec.Address)
	cancel()
	if err != nil {
		return "", 0, err
	}
	peer, err := wire.Handshake(ctx, conn, false, n.handshakeConfig(spec.Cost, nil, spec.AllowedPeers, spec.X509))
	if err != nil {
		return "", 0, err
	}
	// A removed peer entry takes its link down with it.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	start := time.Now()
	err = n.runLink(peer, n.id, spec.X509.BindsNodeID())
	return peer.NodeID, time.Since(start), err
}

// linkTo returns the current link to peer, if any.
func (n *Node) linkTo(peer string) *link {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.links[peer]
}

func (n *Node) handshakeConfig(cost float64, nodeCost map[string]float64, allowed []string, x *wire.X509) *wire.HandshakeConfig {
	if cost <= 0 {
		cost = 1
	}
	return &wire.HandshakeConfig{
		Identity: n.ident,
		Trust:    n.cfg.Trust,
		Timeout:  n.cfg.HandshakeTimeout,
		X509:     x,
		Cost: func(peer string, key ed25519.PublicKey) (float64, error) {
			if err := n.admit(peer, key, allowed, x.BindsNodeID()); err != nil {
				return 0, err
			}
			if c, ok := nodeCost[peer]; ok {
				return c, nil
			}
			return cost, nil
		},
	}
}

// admit decides whether a peer that proved its key may link to us;
// verified says its certificate vouches for that key.
func (n *Node) admit(peer string, key ed25519.PublicKey, allowed []string, verified bool) (err error) {
	defer func() {
		if err != nil {
			n.stats.linksRefused.Add(1)
		}
	}()
	if peer == n.id {
		return fmt.Errorf("node ID %s is this node's own ID", peer)
	}
	if allowed != nil && !slices.Contains(allowed, peer) {
		return fmt.Errorf("node %s is not an allowed peer", peer)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.checkLinkKeyLocked(peer, key, verified)
}

// checkLinkKeyLocked is checkKeyLocked for a link's peer. A key that the
// peer's certificate vouches for is subject to the trust file alone: it
// beats first sight, and as live proof it beats identity ads too.
func (n *Node) checkLinkKeyLocked(peer string, key ed25519.PublicKey, verified bool) error {
	if !verified {
		return n.checkKeyLocked(peer, key)
	}
	if n.cfg.Trust != nil {
		return n.cfg.Trust.Check(peer, key)
	}
	return nil
}

// runLink registers an authenticated link, runs it and unregisters it.
func (n *Node) runLink(p *wire.Peer, dialer string, verified bool) error {
	l := newLink(n, p, dialer, verified)
	if err := n.addLink(l); err != nil {
		l.sendBytes(wire.FrameReject, []byte(err.Error()))
		// Give the writer a moment to deliver the reason, then close.
		go l.writeLoop()
		time.AfterFunc(200*time.Millisecond, func() { l.close(err) })
		<-l.done
		return err
	}
	n.log.Info("link up", "peer", l.peer, "cost", l.cost)
	l.run()
	n.removeLink(l)
	var rej *wire.RejectedError
	if errors.As(l.err, &rej) {
		return l.err
	}
	n.log.Info("link down", "peer", l.peer, "reason", l.err)
	return nil
}

// addLink makes l the link to its peer. A second link to the same peer is
// resolved the same way on both ends: keep the one dialed by the smaller
// node ID; a new link from the same dialer replaces the old (which must be
// dead, since a dialer redials only after its link dropped).
func (n *Node) addLink(l *link) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errors.New("node shutting down")
	}
	if err := n.checkLinkKeyLocked(l.peer, l.peerKey, l.verified); err != nil {
		return err
	}
	if old := n.links[l.peer]; old != nil {
		keeper := min(n.id, l.peer)
		if old.dialer != l.dialer && old.dialer == keeper {
			return fmt.Errorf("already linked to %s", l.peer)
		}
		delete(n.links, l.peer)
		go old.close(errors.New("replaced by a newer link"))
	}
	n.links[l.peer] = l
	if l.verified {
		n.adoptVerifiedKeyLocked(l.peer, l.peerKey)
	} else {
		n.bindLocked(l.peer, l.peerKey)
	}
	// Database exchange: the new neighbour learns the whole mesh at once,
	// every identity ad before any LSA it vouches for.
	for _, e := range n.idents {
		l.sendBytes(wire.FrameIdentityAd, e.raw)
	}
	for id, e := range n.lsdb {
		if id != n.id {
			l.sendBytes(wire.FrameLSA, e.raw)
		}
	}
	n.scheduleOriginateLocked()
	return nil
}

func (n *Node) removeLink(l *link) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.links[l.peer] != l {
		return
	}
	delete(n.links, l.peer)
	n.scheduleOriginateLocked()
	n.scheduleRecomputeLocked() // stop routing into the dead link now
}

// refusalKey groups refusals for rate-limited logging: by remote host (not
// port: a redialing peer gets a new port every time) and by the reason, so
// one refused peer's lines never hide another's.
func refusalKey(remote net.Addr, err error) string {
	host := remote.String()
	if h, _, splitErr := net.SplitHostPort(host); splitErr == nil {
		host = h
	}
	reason := err.Error()
	if len(reason) > 80 {
		reason = reason[:80]
	}
	return "refused:" + host + ":" + reason
}
