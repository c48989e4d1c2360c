package mesh

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"

	"meshd/wire"
)

// Firewall rules, as receptor's `firewallrules`: an ordered list, each rule
// matching a routed frame's source and destination node and service; the
// first rule that matches decides, and no match accepts. Rules apply to
// every routed frame a node originates, forwards or delivers (datagrams,
// unreachables and stream frames), once per node; link-state
// advertisements and link control frames bypass them.
//
// Services are carried by datagrams (their two services), unreachables
// (receptor's reserved service "unreach" on both ends) and stream opens. The
// other stream frames (accept, data, credit, fin, reset) carry only a stream
// ID, so for them the services are unknown and a rule that names a service
// does not match them: such a rule decides whether a stream may be opened,
// and a stream it blocks never carries data. Rules on nodes only match
// every frame.

// FirewallAction is what a matching rule does with a frame.
type FirewallAction uint8

const (
	FirewallAccept FirewallAction = iota + 1 // deliver or forward
	FirewallReject                           // discard, and send "blocked by firewall" to the source
	FirewallDrop                             // discard silently
)

func (a FirewallAction) String() string {
	switch a {
	case FirewallAccept:
		return "accept"
	case FirewallReject:
		return "reject"
	case FirewallDrop:
		return "drop"
	}
	return fmt.Sprintf("FirewallAction(%d)", uint8(a))
}

// problemFirewall is receptor's unreachable problem for a rejected message.
const problemFirewall = "blocked by firewall"

// FirewallMatch matches one field of a frame: nothing (any value), an exact
// string, or a regular expression that must match the whole value.
type FirewallMatch struct {
	exact string
	re    *regexp.Regexp
	set   bool
}

// ParseFirewallMatch reads a rule value as receptor writes it: `/re/` is a
// Go regular expression matching the whole value (receptor anchors it with
// ^...$), anything else an exact, case-sensitive string.
func ParseFirewallMatch(s string) (FirewallMatch, error) {
	if s == "" {
		return FirewallMatch{}, errors.New("empty value")
	}
	if !strings.HasPrefix(s, "/") {
		return FirewallMatch{exact: s, set: true}, nil
	}
	if len(s) < 2 || !strings.HasSuffix(s, "/") {
		return FirewallMatch{}, errors.New("a pattern must be written /regexp/")
	}
	re, err := regexp.Compile("^(?:" + s[1:len(s)-1] + ")$")
	if err != nil {
		return FirewallMatch{}, err
	}
	return FirewallMatch{re: re, set: true}, nil
}

// matches reports whether v matches; known is false when the frame does
// not carry this field, which only an unset match accepts. It does not
// allocate.
func (m *FirewallMatch) matches(v []byte, known bool) bool {
	switch {
	case !m.set:
		return true
	case !known:
		return false
	case m.re != nil:
		return m.re.Match(v)
	}
	return string(v) == m.exact
}

// FirewallRule is one compiled rule.
type FirewallRule struct {
	Action                                   FirewallAction
	FromNode, ToNode, FromService, ToService FirewallMatch
}

// firewallKeys are the keys of a rule besides action, as receptor spells
// them (lower case; keys are read case-insensitively).
var firewallKeys = []string{"fromnode", "tonode", "fromservice", "toservice"}

// ParseFirewallRule compiles a rule from receptor's map form: keys
// action (accept, reject or drop; required), fromnode, tonode, fromservice,
// toservice, any case. An error names the key.
func ParseFirewallRule(m map[string]string) (FirewallRule, error) {
	var r FirewallRule
	for k, v := range m {
		key := strings.ToLower(k)
		if key == "action" {
			switch strings.ToLower(v) {
			case "accept":
				r.Action = FirewallAccept
			case "reject":
				r.Action = FirewallReject
			case "drop":
				r.Action = FirewallDrop
			default:
				return FirewallRule{}, fmt.Errorf("key %q: %q is not accept, reject or drop", k, v)
			}
			continue
		}
		dst := r.field(key)
		if dst == nil {
			return FirewallRule{}, fmt.Errorf("unknown key %q (known: action, %s)", k, strings.Join(firewallKeys, ", "))
		}
		if dst.set {
			return FirewallRule{}, fmt.Errorf("key %q given twice", key)
		}
		fm, err := ParseFirewallMatch(v)
		if err != nil {
			return FirewallRule{}, fmt.Errorf("key %q: %q: %v", k, v, err)
		}
		*dst = fm
	}
	if r.Action == 0 {
		return FirewallRule{}, errors.New(`key "action" is required`)
	}
	return r, nil
}

func (r *FirewallRule) field(key string) *FirewallMatch {
	switch key {
	case "fromnode":
		return &r.FromNode
	case "tonode":
		return &r.ToNode
	case "fromservice":
		return &r.FromService
	case "toservice":
		return &r.ToService
	}
	return nil
}

// ParseFirewallRules compiles rules in order; an error names the rule (1-based).
func ParseFirewallRules(ms []map[string]string) ([]FirewallRule, error) {
	rules := make([]FirewallRule, 0, len(ms))
	for i, m := range ms {
		r, err := ParseFirewallRule(m)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %w", i+1, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// fwFrame is what rules see of a frame. Its slices alias the frame.
type fwFrame struct {
	fromNode, toNode       []byte
	fromService, toService []byte
	hasServices            bool
}

var unreachService = []byte("unreach")

// firewallView extracts the matched fields of r without allocating.
func firewallView(r wire.Routed) fwFrame {
	f := fwFrame{fromNode: r.Src, toNode: r.Dst}
	switch r.Kind {
	case wire.KindDatagram:
		if dg, err := wire.ParseDatagram(r.Rest); err == nil {
			f.fromService, f.toService, f.hasServices = dg.SrcService, dg.DstService, true
		}
	case wire.KindUnreachable:
		f.fromService, f.toService, f.hasServices = unreachService, unreachService, true
	case wire.KindStreamOpen:
		f.fromService, f.toService, f.hasServices = streamOpenServices(r.Rest)
	}
	return f
}

// streamOpenServices reads the services of a stream open's rest
// (stream u32 | window u32 | src service str8 | dst service str8).
func streamOpenServices(rest []byte) (src, dst []byte, ok bool) {
	b := rest
	if len(b) < 9 {
		return nil, nil, false
	}
	b = b[8:]
	n := int(b[0])
	if len(b) < 1+n+1 {
		return nil, nil, false
	}
	src, b = b[1:1+n], b[1+n:]
	n = int(b[0])
	if len(b) < 1+n {
		return nil, nil, false
	}
	return src, b[1 : 1+n], true
}

// decide returns the action of the first matching rule, and its index;
// accept and -1 when none matches.
func decide(rules []FirewallRule, f *fwFrame) (FirewallAction, int) {
	for i := range rules {
		r := &rules[i]
		if r.FromNode.matches(f.fromNode, true) && r.ToNode.matches(f.toNode, true) &&
			r.FromService.matches(f.fromService, f.hasServices) &&
			r.ToService.matches(f.toService, f.hasServices) {
			return r.Action, i
		}
	}
	return FirewallAccept, -1
}

// SetFirewallRules replaces the node's rules (nil or empty: accept all).
// Frames already queued on links are not re-checked.
func (n *Node) SetFirewallRules(rules []FirewallRule) {
	if len(rules) == 0 {
		n.firewall.Store(nil)
		return
	}
	rs := slices.Clone(rules)
	n.firewall.Store(&rs)
}

// firewallPasses applies the rules to r and reports whether the frame may
// go on. A rejected frame's source is told "blocked by firewall" (never for
// an unreachable, so two firewalls cannot bounce replies). The caller still
// owns the frame r aliases.
func (n *Node) firewallPasses(rules []FirewallRule, r wire.Routed) bool {
	f := firewallView(r)
	action, i := decide(rules, &f)
	switch action {
	case FirewallAccept:
		return true
	case FirewallReject:
		n.stats.firewallRejected.Add(1)
		n.logFirewall(action, i, r)
		n.sendUnreachable(r, problemFirewall)
	default:
		n.stats.firewallDropped.Add(1)
		n.logFirewall(action, i, r)
	}
	return false
}

// logFirewall logs a blocked frame at debug level, once per rule and
// interval.
func (n *Node) logFirewall(action FirewallAction, rule int, r wire.Routed) {
	if !n.log.Enabled(n.ctx, slog.LevelDebug) || !n.rl.allow("firewall:"+fmt.Sprint(rule)) {
		return
	}
	n.log.Debug("firewall blocked frame", "action", action.String(), "rule", rule+1,
		"from", string(r.Src), "to", string(r.Dst), "kind", r.Kind,
		"stream", streamIDOf(r))
}

func streamIDOf(r wire.Routed) uint32 {
	if r.Kind == wire.KindDatagram || r.Kind == wire.KindUnreachable || len(r.Rest) < 4 {
		return 0
	}
	return binary.BigEndian.Uint32(r.Rest)
}
