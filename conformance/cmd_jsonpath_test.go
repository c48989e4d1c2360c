package conformance

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

const jsonpathUsage = "[!] jsonpath [-len] FILE PATH [VALUE]"

// cmdJSONPath checks one value inside a JSON reply:
//
//	jsonpath [-len] FILE PATH [VALUE]
//
// FILE is stdout, stderr or a file; its last non-empty line is parsed as
// JSON (ctl and waitfor print one reply line). PATH is dot-separated object
// keys and array indexes (NodeID, Connections.0.NodeID, RoutingTable.n3,
// KnownConnectionCosts.n1.n2); "." is the whole reply. With -len the value
// checked is the number of elements of the array or object at PATH.
// Without VALUE the path must exist; with VALUE the value there must equal
// it: VALUE is read as JSON when it parses (1, true, null, "x", [..], {..})
// and as a plain string otherwise (n2). With `!`, the path must be absent,
// or its value must differ. It leaves stdout as it was.
func cmdJSONPath(ts *testscript.TestScript, neg bool, args []string) {
	fs := newFlagSet("jsonpath")
	length := fs.Bool("len", false, "compare the length of the array or object at PATH")
	args = parseFlags(ts, fs, jsonpathUsage, args)
	if len(args) != 2 && len(args) != 3 {
		ts.Fatalf("usage: %s", jsonpathUsage)
	}
	text := strings.TrimRight(ts.ReadFile(args[0]), "\n")
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		text = text[i+1:]
	}
	var doc any
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		ts.Fatalf("jsonpath: %s is not JSON (%v): %q", args[0], err, text)
	}
	got, found := lookupJSON(doc, args[1])
	if found && *length {
		switch x := got.(type) {
		case []any:
			got = float64(len(x))
		case map[string]any:
			got = float64(len(x))
		default:
			ts.Fatalf("jsonpath -len: %s is %s, not an array or object", args[1], compactJSON(got))
		}
	}
	if len(args) == 2 {
		switch {
		case found && neg:
			ts.Fatalf("jsonpath: %s is present: %s", args[1], compactJSON(got))
		case !found && !neg:
			ts.Fatalf("jsonpath: %s is absent in %s", args[1], text)
		}
		return
	}
	var want any
	if err := json.Unmarshal([]byte(args[2]), &want); err != nil {
		want = args[2]
	}
	equal := found && reflect.DeepEqual(got, want)
	switch {
	case equal && neg:
		ts.Fatalf("jsonpath: %s is %s", args[1], compactJSON(got))
	case !equal && !neg && !found:
		ts.Fatalf("jsonpath: %s is absent, want %s; in %s", args[1], compactJSON(want), text)
	case !equal && !neg:
		ts.Fatalf("jsonpath: %s is %s, want %s", args[1], compactJSON(got), compactJSON(want))
	}
}

// lookupJSON follows a dot-separated path through decoded JSON.
func lookupJSON(v any, path string) (any, bool) {
	if path == "" || path == "." {
		return v, true
	}
	for _, seg := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[seg]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return string(b)
}
