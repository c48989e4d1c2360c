package work

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Files in a unit directory.
const (
	statusFile = "status"
	stdinFile  = "stdin"
	stdoutFile = "stdout"
)

// maxStatusFile bounds what is read back from a status file; real ones are
// well under a kilobyte, a remote unit's params aside.
const maxStatusFile = 4 << 20

// unitIDChars are receptor's unit ID alphabet; a reference submitting node
// parses IDs with [a-zA-Z0-9]+.
const unitIDChars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

const unitIDLen = 8

// newUnitID returns a random 8-character alphanumeric ID, as receptor's.
func newUnitID() string {
	var b [unitIDLen]byte
	rand.Read(b[:])
	for i := range b {
		// 256 % 62 = 8: a slight bias toward the first 8 characters, which
		// does not matter for IDs that only need to be unique.
		b[i] = unitIDChars[int(b[i])%len(unitIDChars)]
	}
	return string(b[:])
}

// validUnitID reports whether id can name a unit directory: alphanumeric,
// 1 to 64 characters, so that it is never "", ".", ".." or a path.
func validUnitID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// writeStatus replaces dir's status file atomically: a reader (this node,
// a runner, or a node restarted after a crash) sees the old status or the
// new one, never a mix. The file is one JSON object and a newline, fields
// in receptor's order.
func writeStatus(dir string, st Status) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	// The temporary name is unique per process, because a runner and its
	// node may both write (never at the same time, but a crash can leave
	// one behind).
	tmp := filepath.Join(dir, statusFile+".tmp"+strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing status: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, statusFile)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing status: %w", err)
	}
	return nil
}

// rawStatus is a status file with ExtraData left undecoded; its type
// depends on the unit's work type.
type rawStatus struct {
	State      State           `json:"State"`
	Detail     string          `json:"Detail"`
	StdoutSize int64           `json:"StdoutSize"`
	WorkType   string          `json:"WorkType"`
	ExtraData  json.RawMessage `json:"ExtraData"`
}

var errNoStatus = errors.New("status file has disappeared")

// readStatus reads dir's status file.
func readStatus(dir string) (rawStatus, error) {
	var st rawStatus
	f, err := os.Open(filepath.Join(dir, statusFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return st, errNoStatus
		}
		return st, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxStatusFile+1)); err != nil {
		return st, err
	}
	if buf.Len() > maxStatusFile {
		return st, fmt.Errorf("status file is larger than %d bytes", maxStatusFile)
	}
	// Unmarshal takes "null" for an empty status: only an object is one.
	if b := bytes.TrimLeft(buf.Bytes(), " \t\r\n"); len(b) > 0 && b[0] != '{' {
		return st, errors.New("status file is not a JSON object")
	}
	if err := json.Unmarshal(buf.Bytes(), &st); err != nil {
		return st, fmt.Errorf("status file: %w", err)
	}
	return st, nil
}

// fileSize is the size of path, or 0 if it does not exist.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// dateString formats an expiry as receptor's TTL detail does.
func dateString(t time.Time) string { return t.Format("Mon Jan 2 15:04:05") }
