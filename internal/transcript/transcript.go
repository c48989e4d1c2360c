// Package transcript reads the captured receptor control-socket sessions
// (testdata/transcripts/*.transcript) and replays them against a live
// control connection, so tests can hold meshd to the bytes a real receptor
// node sent. It is a test helper: nothing in the daemon imports it.
//
// Values that differ on every run are masked (DefaultMask). Unit IDs are
// also learned as the server names them and written into later client
// lines (UnitIDs, ReplayOptions.IDs), so that a transcript that submits a
// unit and then asks about it replays against a live node.
//
// The format (see testdata/transcripts/README.md) is line oriented:
//
//	# comment
//	== connection N (label)
//	C "<go-quoted bytes>"   # +0.001s
//	S "<go-quoted bytes>"
//	C EOF
//	S EOF
package transcript

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Side says who sent a record.
type Side byte

const (
	Client Side = 'C'
	Server Side = 'S'
)

// Record is one line of a transcript: bytes one side sent, or that side's EOF.
type Record struct {
	Side Side
	EOF  bool          // the side finished sending (FIN); Data is empty
	Data []byte        // the bytes, unquoted
	At   time.Duration // the "# +1.234s" timing comment, informational; 0 if absent
	Line int           // line number in the file, for error messages
}

// Conn is one connection of a scenario, its records in the order captured.
type Conn struct {
	N       int
	Label   string // the text inside "(...)", e.g. which socket it went to
	Records []Record
}

// Transcript is one parsed .transcript file.
type Transcript struct {
	Name  string // file name without directory and extension
	Conns []Conn
}

// Bytes concatenates the data of every record sent by side.
func (c *Conn) Bytes(side Side) []byte {
	var b []byte
	for _, r := range c.Records {
		if r.Side == side {
			b = append(b, r.Data...)
		}
	}
	return b
}

// ParseFile reads and parses one transcript file.
func ParseFile(path string) (*Transcript, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return Parse(name, f)
}

// Parse parses a transcript read from r; name is used in error messages.
func Parse(name string, r io.Reader) (*Transcript, error) {
	t := &Transcript{Name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024) // status lines are long
	for n := 1; sc.Scan(); n++ {
		if err := t.parseLine(sc.Text(), n); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return t, nil
}

func (t *Transcript) parseLine(line string, n int) error {
	trimmed := strings.TrimSpace(line)
	switch {
	case trimmed == "" || strings.HasPrefix(trimmed, "#"):
		return nil
	case strings.HasPrefix(line, "== connection "):
		c, err := parseConnHeader(line)
		if err != nil {
			return err
		}
		t.Conns = append(t.Conns, c)
		return nil
	case strings.HasPrefix(line, "C ") || strings.HasPrefix(line, "S "):
		if len(t.Conns) == 0 {
			return fmt.Errorf("record before the first \"== connection\" line")
		}
		rec, err := parseRecord(line, n)
		if err != nil {
			return err
		}
		c := &t.Conns[len(t.Conns)-1]
		c.Records = append(c.Records, rec)
		return nil
	}
	return fmt.Errorf("unrecognised line %q", line)
}

// parseConnHeader parses "== connection N (label)".
func parseConnHeader(line string) (Conn, error) {
	rest := strings.TrimPrefix(line, "== connection ")
	num, label, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(num)
	if err != nil {
		return Conn{}, fmt.Errorf("bad connection number in %q: %w", line, err)
	}
	label = strings.TrimSpace(label)
	label = strings.TrimSuffix(strings.TrimPrefix(label, "("), ")")
	return Conn{N: n, Label: label}, nil
}

// parseRecord parses `C "..."`, `S EOF` and the like, with an optional
// trailing "# +t" comment.
func parseRecord(line string, n int) (Record, error) {
	rec := Record{Side: Side(line[0]), Line: n}
	rest := line[2:]
	if strings.HasPrefix(rest, "EOF") {
		rec.EOF = true
		rest = rest[len("EOF"):]
	} else {
		quoted, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return rec, fmt.Errorf("bad quoted bytes: %w", err)
		}
		data, err := strconv.Unquote(quoted)
		if err != nil {
			return rec, fmt.Errorf("unquote %s: %w", quoted, err)
		}
		rec.Data = []byte(data)
		rest = rest[len(quoted):]
	}
	at, err := parseTrailer(rest)
	if err != nil {
		return rec, err
	}
	rec.At = at
	return rec, nil
}

// parseTrailer accepts nothing but blanks and an optional "# +1.234s".
func parseTrailer(rest string) (time.Duration, error) {
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return 0, nil
	}
	comment, ok := strings.CutPrefix(rest, "#")
	if !ok {
		return 0, fmt.Errorf("unexpected text after record: %q", rest)
	}
	comment = strings.TrimSpace(comment)
	if d, err := time.ParseDuration(strings.TrimPrefix(comment, "+")); err == nil {
		return d, nil
	}
	return 0, nil // some other comment: informational, ignored
}

// Quote renders b the way the transcript files do: printable ASCII literal
// except \\ and \", \n \r \t escaped, every other byte as \xHH. It is both a
// Go interpreted string literal and a Python bytes literal body.
func Quote(b []byte) string {
	var sb bytes.Buffer
	sb.WriteByte('"')
	for _, c := range b {
		switch {
		case c == '\\' || c == '"':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c == '\n':
			sb.WriteString(`\n`)
		case c == '\r':
			sb.WriteString(`\r`)
		case c == '\t':
			sb.WriteString(`\t`)
		case c >= 0x20 && c < 0x7f:
			sb.WriteByte(c)
		default:
			fmt.Fprintf(&sb, `\x%02x`, c)
		}
	}
	sb.WriteByte('"')
	return sb.String()
}
