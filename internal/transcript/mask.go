package transcript

import (
	"bytes"
	"regexp"
	"sort"
)

// Mask rewrites one server line (or partial line) so that values which vary
// from run to run compare equal. It is applied to expected and actual bytes.
type Mask func(line []byte) []byte

// Placeholders written by DefaultMask.
const (
	maskedValue  = `"<masked>"`
	maskedUnitID = "<unitid>"
)

var (
	// unit IDs in text replies: "Work unit created with ID <id>.",
	// "Streaming results for work unit <id>", "ERROR: unknown work unit <id>".
	unitIDText = regexp.MustCompile(`(with ID |work unit )[A-Za-z0-9]{8}\b`)
	// "Running: PID 1234" in a work unit's Detail.
	pidText  = regexp.MustCompile(`PID [0-9]+`)
	unitIDRe = regexp.MustCompile(`^[A-Za-z0-9]{8}$`)
)

// keys whose values differ on every run, masked wherever they appear.
var volatileKeys = map[string]bool{
	"Time": true, "TimeStr": true, // advertisement, ping, traceroute hop
	"SystemCPUCount": true, "SystemMemoryMiB": true, "Version": true,
	"Pid": true, // ExtraData of a running command unit
}

// keys whose string values are unit IDs.
var unitIDKeys = map[string]bool{
	"unitid": true, "RemoteUnitID": true,
	"cancelled": true, "cancel pending": true,
	"released": true, "release pending": true,
}

// DefaultMask normalises what README.md lists as varying between runs:
// Time/TimeStr, unit IDs (text, "unitid" values, keys of a work list), CPU
// count, memory, PIDs, Version, and the order of Advertisements. It also
// treats receptor's "WorkCommands":null as [] and "Tags":null as {}, since
// meshd never sends null there. JSON lines are re-encoded keeping their key
// order and literal bytes, so framing and field order still compare exactly.
func DefaultMask(line []byte) []byte {
	line = unitIDText.ReplaceAll(line, []byte("${1}"+maskedUnitID))
	line = pidText.ReplaceAll(line, []byte("PID <pid>"))
	body, nl := bytes.CutSuffix(line, []byte("\n"))
	if len(body) == 0 || body[0] != '{' {
		return line
	}
	n, err := parseOrdered(body)
	if err != nil {
		return line // not JSON after all: compare the text
	}
	maskNode(n)
	out := n.bytes()
	if nl {
		out = append(out, '\n')
	}
	return out
}

func maskNode(n *node) {
	switch n.kind {
	case '[':
		for _, v := range n.vals {
			maskNode(v)
		}
	case '{':
		for i := range n.keys {
			maskMember(n, i)
		}
		if isWorkList(n) {
			maskWorkListKeys(n)
		}
	}
}

// maskMember masks the i-th member of object n according to its key.
func maskMember(n *node, i int) {
	key, v := n.key(i), n.vals[i]
	switch {
	case volatileKeys[key]:
		n.vals[i] = &node{raw: []byte(maskedValue)}
		return
	case unitIDKeys[key]:
		if s, ok := v.str(); ok && unitIDRe.MatchString(s) {
			n.vals[i] = scalar(maskedUnitID)
		}
		return
	case key == "WorkCommands" && v.isNull():
		n.vals[i] = &node{kind: '['}
	case key == "Tags" && v.isNull():
		n.vals[i] = &node{kind: '{'}
	}
	maskNode(n.vals[i])
	if key == "Advertisements" && n.vals[i].kind == '[' {
		sortByBytes(n.vals[i].vals)
	}
}

// isWorkList reports whether n looks like a `work list` reply: every key a
// unit ID and every value a status object (it has a "State").
func isWorkList(n *node) bool {
	if len(n.keys) == 0 {
		return false
	}
	for i := range n.keys {
		if !unitIDRe.MatchString(n.key(i)) || !hasKey(n.vals[i], "State") {
			return false
		}
	}
	return true
}

func hasKey(n *node, key string) bool {
	if n.kind != '{' {
		return false
	}
	for i := range n.keys {
		if n.key(i) == key {
			return true
		}
	}
	return false
}

// maskWorkListKeys replaces every unit-ID key by the placeholder and orders
// the entries by their values, since random IDs sort differently each run.
func maskWorkListKeys(n *node) {
	sortByBytes(n.vals)
	for i := range n.keys {
		n.keys[i] = scalar(maskedUnitID).raw
	}
}

func sortByBytes(vals []*node) {
	sort.SliceStable(vals, func(a, b int) bool {
		return bytes.Compare(vals[a].bytes(), vals[b].bytes()) < 0
	})
}
