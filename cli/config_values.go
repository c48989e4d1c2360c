package cli

// Parsing values: scalars, booleans, integers, ports, durations, costs, names, addresses, lists, maps, permissions.
// Scalars are interpreted from their text, so YAML 1.1 files
// (`True`, bare `0660`) mean what they meant to receptor.

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"meshd/mesh"
)

func (v value) isNull() bool {
	if v.node == nil {
		return v.text == ""
	}
	return isNullNode(v.node)
}

func (v value) describe() string {
	if v.node == nil {
		return strconv.Quote(clip(v.text))
	}
	return nodeKind(v.node)
}

// scalar returns the text of a single value.
func (v value) scalar() (string, error) {
	if v.node == nil {
		return v.text, nil
	}
	if v.node.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("expected a single value, got %s", nodeKind(v.node))
	}
	return v.node.Value, nil
}

// scalarOrEmpty is scalar for an optional value: nil means "".
func (v *value) scalarOrEmpty() (string, error) {
	if v == nil {
		return "", nil
	}
	return v.scalar()
}

func (v value) str() (string, error) {
	s, err := v.scalar()
	if err == nil && strings.IndexByte(s, 0) >= 0 {
		err = errors.New("contains a NUL byte")
	}
	return s, err
}

func (v value) nonEmpty() (string, error) {
	s, err := v.str()
	if err == nil && s == "" {
		err = errors.New("must not be empty")
	}
	return s, err
}

func (v value) boolean() (bool, error) {
	s, err := v.scalar()
	if err != nil {
		return false, err
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on", "y", "t", "1":
		return true, nil
	case "false", "no", "off", "n", "f", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (true or false)", clip(s))
}

func parseInteger(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 0, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%q is out of range", clip(s))
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", clip(s))
	}
	return n, nil
}

func (v value) port(min int64) (int, error) {
	s, err := v.scalar()
	if err != nil {
		return 0, err
	}
	n, err := parseInteger(s)
	if err != nil {
		return 0, err
	}
	if n < min || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number (%d..65535)", clip(s), min)
	}
	return int(n), nil
}

func parseCost(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%q is not a number", clip(s))
	}
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || f <= 0 {
		return 0, fmt.Errorf("cost %q must be a finite number greater than 0", clip(s))
	}
	return f, nil
}

func (v value) cost() (float64, error) {
	s, err := v.scalar()
	if err != nil {
		return 0, err
	}
	return parseCost(s)
}

func (v value) duration() (time.Duration, error) {
	s, err := v.scalar()
	if err != nil {
		return 0, err
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (like 30s or 2m)", clip(s))
	}
	if dur < 0 {
		return 0, fmt.Errorf("duration %q is negative", clip(s))
	}
	return dur, nil
}

// fileMode reads permissions like strconv.ParseInt(s, 0, 32): `0660` and
// `0o660` are octal, `432` decimal.
func (v value) fileMode() (os.FileMode, error) {
	s, err := v.scalar()
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a file mode (like 0660)", clip(s))
	}
	if n < 0 || n > 0o777 {
		return 0, fmt.Errorf("file mode %q is outside 0..0777", clip(s))
	}
	return os.FileMode(n), nil
}

func (v value) nodeID() (string, error) {
	s, err := v.scalar()
	if err == nil {
		err = checkNodeID(s)
	}
	return s, err
}

func (v value) serviceName() (string, error) {
	s, err := v.scalar()
	if err == nil {
		err = checkName("service name", s, maxServiceLen)
	}
	return s, err
}

func (v value) workType() (string, error) {
	s, err := v.scalar()
	if err == nil {
		err = checkName("work type", s, maxWorkTypeLen)
	}
	return s, err
}

func checkNodeID(s string) error {
	if err := checkName("node ID", s, maxNodeIDLen); err != nil {
		return err
	}
	if strings.EqualFold(s, "localhost") {
		return fmt.Errorf("node ID %q is reserved", s)
	}
	return nil
}

// checkName accepts 1..max bytes of UTF-8 without spaces or control characters.
func checkName(what, s string, max int) error {
	if s == "" {
		return fmt.Errorf("%s must not be empty", what)
	}
	if len(s) > max {
		return fmt.Errorf("%s %q is longer than %d bytes", what, clip(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8", what, clip(s))
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%s %q contains a space or control character", what, clip(s))
		}
	}
	return nil
}

func (v value) socketPath() (string, error) {
	s, err := v.nonEmpty()
	if err == nil && len(s) > maxUnixPathLen {
		err = fmt.Errorf("socket path %q is longer than %d bytes, the limit for Unix sockets", clip(s), maxUnixPathLen)
	}
	return s, err
}

// dialAddress checks a host:port to dial.
func (v value) dialAddress() (string, error) {
	s, err := v.str()
	if err != nil {
		return "", err
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("%q is not host:port", clip(s))
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", fmt.Errorf("%q: port must be a number 1..65535", clip(s))
	}
	return s, nil
}

// tcpListen checks `port` or `host:port` and also returns the address it binds.
func (v value) tcpListen() (string, string, error) {
	s, err := v.str()
	if err != nil {
		return "", "", err
	}
	host, port := "0.0.0.0", s
	if strings.Contains(s, ":") {
		if host, port, err = net.SplitHostPort(s); err != nil {
			return "", "", fmt.Errorf("%q is not a port or host:port", clip(s))
		}
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", "", fmt.Errorf("%q is not a port or host:port", clip(s))
	}
	if n == 0 {
		return s, "", nil
	}
	return s, net.JoinHostPort(host, strconv.FormatUint(n, 10)), nil
}

// compound returns the YAML node of a list or map value: the node itself in a
// file; on the command line, text starting with '[' or '{' parsed as
// JSON/YAML flow syntax, otherwise nil (the caller reads the text).
func (v value) compound() (*yaml.Node, error) {
	if v.node != nil {
		return v.node, nil
	}
	t := strings.TrimSpace(v.text)
	if !strings.HasPrefix(t, "[") && !strings.HasPrefix(t, "{") {
		return nil, nil
	}
	n, err := parseYAML([]byte(t))
	if err == nil && n == nil {
		err = errors.New("empty value")
	}
	return n, err
}

// nodeIDList reads allowedpeers: a YAML list, or a comma-separated string.
func (v value) nodeIDList() ([]string, error) {
	n, err := v.compound()
	if err != nil {
		return nil, err
	}
	var ids []string
	switch {
	case n == nil || n.Kind == yaml.ScalarNode:
		text := v.text
		if n != nil {
			text = n.Value
		}
		ids = strings.Split(text, ",")
		for i := range ids {
			ids[i] = strings.TrimSpace(ids[i])
		}
	case n.Kind == yaml.SequenceNode:
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode || isNullNode(item) {
				return nil, fmt.Errorf("list items must be node IDs, got %s", nodeKind(item))
			}
			ids = append(ids, item.Value)
		}
	default:
		return nil, fmt.Errorf("expected a list of node IDs, got %s", nodeKind(n))
	}
	if len(ids) == 0 {
		return nil, errors.New("empty list would refuse every peer; leave the key out to allow any peer")
	}
	for _, id := range ids {
		if err := checkNodeID(id); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// nodeCost reads a map of node ID to cost: a YAML map, or on the command line
// `n2:2.5,n3:1` or a JSON object.
func (v value) nodeCost() (map[string]float64, error) {
	n, err := v.compound()
	if err != nil {
		return nil, err
	}
	costs := map[string]float64{}
	add := func(id, cost string) error {
		if err := checkNodeID(id); err != nil {
			return err
		}
		if _, dup := costs[id]; dup {
			return fmt.Errorf("node %q given twice", id)
		}
		c, err := parseCost(cost)
		if err != nil {
			return fmt.Errorf("node %q: %v", id, err)
		}
		costs[id] = c
		return nil
	}
	switch {
	case n == nil:
		for _, pair := range strings.Split(v.text, ",") {
			i := strings.LastIndexByte(pair, ':')
			if i < 0 {
				return nil, fmt.Errorf("%q is not node:cost", clip(pair))
			}
			if err := add(strings.TrimSpace(pair[:i]), pair[i+1:]); err != nil {
				return nil, err
			}
		}
	case n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, c := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || c.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("expected node: cost pairs, got %s: %s", nodeKind(k), nodeKind(c))
			}
			if err := add(k.Value, c.Value); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("expected a map of node ID to cost, got %s", nodeKind(n))
	}
	if len(costs) == 0 {
		return nil, nil
	}
	return costs, nil
}

var firewallKeys = map[string]bool{"action": true, "fromnode": true, "tonode": true, "fromservice": true, "toservice": true}

// firewallRules reads receptor's firewall rules: a list of maps with keys
// action (accept, reject or drop), fromnode, tonode, fromservice, toservice;
// a value written /like this/ is an anchored regular expression. Each value
// is compiled here (mesh.ParseFirewallMatch), so a bad pattern is a config
// error; mesh.ParseFirewallRules turns the result into the node's rules.
func (v value) firewallRules() ([]map[string]string, error) {
	n, err := v.compound()
	if err != nil {
		return nil, err
	}
	if n == nil {
		return nil, errors.New("expected a JSON list of rules, like [{\"action\":\"reject\",\"tonode\":\"n2\"}]")
	}
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	rules := make([]map[string]string, 0, len(items))
	for i, item := range items {
		if item.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("rule %d: expected a map, got %s", i+1, nodeKind(item))
		}
		rule := map[string]string{}
		for j := 0; j+1 < len(item.Content); j += 2 {
			k, val := item.Content[j], item.Content[j+1]
			key := strings.ToLower(k.Value)
			switch {
			case k.Kind != yaml.ScalarNode || !firewallKeys[key]:
				return nil, fmt.Errorf("rule %d: unknown key %s (known: action, fromnode, tonode, fromservice, toservice)", i+1, nodeKind(k))
			case rule[key] != "":
				return nil, fmt.Errorf("rule %d: key %q given twice", i+1, key)
			case val.Kind != yaml.ScalarNode || isNullNode(val) || val.Value == "":
				return nil, fmt.Errorf("rule %d: key %q: expected a string, got %s", i+1, key, nodeKind(val))
			}
			if err := checkFirewallValue(key, val.Value); err != nil {
				return nil, fmt.Errorf("rule %d: key %q: %v", i+1, key, err)
			}
			rule[key] = val.Value
			if key == "action" {
				rule[key] = strings.ToLower(val.Value)
			}
		}
		if rule["action"] == "" {
			return nil, fmt.Errorf("rule %d: key \"action\" is required", i+1)
		}
		rules = append(rules, rule)
	}
	if len(rules) == 0 {
		return nil, nil
	}
	return rules, nil
}

func checkFirewallValue(key, s string) error {
	if key == "action" {
		switch strings.ToLower(s) {
		case "accept", "reject", "drop":
			return nil
		}
		return fmt.Errorf("%q is not accept, reject or drop", clip(s))
	}
	if _, err := mesh.ParseFirewallMatch(s); err != nil {
		return fmt.Errorf("%q: %v", clip(s), err)
	}
	return nil
}
