package ctlsock

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

// The seed corpus of FuzzParseWork is in testdata/fuzz/FuzzParseWork: the
// parameters of text work commands (every subcommand, empty tokens, bad
// start positions) and JSON work commands as receptorctl and AWX send them
// (secret params, non-string values, huge and string start positions).
// Fuzz it with
//
//	go test -run '^$' -fuzz '^FuzzParseWork$' -fuzztime 20s ./ctlsock/

// FuzzParseWork parses each input three ways, none of which may panic:
//
//  1. as the parameters of a text work command, "work <input>";
//  2. as a whole command line, through ParseRequest, when it is a JSON
//     work command;
//  3. when it starts with '{', as a JSON object whose first key is
//     "command":"work", so that mutated objects keep reaching parseWork
//     (a later "command" key still wins, as in encoding/json).
//
// Whatever parses must be consistent with the input.
func FuzzParseWork(f *testing.F) {
	f.Fuzz(func(t *testing.T, in string) {
		w, err := parseWork(Request{Command: "work", Params: in})
		checkTextWork(t, in, w, err)
		for _, line := range []string{in, "{\"command\":\"work\"," + strings.TrimPrefix(in, "{")} {
			if !strings.HasPrefix(line, "{") {
				continue
			}
			req, err := ParseRequest([]byte(line))
			if err != nil || req.Command != "work" {
				continue
			}
			w, err := parseWork(req)
			checkJSONWork(t, req.JSON, w, err)
		}
	})
}

// workSubs are the subcommands parseWork knows.
var workSubs = map[string]bool{
	"submit": true, "list": true, "status": true, "cancel": true,
	"release": true, "force-release": true, "results": true,
}

func checkTextWork(t *testing.T, params string, w workRequest, err error) {
	t.Helper()
	tok := strings.Split(params, " ")
	if err != nil {
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("text %q: error of more than one line: %q", params, err)
		}
		return
	}
	if w.sub != strings.ToLower(tok[0]) || !workSubs[w.sub] || w.signature != "" {
		t.Fatalf("text %q parsed as %+v", params, w)
	}
	switch w.sub {
	case "submit":
		s := w.submit
		if s.Node == "" || s.WorkType == "" {
			t.Fatalf("text %q: submit without a node or work type: %+v", params, s)
		}
		if s.Node != tok[1] || s.WorkType != tok[2] {
			t.Fatalf("text %q: submit %+v", params, s)
		}
		want := map[string]string{}
		if len(tok) > 3 {
			want["params"] = strings.Join(tok[3:], " ")
		}
		if !equalMaps(s.Params, want) || s.TLSClient != "" || s.TTL != "" || s.SignWork || s.Signature != "" {
			t.Fatalf("text %q: submit %+v", params, s)
		}
	case "list":
		if len(tok) > 1 && w.unitID != tok[1] || len(tok) == 1 && w.unitID != "" {
			t.Fatalf("text %q: list %q", params, w.unitID)
		}
	default:
		if len(tok) < 2 || w.unitID != tok[1] {
			t.Fatalf("text %q: unit ID %q", params, w.unitID)
		}
		if w.sub == "results" && len(tok) == 3 {
			if pos, err := strconv.ParseInt(tok[2], 10, 64); err != nil || pos != w.startpos {
				t.Fatalf("text %q: start position %d", params, w.startpos)
			}
		} else if w.startpos != 0 || len(tok) != 2 {
			t.Fatalf("text %q parsed as %+v", params, w)
		}
	}
}

func checkJSONWork(t *testing.T, obj map[string]any, w workRequest, err error) {
	t.Helper()
	if err != nil {
		return
	}
	sub, _ := obj["subcommand"].(string)
	if w.sub != strings.ToLower(sub) || !workSubs[w.sub] {
		t.Fatalf("JSON %v parsed as %+v", obj, w)
	}
	switch w.sub {
	case "submit":
		s := w.submit
		if s.Node != obj["node"] || s.WorkType != obj["worktype"] {
			t.Fatalf("JSON %v: submit %+v", obj, s)
		}
		for k, v := range obj {
			if submitReserved[k] {
				if _, ok := s.Params[k]; ok {
					t.Fatalf("JSON %v: reserved key %q among the params", obj, k)
				}
			} else if s.Params[k] != v {
				t.Fatalf("JSON %v: param %q is %q", obj, k, s.Params[k])
			}
		}
		if len(s.Params) > len(obj) || s.SignWork != (obj["signwork"] == "true") {
			t.Fatalf("JSON %v: submit %+v", obj, s)
		}
	case "list":
		if id, ok := obj["unitid"]; ok && id != w.unitID {
			t.Fatalf("JSON %v: list %q", obj, w.unitID)
		}
	default:
		if obj["unitid"] != w.unitID {
			t.Fatalf("JSON %v: unit ID %q", obj, w.unitID)
		}
		if sig, ok := obj["signature"]; ok && sig != w.signature {
			t.Fatalf("JSON %v: signature %q", obj, w.signature)
		}
		if w.sub != "results" {
			break
		}
		f, ok := obj["startpos"].(float64)
		// The start position is the number, truncated toward zero, and
		// one a Go int64 can hold.
		if !ok || float64(w.startpos) != math.Trunc(f) {
			t.Fatalf("JSON %v: start position %d", obj, w.startpos)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
