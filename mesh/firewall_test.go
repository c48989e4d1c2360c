package mesh

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"meshd/wire"
)

func mustRules(t testing.TB, ms ...map[string]string) []FirewallRule {
	t.Helper()
	rules, err := ParseFirewallRules(ms)
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

func frameView(from, to, fromSvc, toSvc string) fwFrame {
	return fwFrame{fromNode: []byte(from), toNode: []byte(to),
		fromService: []byte(fromSvc), toService: []byte(toSvc), hasServices: fromSvc != "" || toSvc != ""}
}

// TestFirewallDecide: all given fields must match, the first matching rule
// decides, regexps match whole values, no match accepts.
func TestFirewallDecide(t *testing.T) {
	rules := mustRules(t,
		map[string]string{"action": "accept", "fromnode": "n1", "toservice": "ping"},
		map[string]string{"Action": "Reject", "FromNode": "/n[0-9]/", "ToNode": "n3"},
		map[string]string{"action": "drop", "fromservice": "/(?i)ctl.*/"},
		map[string]string{"action": "drop", "tonode": "/a|b/"},
	)
	cases := []struct {
		name string
		f    fwFrame
		want FirewallAction
		rule int
	}{
		{"first rule wins over a later match", frameView("n1", "n3", "x", "ping"), FirewallAccept, 0},
		{"all fields must match", frameView("n1", "n3", "x", "control"), FirewallReject, 1},
		{"regexp is anchored at the end", frameView("n10", "n3", "x", "y"), FirewallAccept, -1},
		{"regexp is anchored at the start", frameView("xn1", "n3", "x", "y"), FirewallAccept, -1},
		{"exact is case-sensitive", frameView("n2", "N3", "x", "y"), FirewallAccept, -1},
		{"regexp flags", frameView("n9", "n4", "CTLsvc", "y"), FirewallDrop, 2},
		{"alternation is anchored as a whole", frameView("n9", "xa", "s", "t"), FirewallAccept, -1},
		{"alternation matches", frameView("n9", "b", "s", "t"), FirewallDrop, 3},
		{"unknown services match no service rule", fwFrame{fromNode: []byte("n1"), toNode: []byte("n4")}, FirewallAccept, -1},
		{"unknown services still match node rules", fwFrame{fromNode: []byte("n1"), toNode: []byte("n3")}, FirewallReject, 1},
	}
	for _, c := range cases {
		got, i := decide(rules, &c.f)
		if got != c.want || i != c.rule {
			t.Errorf("%s: got %v (rule %d), want %v (rule %d)", c.name, got, i, c.want, c.rule)
		}
	}
	if got, _ := decide(mustRules(t, map[string]string{"action": "drop"}), &fwFrame{}); got != FirewallDrop {
		t.Errorf("a rule with no fields matches everything: got %v", got)
	}
}

// TestFirewallParseErrors: every mistake is an error naming the key,
// never a rule that silently widens (receptor's bug) or a panic.
func TestFirewallParseErrors(t *testing.T) {
	cases := []struct {
		rule map[string]string
		want string
	}{
		{map[string]string{"fromnode": "n1"}, `"action" is required`},
		{map[string]string{"action": "allow"}, `"allow" is not accept, reject or drop`},
		{map[string]string{"action": "drop", "fromnode": "/a(b/"}, `key "fromnode": "/a(b/"`},
		{map[string]string{"action": "drop", "tonode": "/a.*b"}, `key "tonode": "/a.*b": a pattern must be written /regexp/`},
		{map[string]string{"action": "drop", "toservice": "/"}, `key "toservice": "/": a pattern`},
		{map[string]string{"action": "drop", "fromservice": ""}, `key "fromservice": "": empty value`},
		{map[string]string{"action": "drop", "port": "22"}, `unknown key "port"`},
		{map[string]string{"action": "drop", "tonode": "a", "ToNode": "b"}, `given twice`},
	}
	for _, c := range cases {
		_, err := ParseFirewallRules([]map[string]string{{"action": "accept"}, c.rule})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "rule 2: ") {
			t.Errorf("%v: got %v, want rule 2 ... %s", c.rule, err, c.want)
		}
	}
}

// TestFirewallViewNoAlloc: with rules, judging a frame allocates nothing;
// a truncated stream open never panics and just has unknown services.
func TestFirewallViewNoAlloc(t *testing.T) {
	rules := mustRules(t,
		map[string]string{"action": "reject", "fromnode": "/n[0-9]+/", "toservice": "control"},
		map[string]string{"action": "accept", "tonode": "n3"},
	)
	open := wire.StreamFrame{ID: 7, Value: 1 << 16, SrcService: "eph", DstService: "control"}
	rest := wire.AppendStreamRest(nil, wire.KindStreamOpen, &open)
	body := wire.AppendRouted(nil, 30, wire.KindStreamOpen, "n1", "n3", len(rest))
	body = append(body, rest...)
	r, err := wire.ParseRouted(body[wire.FrameHeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	var action FirewallAction
	allocs := testing.AllocsPerRun(100, func() {
		f := firewallView(r)
		action, _ = decide(rules, &f)
	})
	if allocs != 0 || action != FirewallReject {
		t.Errorf("got %v with %v allocs, want reject with none", action, allocs)
	}
	for i := range rest {
		if _, _, ok := streamOpenServices(rest[:i]); ok {
			t.Errorf("open truncated to %d bytes read as complete", i)
		}
	}
	if src, dst, ok := streamOpenServices(rest); !ok || string(src) != "eph" || string(dst) != "control" {
		t.Errorf("open services: %q %q %v", src, dst, ok)
	}
}

// chainWithRules builds n1 - n2 - n3 with rules on n2 (and n4 linked to n2
// as a bystander) and waits for all routes.
func chainWithRules(t *testing.T, rules ...map[string]string) (n1, n2, n3, n4 *Node) {
	t.Helper()
	n1 = testNode(t, "n1")
	n2 = testNode(t, "n2", func(c *Config) { c.FirewallRules = mustRules(t, rules...) })
	n3 = testNode(t, "n3")
	n4 = testNode(t, "n4")
	connect(t, n1, n2)
	connect(t, n3, n2)
	connect(t, n4, n2)
	for _, p := range [][2]*Node{{n1, n3}, {n3, n1}, {n4, n3}, {n3, n4}, {n1, n4}} {
		waitRoute(t, p[0], p[1])
	}
	return
}

func pingWithin(n *Node, target string, d time.Duration) PingResult {
	c, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return n.Ping(c, target)
}

// TestFirewallRejectForwarded: a reject rule on a transit node answers the
// sender with "blocked by firewall"; its own traffic and other nodes'
// traffic through it pass.
func TestFirewallRejectForwarded(t *testing.T) {
	n1, n2, n3, n4 := chainWithRules(t, map[string]string{"action": "reject", "fromnode": "n1", "tonode": "n3"})
	r := pingWithin(n1, "n3", 5*time.Second)
	if r.Error != problemFirewall || r.From != "n2" {
		t.Fatalf("n1 ping n3: %+v, want blocked by firewall from n2", r)
	}
	for _, p := range [][2]*Node{{n2, n3}, {n4, n3}, {n1, n2}, {n1, n4}} {
		if r := pingWithin(p[0], p[1].id, 5*time.Second); r.Error != "" {
			t.Errorf("%s ping %s: %+v", p[0].id, p[1].id, r)
		}
	}
	// Rules judge each frame by its own fields: n3's ping reaches n1, but
	// n1's reply (from n1 to n3) is rejected, towards n1's ping responder.
	if r := pingWithin(n3, "n1", 300*time.Millisecond); r.Error != "timeout" {
		t.Errorf("n3 ping n1: %+v, want timeout (the reply is blocked)", r)
	}
	if got := n2.Counters()["firewall_rejected"]; got != 2 {
		t.Errorf("firewall_rejected = %d, want 2", got)
	}
}

// TestFirewallDropIsSilent: a drop rule gives the sender nothing but a
// timeout.
func TestFirewallDropIsSilent(t *testing.T) {
	n1, n2, _, _ := chainWithRules(t, map[string]string{"action": "drop", "fromnode": "n1", "tonode": "n3"})
	if r := pingWithin(n1, "n3", 300*time.Millisecond); r.Error != "timeout" {
		t.Fatalf("n1 ping n3: %+v, want timeout", r)
	}
	if r := pingWithin(n2, "n3", 5*time.Second); r.Error != "" {
		t.Errorf("n2 ping n3: %+v", r)
	}
	if n2.Counters()["firewall_dropped"] != 1 || n2.Counters()["firewall_rejected"] != 0 {
		t.Errorf("counters: %v", n2.Counters())
	}
}

// TestFirewallStreams: a service rule refuses stream opens (reject: the
// dial fails at once with the reason; drop: the dial hangs until given up)
// while streams to other services, data frames included, pass.
func TestFirewallStreams(t *testing.T) {
	n1, _, n3, _ := chainWithRules(t,
		map[string]string{"action": "reject", "fromnode": "n1", "toservice": "secret"},
		map[string]string{"action": "drop", "fromnode": "n1", "toservice": "hidden"},
	)
	echoService(t, n3, "secret")
	echoService(t, n3, "hidden")
	echoService(t, n3, "echo")
	_, err := n1.Dial(ctx(t), "n3", "secret")
	if err == nil || !strings.Contains(err.Error(), "blocked by firewall (reported by n2)") {
		t.Fatalf("dial secret: %v, want blocked by firewall", err)
	}
	c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := n1.Dial(c, "n3", "hidden"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial hidden: %v, want a timeout", err)
	}
	s, err := n1.Dial(ctx(t), "n3", "echo")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msg := strings.Repeat("x", 300_000)
	go func() {
		s.Write([]byte(msg))
		s.(*Stream).CloseWrite()
	}()
	got := make([]byte, 0, len(msg))
	buf := make([]byte, 32<<10)
	for {
		k, err := s.Read(buf)
		got = append(got, buf[:k]...)
		if err != nil {
			break
		}
	}
	if string(got) != msg {
		t.Errorf("echo through the firewall: got %d bytes, want %d", len(got), len(msg))
	}
}

// TestFirewallOriginAndDestination: rules apply where a frame starts and
// where it ends, not only in transit.
func TestFirewallOriginAndDestination(t *testing.T) {
	n1, n2, n3, n4 := chainWithRules(t)
	n1.SetFirewallRules(mustRules(t, map[string]string{"action": "reject", "tonode": "n3"}))
	if r := pingWithin(n1, "n3", 5*time.Second); r.Error != problemFirewall || r.From != "n1" {
		t.Errorf("n1 ping n3 with an outbound rule on n1: %+v", r)
	}
	if r := pingWithin(n1, "n4", 5*time.Second); r.Error != "" {
		t.Errorf("n1 ping n4: %+v", r)
	}
	n1.SetFirewallRules(nil)
	if r := pingWithin(n1, "n3", 5*time.Second); r.Error != "" {
		t.Errorf("n1 ping n3 after clearing the rules: %+v", r)
	}
	n3.SetFirewallRules(mustRules(t, map[string]string{"action": "reject", "fromnode": "n4", "toservice": "ping"}))
	if r := pingWithin(n4, "n3", 5*time.Second); r.Error != problemFirewall || r.From != "n3" {
		t.Errorf("n4 ping n3 with an inbound rule on n3: %+v", r)
	}
	if r := pingWithin(n2, "n3", 5*time.Second); r.Error != "" {
		t.Errorf("n2 ping n3: %+v", r)
	}
	// A local ping of the node itself is judged too.
	n3.SetFirewallRules(mustRules(t, map[string]string{"action": "drop", "toservice": "ping"}))
	if r := pingWithin(n3, "n3", 200*time.Millisecond); r.Error != "timeout" {
		t.Errorf("n3 ping itself with ping dropped: %+v", r)
	}
}

// TestFirewallRejectNoStorm: nodes that reject everything, unreachables
// included, answer each frame at most once and never answer an
// unreachable, so no reply bounces between them; routing still works.
func TestFirewallRejectNoStorm(t *testing.T) {
	all := map[string]string{"action": "reject"}
	n1 := testNode(t, "n1", func(c *Config) { c.FirewallRules = mustRules(t, all) })
	n2 := testNode(t, "n2", func(c *Config) { c.FirewallRules = mustRules(t, all) })
	connect(t, n1, n2)
	waitRoute(t, n1, n2)
	waitRoute(t, n2, n1)
	// n1 rejects its own ping and then its own unreachable about it.
	if r := pingWithin(n1, "n2", 200*time.Millisecond); r.Error != "timeout" {
		t.Errorf("ping: %+v, want timeout", r)
	}
	if got := n1.Counters()["firewall_rejected"]; got != 2 {
		t.Errorf("n1 firewall_rejected = %d, want 2 (the ping, then its unreachable)", got)
	}
	// n2 rejects the ping and then the unreachable it sends back.
	n1.SetFirewallRules(nil)
	if r := pingWithin(n1, "n2", 200*time.Millisecond); r.Error != "timeout" {
		t.Errorf("ping: %+v, want timeout", r)
	}
	// Letting unreachables through makes the reject visible.
	n2.SetFirewallRules(mustRules(t, map[string]string{"action": "accept", "fromservice": "unreach"}, all))
	if r := pingWithin(n1, "n2", 5*time.Second); r.Error != problemFirewall || r.From != "n2" {
		t.Errorf("ping: %+v, want blocked by firewall from n2", r)
	}
	time.Sleep(100 * time.Millisecond)
	if got := n2.Counters()["firewall_rejected"]; got != 3 {
		t.Errorf("n2 firewall_rejected = %d, want 3", got)
	}
	if got := n1.Counters()["firewall_rejected"]; got != 2 {
		t.Errorf("n1 firewall_rejected = %d, want still 2", got)
	}
}

// TestAllowedPeersRefused: a listener and a peer entry with allowedpeers
// link only with the listed nodes.
func TestAllowedPeersRefused(t *testing.T) {
	n1 := testNode(t, "n1")
	addr, err := n1.AddListener(ListenerSpec{Network: "tcp", Address: "127.0.0.1:0", AllowedPeers: []string{"n2"}})
	if err != nil {
		t.Fatal(err)
	}
	n2 := testNode(t, "n2")
	n3 := testNode(t, "n3")
	n2.AddPeer(PeerSpec{Network: "tcp", Address: addr.String(), Redial: true})
	n3.AddPeer(PeerSpec{Network: "tcp", Address: addr.String(), Redial: true})
	waitRoute(t, n1, n2)
	waitFor(t, "n3 refused", 5*time.Second, func() bool { return n1.Counters()["links_refused"] > 0 })
	if linked(n1, "n3") || linked(n3, "n1") {
		t.Error("n3 linked to a listener that allows only n2")
	}
	// A peer entry that expects someone else refuses the listener's node.
	n4 := testNode(t, "n4")
	n4.AddPeer(PeerSpec{Network: "tcp", Address: listen(t, n1), Redial: true, AllowedPeers: []string{"n9"}})
	waitFor(t, "n4 refuses n1", 5*time.Second, func() bool { return n4.Counters()["links_refused"] > 0 })
	if linked(n1, "n4") || linked(n4, "n1") {
		t.Error("n4 linked to n1 though it allows only n9")
	}
}
