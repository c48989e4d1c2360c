package mesh

import (
	"bytes"
	"crypto/ed25519"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"meshd/certs"
	"meshd/internal/testpki"
	"meshd/wire"
)

// newTestPKI is a CA for the nodes of a test; issue makes a certificate
// naming one node.
func newTestPKI(t *testing.T, name string) *testpki.CA { return testpki.New(t, name, certs.Ed25519) }

func issue(t *testing.T, pki *testpki.CA, node string) *tls.Certificate {
	return pki.Issue(t, certs.Ed25519, certs.SignOptions{}, node)
}

// caNode starts a node with a certificate of pki naming it, checking
// identity ads against pki.
func caNode(t *testing.T, pki *testpki.CA, id string, opts ...func(*Config)) *Node {
	t.Helper()
	cert := issue(t, pki, id)
	return testNode(t, id, append([]func(*Config){func(c *Config) {
		c.IdentityCert, c.IdentityRoots = cert, pki.Pool
	}}, opts...)...)
}

// caConnect links a to b (a dials b) in CA mode, each verifying the
// other's certificate against pki.
func caConnect(t *testing.T, pki *testpki.CA, a, b *Node) {
	t.Helper()
	addr, err := b.AddListener(ListenerSpec{Network: "tcp", Address: "127.0.0.1:0",
		X509: &wire.X509{Certificate: b.cfg.IdentityCert, Roots: pki.Pool, VerifyPeer: true}})
	if err != nil {
		t.Fatal(err)
	}
	a.AddPeer(PeerSpec{Network: "tcp", Address: addr.String(), Redial: true,
		X509: &wire.X509{Certificate: a.cfg.IdentityCert, Roots: pki.Pool, VerifyPeer: true, ServerName: "127.0.0.1"}})
}

// caChain builds a <- b <- c in CA mode (each dials the one before).
func caChain(t *testing.T, pki *testpki.CA, opts ...func(*Config)) (a, b, c *Node) {
	t.Helper()
	a, b, c = caNode(t, pki, "a", opts...), caNode(t, pki, "b", opts...), caNode(t, pki, "c", opts...)
	caConnect(t, pki, b, a)
	caConnect(t, pki, c, b)
	waitRoute(t, a, c)
	waitRoute(t, c, a)
	return a, b, c
}

func (n *Node) identityKey(id string) ed25519.PublicKey {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e := n.idents[id]; e != nil {
		return e.key
	}
	return nil
}

func (n *Node) lsaKey(id string) ed25519.PublicKey {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e := n.lsdb[id]; e != nil {
		return e.lsa.PublicKey
	}
	return nil
}

// TestIdentityChain: in a CA-mode chain a-b-c, a learns c's key from c's
// identity ad alone (they are not linked), before c's LSA: no key is
// ever trusted on first sight, and an LSA of c by another key is refused.
func TestIdentityChain(t *testing.T) {
	pki := newTestPKI(t, "Mesh CA")
	a, b, c := caChain(t, pki)
	if k := a.identityKey("c"); !k.Equal(c.PublicKey()) {
		t.Fatalf("a holds no identity ad of c (key %x)", k)
	}
	for _, n := range []*Node{a, b, c} {
		cnt := n.Counters()
		if cnt["first_sight_keys"] != 0 || cnt["bad_identity"] != 0 {
			t.Errorf("%s: %v", n.id, cnt)
		}
		for _, m := range []*Node{a, b, c} {
			if !n.identityKey(m.id).Equal(m.PublicKey()) {
				t.Errorf("%s has no identity ad of %s", n.id, m.id)
			}
		}
	}
	other, _ := wire.GenerateKey()
	a.mu.Lock()
	err := a.checkKeyLocked("c", other.Public().(ed25519.PublicKey))
	a.mu.Unlock()
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("another key for c: %v", err)
	}
	if r := a.Ping(ctx(t), "c"); r.Error != "" {
		t.Fatalf("ping: %+v", r)
	}
}

// TestForgedLSABeforeIdentity: a hostile neighbour's LSA for c, signed by
// its own key, is trusted on first sight while c is unknown; once c's
// certificate-vouched key arrives, the forgery is dropped, c's real LSA
// taken, and later forgeries refused and counted.
func TestForgedLSABeforeIdentity(t *testing.T) {
	pki := newTestPKI(t, "Mesh CA")
	a, b, c := caNode(t, pki, "a"), caNode(t, pki, "b"), caNode(t, pki, "c")
	caConnect(t, pki, b, a)
	waitRoute(t, a, b)
	p, mkey := rawPeer(t, a, "mallory") // over an open-mode listener of a
	mpub := mkey.Public().(ed25519.PublicKey)
	now := time.Now().UnixNano()
	forged := &wire.LSA{Origin: "c", PublicKey: mpub, Seq: uint64(now) + 1e15, Time: now,
		Neighbors: []wire.Neighbor{{NodeID: "mallory", Cost: 1}}}
	send(t, p, lsaFrame(t, forged, mkey))
	waitFor(t, "forgery taken on first sight", 5*time.Second, func() bool { return a.lsaKey("c").Equal(mpub) && b.lsaKey("c").Equal(mpub) })

	caConnect(t, pki, c, b)
	waitFor(t, "c's own LSA everywhere", 10*time.Second, func() bool {
		return a.lsaKey("c").Equal(c.PublicKey()) && b.lsaKey("c").Equal(c.PublicKey())
	})
	waitFor(t, "route a->c via b", 5*time.Second, func() bool { return a.Status().RoutingTable["c"] == "b" })

	before := a.stats.badLSA.Load()
	forged.Seq += 1e15
	send(t, p, lsaFrame(t, forged, mkey))
	waitFor(t, "second forgery refused", 5*time.Second, func() bool { return a.stats.badLSA.Load() > before })
	if !a.lsaKey("c").Equal(c.PublicKey()) || !linked(a, "mallory") {
		t.Fatalf("after the second forgery: c's key %x, mallory linked %v", a.lsaKey("c"), linked(a, "mallory"))
	}
	if r := a.Ping(ctx(t), "c"); r.Error != "" {
		t.Fatalf("ping: %+v", r)
	}
}

// TestIdentityClosesImpostorLink: a neighbour linked in open mode under
// c's ID loses its link once c's certificate-vouched key arrives.
func TestIdentityClosesImpostorLink(t *testing.T) {
	pki := newTestPKI(t, "Mesh CA")
	// The impostor sends no keepalives: only the certificate may end its link.
	patient := func(cfg *Config) { cfg.IdleTimeout = time.Minute }
	a, b, c := caNode(t, pki, "a", patient), caNode(t, pki, "b"), caNode(t, pki, "c")
	caConnect(t, pki, b, a)
	rawPeer(t, a, "c") // over an open-mode listener of a, with its own key
	caConnect(t, pki, c, b)
	waitFor(t, "impostor cut off, c reached via b", 10*time.Second, func() bool {
		return !linked(a, "c") && a.Status().RoutingTable["c"] == "b"
	})
	if !a.lsaKey("c").Equal(c.PublicKey()) {
		t.Fatal("a does not hold c's own LSA")
	}
}

func identityFrame(t *testing.T, node string, key ed25519.PublicKey, cert *tls.Certificate) []byte {
	t.Helper()
	body, err := wire.SignIdentityAd(node, key, time.Now().UnixNano(), cert)
	if err != nil {
		t.Fatal(err)
	}
	return append(wire.AppendFrameHeader(nil, wire.FrameIdentityAd, len(body)), body...)
}

// TestIdentityRefusals: an ad of another CA, or for another node than its
// certificate names, is refused and counted without cutting the link; a
// malformed one cuts the sender off.
func TestIdentityRefusals(t *testing.T) {
	pki, other := newTestPKI(t, "Mesh CA"), newTestPKI(t, "Other CA")
	a := caNode(t, pki, "a")
	p, mkey := rawPeer(t, a, "mallory")
	mpub := mkey.Public().(ed25519.PublicKey)
	for i, frame := range [][]byte{
		identityFrame(t, "x", mpub, issue(t, other, "x")),
		identityFrame(t, "x", mpub, issue(t, pki, "y")),
		identityFrame(t, "a", mpub, issue(t, other, "a")),
	} {
		send(t, p, frame)
		waitFor(t, "ad refused", 5*time.Second, func() bool { return a.stats.badIdentity.Load() == int64(i+1) })
	}
	if a.identityKey("x") != nil || !a.identityKey("a").Equal(a.PublicKey()) || !linked(a, "mallory") {
		t.Fatalf("after refusals: x %x, a %x, mallory linked %v", a.identityKey("x"), a.identityKey("a"), linked(a, "mallory"))
	}
	garbage := identityFrame(t, "x", mpub, issue(t, pki, "x"))
	garbage[len(garbage)-1] ^= 1 // the signature
	send(t, p, garbage)
	waitFor(t, "sender cut off", 5*time.Second, func() bool { return !linked(a, "mallory") })
}

// TestIdentityPinnedTrustFirst: a trust file outranks certificates: an ad
// for a key it does not list is refused, and so are that key's LSAs.
func TestIdentityPinnedTrustFirst(t *testing.T) {
	pki := newTestPKI(t, "Mesh CA")
	keys := map[string]ed25519.PrivateKey{}
	var lines []string
	for _, id := range []string{"a", "b", "c"} {
		keys[id], _ = wire.GenerateKey()
		pub := keys[id].Public().(ed25519.PublicKey)
		if id == "c" {
			other, _ := wire.GenerateKey()
			pub = other.Public().(ed25519.PublicKey) // the file pins another key for c
		}
		lines = append(lines, wire.TrustLine(id, pub))
	}
	trust, err := wire.ParseTrust("trust", []byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	a := caNode(t, pki, "a", func(cfg *Config) { cfg.Key, cfg.Trust = keys["a"], trust })
	b := caNode(t, pki, "b", func(cfg *Config) { cfg.Key = keys["b"] })
	c := caNode(t, pki, "c", func(cfg *Config) { cfg.Key = keys["c"] })
	caConnect(t, pki, b, a)
	caConnect(t, pki, c, b)
	waitRoute(t, b, c)
	waitFor(t, "c's ad refused by a", 5*time.Second, func() bool { return a.stats.badIdentity.Load() > 0 })
	waitFor(t, "c's LSA refused by a", 5*time.Second, func() bool { return a.stats.badLSA.Load() > 0 })
	if a.nextHop("c") != nil || a.identityKey("c") != nil {
		t.Fatal("a trusts c's certificate over its trust file")
	}
}

// TestIdentityExpiry: a node that leaves takes its identity ad with its
// LSA; one that changes its certificate advertises it again at once.
func TestIdentityExpiry(t *testing.T) {
	pki := newTestPKI(t, "Mesh CA")
	fast := func(c *Config) { c.MaxAge, c.RefreshInterval = 400*time.Millisecond, 100*time.Millisecond }
	a, b, c := caChain(t, pki, fast)
	renewed := issue(t, pki, "b")
	b.SetIdentity(renewed, pki.Pool)
	waitFor(t, "b's new ad at a", 5*time.Second, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		ad, err := wire.ParseIdentityAd(a.idents["b"].raw)
		return err == nil && bytes.Equal(ad.Chain[0], renewed.Certificate[0])
	})
	c.Close()
	waitFor(t, "c's ad gone from a", 10*time.Second, func() bool { return a.identityKey("c") == nil })
	a.mu.Lock()
	_, bound := a.bindings["c"]
	a.mu.Unlock()
	if bound {
		t.Fatal("c's key binding outlived its ad")
	}
}

// TestIdentityCloneNoStorm: two copies of a node (a cloned host: same ID,
// key and certificate) in one mesh take each other's identity ad as their
// own instead of outbidding it with newer ones without end.
func TestIdentityCloneNoStorm(t *testing.T) {
	pki := newTestPKI(t, "Mesh CA")
	key, _ := wire.GenerateKey()
	cert := issue(t, pki, "a")
	clone := func(c *Config) { c.Key, c.IdentityCert = key, cert }
	a1, b, c, a2 := caNode(t, pki, "a", clone), caNode(t, pki, "b"), caNode(t, pki, "c"), caNode(t, pki, "a", clone)
	caConnect(t, pki, a1, b)
	caConnect(t, pki, c, b)
	waitRoute(t, b, c)
	caConnect(t, pki, a2, c)
	waitFor(t, "both copies linked", 5*time.Second, func() bool { return linked(b, "a") && linked(c, "a") })
	time.Sleep(500 * time.Millisecond)
	before := b.Counters()["identity_received"]
	time.Sleep(time.Second)
	if n := b.Counters()["identity_received"] - before; n > 20 {
		t.Fatalf("b received %d identity ads of the copies in a second", n)
	}
	for _, n := range []*Node{a1, a2, b, c} {
		if !n.identityKey("a").Equal(key.Public().(ed25519.PublicKey)) {
			t.Errorf("%s holds no ad of a's key", n.id)
		}
	}
}

// TestIdentityRefreshed: a node re-sends its identity ad with its LSA
// refresh, so a node that missed it (here: dropped from its database)
// has it again within one refresh instead of trusting LSAs on first sight.
func TestIdentityRefreshed(t *testing.T) {
	pki := newTestPKI(t, "Mesh CA")
	a, _, _ := caChain(t, pki, func(c *Config) { c.RefreshInterval = 100 * time.Millisecond })
	a.mu.Lock()
	a.dropIdentityLocked("c")
	a.mu.Unlock()
	waitFor(t, "c's ad at a again", 5*time.Second, func() bool { return a.identityKey("c") != nil })
}
