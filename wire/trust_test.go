package wire

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseTrust(t *testing.T) {
	data := "# meshd trust file\n" +
		"\n" +
		TrustLine("node-a", testPub(1)) + "\n" +
		"   # an indented comment\n" +
		"\t" + strings.ReplaceAll(TrustLine("node-b", testPub(2)), " ", " \t ") + "   \n" +
		"\r\n" +
		TrustLine(strings.Repeat("n", MaxNameLen), testPub(3)) // no final newline
	tr, err := ParseTrust("trust.txt", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Pinned() || tr.Len() != 3 {
		t.Fatalf("Pinned %v, Len %d", tr.Pinned(), tr.Len())
	}
	if err := tr.Check("node-a", testPub(1)); err != nil {
		t.Errorf("listed node: %v", err)
	}
	if err := tr.Check("node-b", testPub(2)); err != nil {
		t.Errorf("listed node with tabs: %v", err)
	}
	if err := tr.Check(strings.Repeat("n", MaxNameLen), testPub(3)); err != nil {
		t.Errorf("last line: %v", err)
	}
	err = tr.Check("node-c", testPub(1))
	if err == nil || !strings.Contains(err.Error(), "node-c is not listed in trust file trust.txt") {
		t.Errorf("unlisted node: %v", err)
	}
	err = tr.Check("node-a", testPub(2))
	if err == nil || !strings.Contains(err.Error(), "node-a presented a key that differs from trust file trust.txt") {
		t.Errorf("other key: %v", err)
	}
	if err := tr.Check("node-a", nil); err == nil {
		t.Error("nil key accepted")
	}
}

func TestParseTrustEmpty(t *testing.T) {
	// An empty (or comment-only) file pins the mesh to nobody: still
	// pinned, not open mode.
	tr, err := ParseTrust("empty", []byte("# nobody yet\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Pinned() || tr.Len() != 0 {
		t.Fatalf("Pinned %v, Len %d", tr.Pinned(), tr.Len())
	}
	if err := tr.Check("a", testPub(1)); err == nil {
		t.Fatal("empty trust file accepted a node")
	}
}

func TestParseTrustErrors(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(testPub(1))
	tests := []struct {
		name string
		data string
		want string
	}{
		{"two fields", "# c\nnode-a ed25519\n", "t:2: want `<node-id> ed25519 <base64 key>`"},
		{"four fields", "node-a ed25519 " + key + " extra\n", "t:1: want"},
		{"other algorithm", "\n\nnode-a rsa " + key + "\n", "t:3: want"},
		{"bad base64", "node-a ed25519 !!notbase64!!\n", "t:1: bad ed25519 public key for node-a"},
		{"raw url base64", "node-a ed25519 " + base64.RawURLEncoding.EncodeToString(testPub(1)) + "\n", "t:1: bad ed25519 public key"},
		{"short key", "node-a ed25519 " + base64.StdEncoding.EncodeToString(testPub(1)[:31]) + "\n", "t:1: bad ed25519 public key"},
		{"long key", "node-a ed25519 " + base64.StdEncoding.EncodeToString(testKey(1)) + "\n", "t:1: bad ed25519 public key"},
		{"long node ID", strings.Repeat("n", MaxNameLen+1) + " ed25519 " + key + "\n", "t:1: node ID"},
		{"duplicate node", TrustLine("node-a", testPub(1)) + "\n# x\n" + TrustLine("node-a", testPub(2)) + "\n", "t:3: node node-a listed twice"},
		{"duplicate same key", TrustLine("node-a", testPub(1)) + "\n" + TrustLine("node-a", testPub(1)) + "\n", "t:2: node node-a listed twice"},
		{"line too long", "# " + strings.Repeat("x", 70000) + "\n", "t: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := ParseTrust("t", []byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, %v; want error containing %q", tr, err, tt.want)
			}
			if tr != nil {
				t.Fatal("non-nil Trust with an error")
			}
		})
	}
}

func TestTrustNil(t *testing.T) {
	var tr *Trust
	if tr.Pinned() || tr.Len() != 0 {
		t.Fatal("nil Trust is pinned")
	}
	for _, pub := range []ed25519.PublicKey{testPub(1), testPub(2), nil} {
		if err := tr.Check("anyone", pub); err != nil {
			t.Fatalf("open mode refused a key: %v", err)
		}
	}
}

func TestLoadTrustFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trust")
	if err := os.WriteFile(path, []byte(TrustLine("a", testPub(1))+"\n"+"bad line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadTrustFile(path)
	if err == nil || !strings.Contains(err.Error(), path+":2:") {
		t.Fatalf("got %v, want the file name and line", err)
	}
	if err := os.WriteFile(path, []byte(TrustLine("a", testPub(1))+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := LoadTrustFile(path)
	if err != nil || tr.Len() != 1 {
		t.Fatalf("LoadTrustFile: %v, %d nodes", err, tr.Len())
	}
	if _, err := LoadTrustFile(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Fatalf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(maxTrustFile + 1); err != nil { // sparse: costs no disk
		t.Fatal(err)
	}
	f.Close()
	if _, err := LoadTrustFile(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversize file: %v", err)
	}
}
