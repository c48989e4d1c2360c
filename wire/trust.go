package wire

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
)

// Trust is a pinned-key trust list: node ID -> Ed25519 public key, like
// SSH's authorized_keys. A nil *Trust means open mode: any key may join.
type Trust struct {
	source string
	keys   map[string]ed25519.PublicKey
}

// maxTrustFile bounds the trust file we are willing to read.
const maxTrustFile = 4 << 20

// LoadTrustFile reads a trust file. Each non-empty line that does not start
// with '#' is `<node-id> ed25519 <base64 public key>`.
func LoadTrustFile(path string) (*Trust, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxTrustFile {
		return nil, fmt.Errorf("%s: trust file larger than %d bytes", path, maxTrustFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseTrust(path, data)
}

// ParseTrust parses trust file content; name appears in errors.
func ParseTrust(name string, data []byte) (*Trust, error) {
	t := &Trust{source: name, keys: map[string]ed25519.PublicKey{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 64<<10)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		if len(f) != 3 || f[1] != "ed25519" {
			return nil, fmt.Errorf("%s:%d: want `<node-id> ed25519 <base64 key>`", name, line)
		}
		pub, err := base64.StdEncoding.DecodeString(f[2])
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%s:%d: bad ed25519 public key for %s", name, line, f[0])
		}
		if err := CheckName("node ID", f[0]); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if _, dup := t.keys[f[0]]; dup {
			return nil, fmt.Errorf("%s:%d: node %s listed twice", name, line, f[0])
		}
		t.keys[f[0]] = pub
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

// Pinned reports whether t restricts the mesh to listed keys.
func (t *Trust) Pinned() bool { return t != nil }

// Len is the number of listed nodes.
func (t *Trust) Len() int {
	if t == nil {
		return 0
	}
	return len(t.keys)
}

// Check accepts pub as the key of nodeID. In open mode it accepts anything.
func (t *Trust) Check(nodeID string, pub ed25519.PublicKey) error {
	if t == nil {
		return nil
	}
	want, ok := t.keys[nodeID]
	if !ok {
		return fmt.Errorf("node %s is not listed in trust file %s", nodeID, t.source)
	}
	if !want.Equal(pub) {
		return fmt.Errorf("node %s presented a key that differs from trust file %s", nodeID, t.source)
	}
	return nil
}
