package work

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The seed corpus of FuzzStatusFile is in testdata/fuzz/FuzzStatusFile:
// status files as nodes write them (pending, running, finished, remote
// with secret params, unknown work type), truncated JSON, wrong types,
// huge numbers and non-objects. Fuzz it with
//
//	go test -run '^$' -fuzz '^FuzzStatusFile$' -fuzztime 20s ./work/

// fuzzStatusID is the unit a FuzzStatusFile input is the status file of.
const fuzzStatusID = "Fz12Ab34"

// newFuzzStatusManager is the part of a Manager that load needs, on a
// temporary directory: no runner, no background work. It knows work type
// "echo", so that status files reach all three cases of load.
func newFuzzStatusManager(tb testing.TB) *Manager {
	dir := tb.TempDir()
	if err := os.Mkdir(filepath.Join(dir, fuzzStatusID), 0o700); err != nil {
		tb.Fatal(err)
	}
	m := &Manager{
		dir:   dir,
		log:   slog.New(slog.DiscardHandler),
		units: map[string]*unit{},
	}
	if err := m.SetTypes([]CommandType{{WorkType: "echo", Command: "echo"}}); err != nil {
		tb.Fatal(err)
	}
	return m
}

// FuzzStatusFile writes each input as a unit's status file and loads the
// unit as a node does at start. load must not panic, must refuse anything
// that is not one JSON object, and whatever it accepts must give a reply
// that says what the file says and marshals to JSON (a reply that does not
// would break `work list` for every unit of the node). A remote unit's
// reply never shows its secret_ params.
func FuzzStatusFile(f *testing.F) {
	m := newFuzzStatusManager(f)
	path := filepath.Join(m.dir, fuzzStatusID, statusFile)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		checkStatusFile(t, m, data)
	})
}

// checkStatusFile loads the unit whose status file holds data and checks
// the result.
func checkStatusFile(t *testing.T, m *Manager, data []byte) {
	t.Helper()
	u, err := m.load(fuzzStatusID)
	if err != nil {
		if u != nil {
			t.Fatalf("load returned a unit and %v", err)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("error of more than one line: %q", err)
		}
		return
	}
	if len(data) > maxStatusFile {
		t.Fatalf("accepted a status file of %d bytes", len(data))
	}
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		t.Fatalf("accepted a status file that is not a JSON object: %q", clipBytes(data))
	}
	var raw rawStatus
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("load accepted what encoding/json refuses: %v", err)
	}
	rep := u.reply()
	if rep.State != int(raw.State) || rep.StateName != raw.State.String() || rep.Detail != raw.Detail ||
		rep.StdoutSize != raw.StdoutSize || rep.WorkType != raw.WorkType {
		t.Fatalf("reply %+v does not say what the file says: %+v", rep, raw)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatalf("the reply does not marshal: %v (%+v)", err, rep)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil || len(back) != 6 {
		t.Fatalf("the reply marshals to %s (%v)", b, err)
	}
	switch {
	case raw.WorkType == "remote":
		x, ok := rep.ExtraData.(RemoteExtra)
		if !ok || x.RemoteNode == "" || u.remote == nil {
			t.Fatalf("remote unit with ExtraData %#v", rep.ExtraData)
		}
		for k := range x.RemoteParams {
			if isSecretParam(k) {
				t.Fatalf("reply shows secret param %q", k)
			}
		}
	case raw.WorkType == "echo":
		if _, ok := rep.ExtraData.(CommandExtra); !ok && rep.ExtraData != nil {
			t.Fatalf("command unit with ExtraData %#v", rep.ExtraData)
		}
	default:
		if rep.ExtraData != "Unknown WorkType" {
			t.Fatalf("unit of unknown work type %q with ExtraData %#v", raw.WorkType, rep.ExtraData)
		}
	}
}

// TestStatusFileBound pads every seed of FuzzStatusFile with trailing
// spaces, which leave a JSON object valid, to one byte over maxStatusFile:
// each must be refused. A valid status padded to exactly maxStatusFile is
// still accepted.
func TestStatusFileBound(t *testing.T) {
	m := newFuzzStatusManager(t)
	path := filepath.Join(m.dir, fuzzStatusID, statusFile)
	seeds := readFuzzSeeds(t, "FuzzStatusFile")
	for name, data := range seeds {
		if len(data) > maxStatusFile {
			continue
		}
		big := append(bytes.Clone(data), bytes.Repeat([]byte(" "), maxStatusFile+1-len(data))...)
		if err := os.WriteFile(path, big, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := m.load(fuzzStatusID); err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("seed %s padded to %d bytes: %v, want refused as too large", name, len(big), err)
		}
	}
	valid := []byte(`{"State":2,"Detail":"exit status 0","StdoutSize":6,"WorkType":"echo","ExtraData":null}`)
	valid = append(valid, bytes.Repeat([]byte(" "), maxStatusFile-len(valid))...)
	if err := os.WriteFile(path, valid, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := m.load(fuzzStatusID); err != nil {
		t.Errorf("a valid status of exactly %d bytes: %v", maxStatusFile, err)
	}
}

// readFuzzSeeds reads the []byte seeds of one fuzz target's corpus.
func readFuzzSeeds(t *testing.T, target string) map[string][]byte {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("no seeds in %s: %v", dir, err)
	}
	seeds := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		data, err := parseFuzzSeed(string(b))
		if err != nil {
			t.Fatalf("seed %s: %v", e.Name(), err)
		}
		seeds[e.Name()] = data
	}
	return seeds
}

// parseFuzzSeed decodes a "go test fuzz v1" file of one []byte value.
func parseFuzzSeed(s string) ([]byte, error) {
	header, value, _ := strings.Cut(strings.TrimSpace(s), "\n")
	lit, ok := strings.CutPrefix(strings.TrimSpace(value), "[]byte(")
	if header != "go test fuzz v1" || !ok || !strings.HasSuffix(lit, ")") {
		return nil, errors.New("not a go test fuzz v1 file of one []byte")
	}
	str, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
	return []byte(str), err
}

func clipBytes(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}
