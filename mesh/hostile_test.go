package mesh

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"meshd/wire"
)

// rawPeer links a hand-driven peer called id to n and returns it; its
// incoming frames are drained so the node never blocks on it.
func rawPeer(t *testing.T, n *Node, id string) (*wire.Peer, ed25519.PrivateKey) {
	t.Helper()
	key, _ := wire.GenerateKey()
	ident, err := wire.NewIdentity(id, key)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", listen(t, n))
	if err != nil {
		t.Fatal(err)
	}
	p, err := wire.Handshake(context.Background(), conn, false, &wire.HandshakeConfig{
		Identity: ident,
		Cost:     func(string, ed25519.PublicKey) (float64, error) { return 1, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Conn.Close() })
	go io.Copy(io.Discard, p.Conn)
	waitFor(t, "raw peer linked", 5*time.Second, func() bool { return linked(n, id) })
	return p, key
}

// send writes raw bytes to the node over the peer's TLS connection.
func send(t *testing.T, p *wire.Peer, b []byte) {
	t.Helper()
	if _, err := p.Conn.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
}

func linked(n *Node, id string) bool {
	return slices.ContainsFunc(n.Status().Connections, func(c Connection) bool { return c.NodeID == id })
}

// TestHostileFrames: each malformed frame cuts off only the peer that sent
// it; the node keeps routing for everyone else.
func TestHostileFrames(t *testing.T) {
	cases := map[string][]byte{
		"empty frame":      {0, 0, 0, 0},
		"oversize frame":   {0xff, 0xff, 0xff, 0xff, 3},
		"truncated frame":  {0, 0, 0, 100, 3, 1, 2},
		"unknown type":     {0, 0, 0, 1, 99},
		"bad routed kind":  append([]byte{0, 0, 0, 9, wire.FrameRouted, 5, 99, 1, 'm', 1, 'x'}, 0, 0),
		"garbage LSA":      {0, 0, 0, 4, wire.FrameLSA, 1, 2, 3},
		"unexpected hello": append([]byte{0, 0, 0, 6, wire.FrameHello}, "MESHD"...),
	}
	nodes := chain(t, 2)
	victim, friend := nodes[0], nodes[1]
	i := 0
	for name, raw := range cases {
		i++
		mallory := fmt.Sprintf("mallory%d", i) // each offender is a new node
		t.Run(name, func(t *testing.T) {
			p, _ := rawPeer(t, victim, mallory)
			send(t, p, raw)
			if name == "truncated frame" {
				p.Conn.CloseWrite()
			}
			waitFor(t, "offender cut off", 5*time.Second, func() bool { return !linked(victim, mallory) })
			if r := victim.Ping(ctx(t), friend.id); r.Error != "" {
				t.Fatalf("ping after %s: %+v", name, r)
			}
		})
	}
}

// TestHandshakeNeverFinishes: a connection that says nothing is dropped
// after the handshake timeout while other peers link normally.
func TestHandshakeNeverFinishes(t *testing.T) {
	n := testNode(t, "n1", func(c *Config) { c.HandshakeTimeout = 300 * time.Millisecond })
	addr := listen(t, n)
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	other := testNode(t, "n2")
	other.AddPeer(PeerSpec{Network: "tcp", Address: addr, Redial: true})
	waitRoute(t, n, other)
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(silent); err != nil {
		t.Fatalf("silent connection was not closed by the node: %v", err)
	}
}

func lsaFrame(t *testing.T, l *wire.LSA, key ed25519.PrivateKey) []byte {
	t.Helper()
	body, err := l.MarshalSigned(key)
	if err != nil {
		t.Fatal(err)
	}
	return append(wire.AppendFrameHeader(nil, wire.FrameLSA, len(body)), body...)
}

// TestForgedLSA: a linked peer cannot speak for another node, nor for the
// node itself, and a replayed advertisement changes nothing.
func TestForgedLSA(t *testing.T) {
	nodes := chain(t, 2)
	victim, friend := nodes[0], nodes[1]
	p, mkey := rawPeer(t, victim, "mallory")
	mpub := mkey.Public().(ed25519.PublicKey)
	now := time.Now().UnixNano()

	// Mallory signs "friend is linked only to mallory" with her own key.
	forged := &wire.LSA{Origin: friend.id, PublicKey: mpub, Seq: uint64(now) + 1e12, Time: now,
		Neighbors: []wire.Neighbor{{NodeID: "mallory", Cost: 1}}}
	// And claims to be the victim itself, to pull its traffic.
	self := &wire.LSA{Origin: victim.id, PublicKey: mpub, Seq: uint64(now) + 1e12, Time: now,
		Neighbors: []wire.Neighbor{{NodeID: "mallory", Cost: 1}}}
	for _, f := range [][]byte{lsaFrame(t, forged, mkey), lsaFrame(t, self, mkey)} {
		send(t, p, f)
	}
	// Replay friend's genuine LSA.
	victim.mu.Lock()
	genuine := victim.lsdb[friend.id].raw
	victim.mu.Unlock()
	replay := append(wire.AppendFrameHeader(nil, wire.FrameLSA, len(genuine)), genuine...)
	before := victim.stats.staleLSA.Load()
	send(t, p, replay)
	waitFor(t, "replay seen", 5*time.Second, func() bool { return victim.stats.staleLSA.Load() > before })
	if victim.stats.badLSA.Load() < 2 {
		t.Errorf("forged LSAs not counted: %v", victim.Counters())
	}
	if hop := victim.Status().RoutingTable[friend.id]; hop != friend.id {
		t.Errorf("route to %s via %q after forgery", friend.id, hop)
	}
	if r := victim.Ping(ctx(t), friend.id); r.Error != "" {
		t.Errorf("victim can no longer ping: %+v", r)
	}
	// A bad signature is not an honest mistake: the sender is cut off.
	body, _ := forged.MarshalSigned(mkey)
	body[len(body)-1] ^= 1
	send(t, p, append(wire.AppendFrameHeader(nil, wire.FrameLSA, len(body)), body...))
	waitFor(t, "forger cut off", 5*time.Second, func() bool { return !linked(victim, "mallory") })
}

// TestPinnedTrustRefusesUnknownLSA: with a trust file, an advertisement
// from a key not listed is dropped even when a listed neighbour relays it.
func TestPinnedTrustRefusesUnknownLSA(t *testing.T) {
	k1, _ := wire.GenerateKey()
	k2, _ := wire.GenerateKey()
	trust, err := wire.ParseTrust("trust", []byte(
		wire.TrustLine("n1", k1.Public().(ed25519.PublicKey))+"\n"+
			wire.TrustLine("mallory", k2.Public().(ed25519.PublicKey))+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	n1 := testNode(t, "n1", func(c *Config) { c.Key, c.Trust = k1, trust })
	// mallory is listed, so her link is accepted; "ghost" is not.
	ident, _ := wire.NewIdentity("mallory", k2)
	conn, _ := net.Dial("tcp", listen(t, n1))
	p, err := wire.Handshake(context.Background(), conn, false, &wire.HandshakeConfig{Identity: ident, Trust: trust,
		Cost: func(string, ed25519.PublicKey) (float64, error) { return 1, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Conn.Close()
	go io.Copy(io.Discard, p.Conn)
	gk, _ := wire.GenerateKey()
	now := time.Now().UnixNano()
	ghost := &wire.LSA{Origin: "ghost", PublicKey: gk.Public().(ed25519.PublicKey), Seq: 1, Time: now,
		Neighbors: []wire.Neighbor{{NodeID: "mallory", Cost: 1}}}
	send(t, p, lsaFrame(t, ghost, gk))
	waitFor(t, "ghost dropped", 5*time.Second, func() bool { return n1.stats.badLSA.Load() > 0 })
	n1.mu.Lock()
	_, known := n1.lsdb["ghost"]
	n1.mu.Unlock()
	if known {
		t.Fatal("LSA from an unlisted key was accepted")
	}
	// An unlisted node cannot even link.
	stranger := testNode(t, "stranger")
	stranger.AddPeer(PeerSpec{Network: "tcp", Address: listen(t, n1)})
	waitFor(t, "stranger refused", 5*time.Second, func() bool { return n1.stats.badLSA.Load() >= 0 && !linked(n1, "stranger") })
}

// TestNoFloodStormInRing: one change in a mesh with cycles is received at
// most once per link direction, and the flood stops.
func TestNoFloodStormInRing(t *testing.T) {
	const size = 5
	nodes := chain(t, size)
	connect(t, nodes[0], nodes[size-1]) // close the ring
	waitFor(t, "ring closed", 10*time.Second, func() bool { return linked(nodes[0], nodes[size-1].id) })
	for _, n := range nodes {
		for _, m := range nodes {
			if n != m {
				waitRoute(t, n, m)
			}
		}
	}
	// Wait until the ring's own LSAs settled everywhere.
	settled := func() bool {
		for _, n := range nodes {
			n.mu.Lock()
			pending := n.originatePending
			n.mu.Unlock()
			if pending {
				return false
			}
		}
		want := nodes[0].lsaSeqs()
		for _, n := range nodes[1:] {
			if !equalSeqs(n.lsaSeqs(), want) {
				return false
			}
		}
		return true
	}
	waitFor(t, "LSDBs agree", 10*time.Second, settled)
	before := totalLSAs(nodes)
	ln, err := nodes[2].ListenStream("newsvc", &Advert{ConnType: ConnTypeStream})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	waitFor(t, "new LSA everywhere", 10*time.Second, func() bool { return settled() && totalLSAs(nodes) > before })
	got := totalLSAs(nodes) - before
	if links := 2 * size; got > int64(links) {
		t.Fatalf("one change caused %d LSA receptions over %d link directions", got, links)
	}
}

func (n *Node) lsaSeqs() map[string]uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	m := map[string]uint64{}
	for id, e := range n.lsdb {
		m[id] = e.lsa.Seq
	}
	return m
}

func equalSeqs(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func totalLSAs(nodes []*Node) int64 {
	var sum int64
	for _, n := range nodes {
		sum += n.stats.lsaReceived.Load()
	}
	return sum
}

var _ = binary.BigEndian
