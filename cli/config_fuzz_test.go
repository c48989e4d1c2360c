package cli

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseConfig feeds arbitrary bytes to ParseConfig. It must never panic
// nor take long, and whatever it accepts must satisfy the documented
// invariants. Seeds: every file in testdata/config plus the checked-in corpus
// in testdata/fuzz/FuzzParseConfig (valid, truncated and hostile inputs).
func FuzzParseConfig(f *testing.F) {
	stubHostname(f, "fuzzhost")
	files, err := filepath.Glob(filepath.Join(configDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files in %s: %v", configDir, err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// No wall-clock check here: on a loaded machine it flags inputs
		// that take milliseconds. TestBoundedInput bounds the worst cases.
		c, err := ParseConfig("fuzz.yaml", data)
		if err != nil {
			if c != nil {
				t.Errorf("config and error both returned")
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "fuzz.yaml: ") && !strings.HasPrefix(msg, "node: ") {
				t.Errorf("error does not name the file: %q", msg)
			}
			return
		}
		checkInvariants(t, c)
	})
}

// checkInvariants verifies what every accepted Config promises.
func checkInvariants(t *testing.T, c *Config) {
	t.Helper()
	if checkNodeID(c.Node.ID) != nil || c.Node.DataDir == "" || c.Node.KeyFile == "" || c.Node.MaxIdleConnectionTimeout < 0 {
		t.Errorf("bad node %+v", c.Node)
	}
	switch c.LogLevel {
	case "error", "warning", "info", "debug":
	default:
		t.Errorf("bad log level %q", c.LogLevel)
	}
	goodCost := func(f float64) bool { return f > 0 && !math.IsInf(f, 0) && !math.IsNaN(f) }
	goodCosts := func(m map[string]float64) bool {
		for id, f := range m {
			if !goodCost(f) || checkNodeID(id) != nil {
				return false
			}
		}
		return true
	}
	goodPeers := func(ids []string) bool {
		if ids != nil && len(ids) == 0 {
			return false
		}
		for _, id := range ids {
			if checkNodeID(id) != nil {
				return false
			}
		}
		return true
	}
	for _, l := range c.TCPListeners {
		if l.Port < 0 || l.Port > 65535 || !goodCost(l.Cost) || !goodCosts(l.NodeCost) || !goodPeers(l.AllowedPeers) {
			t.Errorf("bad tcp-listener %+v", l)
		}
	}
	for _, p := range c.TCPPeers {
		if p.Address == "" || !goodCost(p.Cost) || !goodPeers(p.AllowedPeers) {
			t.Errorf("bad tcp-peer %+v", p)
		}
	}
	for _, l := range c.UnixListeners {
		if l.Filename == "" || l.Permissions > 0o777 || !goodCost(l.Cost) || !goodCosts(l.NodeCost) || !goodPeers(l.AllowedPeers) {
			t.Errorf("bad unix-listener %+v", l)
		}
	}
	for _, p := range c.UnixPeers {
		if p.Filename == "" || !goodCost(p.Cost) || !goodPeers(p.AllowedPeers) {
			t.Errorf("bad unix-peer %+v", p)
		}
	}
	services := map[string]bool{}
	for _, s := range c.ControlServices {
		if s.Service == "" || len(s.Service) > maxServiceLen || services[s.Service] || s.Permissions > 0o777 {
			t.Errorf("bad control-service %+v", s)
		}
		services[s.Service] = true
	}
	types := map[string]bool{}
	for _, w := range c.WorkCommands {
		if w.WorkType == "" || w.Command == "" || types[w.WorkType] {
			t.Errorf("bad work-command %+v", w)
		}
		types[w.WorkType] = true
	}
	for _, w := range c.WorkKubernetes {
		if w.WorkType == "" || types[w.WorkType] {
			t.Errorf("bad work-kubernetes %+v", w)
		}
		types[w.WorkType] = true
	}
	if len(c.NotYetSupported) < len(c.WorkKubernetes) {
		t.Errorf("%d notes for %d work-kubernetes types", len(c.NotYetSupported), len(c.WorkKubernetes))
	}
	for _, n := range c.NotYetSupported {
		if !strings.HasPrefix(n, "fuzz.yaml: entry ") {
			t.Errorf("note does not name its entry: %q", n)
		}
	}
}
