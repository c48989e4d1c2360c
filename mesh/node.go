package mesh

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"meshd/wire"
)

// Defaults for Config fields left zero.
const (
	DefaultHopLimit          = 30
	DefaultRefreshInterval   = 30 * time.Second
	DefaultMaxAge            = 120 * time.Second
	DefaultKeepaliveInterval = 500 * time.Millisecond
	DefaultIdleTimeout       = 2500 * time.Millisecond
	DefaultHandshakeTimeout  = 10 * time.Second
)

// Config configures a node.
type Config struct {
	NodeID   string
	Key      ed25519.PrivateKey
	Trust    *wire.Trust // nil: open mode, any node may join
	Logger   *slog.Logger
	HopLimit int

	RefreshInterval   time.Duration // own LSA re-flooded this often
	MaxAge            time.Duration // others' LSAs forgotten when not refreshed for this long
	KeepaliveInterval time.Duration // keepalive on an otherwise quiet link
	IdleTimeout       time.Duration // a link silent this long is dropped
	HandshakeTimeout  time.Duration

	// FirewallRules are checked in order against every routed frame
	// (see ParseFirewallRules); none accepts everything.
	FirewallRules []FirewallRule

	// IdentityCert, if set, is a receptor PKI certificate (and its key)
	// naming this node's ID: the node floods an identity advertisement
	// signed by it, so that nodes trusting its CA check this node's LSAs
	// against the key it vouches for (identity.go). Without one, nodes not
	// linked to this one directly trust its key on first sight.
	IdentityCert *tls.Certificate
	// IdentityRoots, if set, are the CAs other nodes' identity ads must
	// chain to (naming the node they advertise); without them, identity
	// ads are neither used nor passed on.
	IdentityRoots *x509.CertPool
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.HopLimit <= 0 || c.HopLimit > 255 {
		c.HopLimit = DefaultHopLimit
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setDur(&c.RefreshInterval, DefaultRefreshInterval)
	setDur(&c.MaxAge, DefaultMaxAge)
	setDur(&c.KeepaliveInterval, DefaultKeepaliveInterval)
	setDur(&c.IdleTimeout, DefaultIdleTimeout)
	setDur(&c.HandshakeTimeout, DefaultHandshakeTimeout)
}

// Node is one mesh node.
type Node struct {
	cfg   Config
	id    string
	ident *wire.Identity
	log   *slog.Logger
	rl    rateLimiter

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// routes is the current routing table, replaced wholesale on change.
	routes atomic.Pointer[routeTable]
	// firewall holds the rules, replaced wholesale; nil when there are none.
	firewall atomic.Pointer[[]FirewallRule]

	mu        sync.Mutex
	links     map[string]*link                // established links by peer ID
	listeners []net.Listener                  // link listeners, closed on shutdown
	peers     map[string][]context.CancelFunc // dial loops by peerKey, for RemovePeer
	lsdb      map[string]*lsaEntry            // link-state database by origin, self included
	bindings  map[string]ed25519.PublicKey    // the key each known node signs with (router.go)
	ownSeq    uint64

	// Identity ads (identity.go): the certificate this node advertises
	// its key under, the CAs others' ads must chain to, and the newest
	// verified ad of each node, this one's included.
	idCert     *tls.Certificate
	idRoots    *x509.CertPool
	idents     map[string]*identEntry
	identBytes int
	ownAdTime  int64

	services map[string]*service
	closed   bool

	// Pending routing work, done by routingLoop so that a burst of
	// changes (links coming up together, a flood of LSAs) costs one LSA
	// and one Dijkstra run instead of one per event.
	originatePending bool
	recomputePending bool
	routingKick      chan struct{}

	streams streamTable
	stats   counters
}

type closer interface{ Close() error }

// New creates a node. It starts no links until AddListener or AddPeer.
func New(cfg Config) (*Node, error) {
	cfg.setDefaults()
	if err := wire.CheckName("node ID", cfg.NodeID); err != nil {
		return nil, err
	}
	if strings.EqualFold(cfg.NodeID, "localhost") {
		return nil, errors.New(`node ID "localhost" is reserved`)
	}
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("node needs an Ed25519 identity key")
	}
	if cfg.Trust != nil {
		if err := cfg.Trust.Check(cfg.NodeID, cfg.Key.Public().(ed25519.PublicKey)); err != nil {
			return nil, fmt.Errorf("own identity: %w", err)
		}
	}
	ident, err := wire.NewIdentity(cfg.NodeID, cfg.Key)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		cfg:         cfg,
		id:          cfg.NodeID,
		ident:       ident,
		log:         cfg.Logger.With("node", cfg.NodeID),
		ctx:         ctx,
		cancel:      cancel,
		links:       map[string]*link{},
		lsdb:        map[string]*lsaEntry{},
		bindings:    map[string]ed25519.PublicKey{},
		idents:      map[string]*identEntry{},
		idCert:      cfg.IdentityCert,
		idRoots:     cfg.IdentityRoots,
		services:    map[string]*service{},
		peers:       map[string][]context.CancelFunc{},
		routingKick: make(chan struct{}, 1),
	}
	n.streams.init()
	n.routes.Store(&routeTable{})
	n.SetFirewallRules(cfg.FirewallRules)
	if cfg.Trust == nil {
		n.log.Warn("no trust file configured: links without certificate trust (a tls entry) accept any node, and every node's key is trusted on first sight (open mode)")
	}
	n.checkOwnIdentity(cfg.IdentityCert, cfg.IdentityRoots)
	n.mu.Lock()
	n.originateIdentityLocked()
	n.originateLocked()
	n.mu.Unlock()
	n.wg.Add(2)
	go n.maintain()
	go n.routingLoop()
	return n, nil
}

// NodeID returns the node ID.
func (n *Node) NodeID() string { return n.id }

// PublicKey returns the node's identity key.
func (n *Node) PublicKey() ed25519.PublicKey { return n.ident.PublicKey() }

// resolve maps "localhost" (any case) to this node, as receptor does.
func (n *Node) resolve(node string) string {
	if strings.EqualFold(node, "localhost") {
		return n.id
	}
	return node
}

// Close shuts the node down: listeners, peers, links and streams.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.cancel()
	for _, l := range n.listeners {
		l.Close()
	}
	links := make([]*link, 0, len(n.links))
	for _, l := range n.links {
		links = append(links, l)
	}
	var services []closer
	for _, s := range n.services {
		if s.sl != nil {
			services = append(services, s.sl)
		} else if s.pc != nil {
			services = append(services, s.pc)
		}
	}
	n.mu.Unlock()
	for _, s := range services {
		s.Close() // wakes Accept and ReadFrom callers
	}
	for _, l := range links {
		l.close(errors.New("node shutting down"))
	}
	n.streams.resetAll(errors.New("node shutting down"))
	n.wg.Wait()
	return nil
}

// maintain runs the node's timers: link idle checks, refresh of the own
// identity ad and LSA, and expiry.
func (n *Node) maintain() {
	defer n.wg.Done()
	tick := time.NewTicker(n.cfg.KeepaliveInterval / 2)
	defer tick.Stop()
	lastRefresh := time.Now()
	for {
		select {
		case <-n.ctx.Done():
			return
		case now := <-tick.C:
			n.checkIdleLinks(now)
			n.mu.Lock()
			if now.Sub(lastRefresh) >= n.cfg.RefreshInterval {
				lastRefresh = now
				// The identity ad first, so that it still precedes the
				// LSA on every link: a node that missed it (a full queue,
				// CAs added at reload) has it again within one refresh.
				if n.idCert != nil {
					n.originateIdentityLocked()
				}
				n.originateLocked()
			}
			n.expireLocked(now)
			n.mu.Unlock()
		}
	}
}

// counters are drop and event counts, by reason.
type counters struct {
	forgedSource     atomic.Int64
	noRoute          atomic.Int64
	expired          atomic.Int64
	queueFull        atomic.Int64
	lsaReceived      atomic.Int64
	linksRefused     atomic.Int64
	badLSA           atomic.Int64
	staleLSA         atomic.Int64
	serviceUnknown   atomic.Int64
	datagramDropped  atomic.Int64
	firewallDropped  atomic.Int64
	firewallRejected atomic.Int64
	identityReceived atomic.Int64
	badIdentity      atomic.Int64
	staleIdentity    atomic.Int64
	firstSight       atomic.Int64
}

// Counters returns the node's drop and event counters by reason.
func (n *Node) Counters() map[string]int64 {
	s := &n.stats
	return map[string]int64{
		"forged_source":     s.forgedSource.Load(),
		"no_route":          s.noRoute.Load(),
		"expired":           s.expired.Load(),
		"queue_full":        s.queueFull.Load(),
		"lsa_received":      s.lsaReceived.Load(),
		"links_refused":     s.linksRefused.Load(),
		"bad_lsa":           s.badLSA.Load(),
		"stale_lsa":         s.staleLSA.Load(),
		"service_unknown":   s.serviceUnknown.Load(),
		"datagram_dropped":  s.datagramDropped.Load(),
		"firewall_dropped":  s.firewallDropped.Load(),
		"firewall_rejected": s.firewallRejected.Load(),
		"identity_received": s.identityReceived.Load(),
		"bad_identity":      s.badIdentity.Load(),
		"stale_identity":    s.staleIdentity.Load(),
		"first_sight_keys":  s.firstSight.Load(),
	}
}
