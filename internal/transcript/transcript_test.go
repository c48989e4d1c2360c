package transcript

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const dir = "../../testdata/transcripts"

func allFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.transcript"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 31 {
		t.Fatalf("found %d transcripts in %s, want 31", len(files), dir)
	}
	return files
}

func TestParseAllTranscripts(t *testing.T) {
	for _, path := range allFiles(t) {
		tr, err := ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Conns) == 0 {
			t.Errorf("%s: no connections", tr.Name)
		}
		for _, c := range tr.Conns {
			checkConn(t, tr.Name, c)
		}
	}
}

// checkConn checks the framing rules of README.md on one connection.
func checkConn(t *testing.T, name string, c Conn) {
	t.Helper()
	if len(c.Records) == 0 || c.Records[0].Side != Server ||
		!bytes.HasPrefix(c.Records[0].Data, []byte("Receptor Control, node ")) {
		t.Errorf("%s conn %d: does not start with the server greeting", name, c.N)
	}
	for _, r := range c.Records {
		if r.EOF {
			continue
		}
		if i := bytes.IndexByte(r.Data, '\n'); i >= 0 && i != len(r.Data)-1 {
			t.Errorf("%s:%d: record not split after its newline: %q", name, r.Line, r.Data)
		}
	}
}

// TestQuoteRoundTrip re-quotes every record and compares it with the text
// in the file, and checks that the concatenated bytes survive unchanged.
func TestQuoteRoundTrip(t *testing.T) {
	for _, path := range allFiles(t) {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(raw), "\n")
		tr, err := ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range tr.Conns {
			for side, joined := range map[Side][]byte{Client: c.Bytes(Client), Server: c.Bytes(Server)} {
				var rebuilt []byte
				for _, r := range c.Records {
					if r.Side != side || r.EOF {
						continue
					}
					q := Quote(r.Data)
					if !strings.HasPrefix(lines[r.Line-1], string(side)+" "+q) {
						t.Errorf("%s:%d: Quote gives %s, file has %s", tr.Name, r.Line, q, lines[r.Line-1])
					}
					u, err := strconv.Unquote(q)
					if err != nil {
						t.Fatalf("%s:%d: %v", tr.Name, r.Line, err)
					}
					rebuilt = append(rebuilt, u...)
				}
				if !bytes.Equal(rebuilt, joined) {
					t.Errorf("%s conn %d %c: bytes do not round-trip", tr.Name, c.N, side)
				}
			}
		}
	}
}

func TestParseRecordForms(t *testing.T) {
	src := "# header\n== connection 2 (client -> x)\n" +
		"S \"hi\\n\"   # +0.5s\nC \"a\\x00\\\"b\"\nC EOF  # +1.25s\nS EOF\n"
	tr, err := Parse("inline", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	c := tr.Conns[0]
	if c.N != 2 || c.Label != "client -> x" || len(c.Records) != 4 {
		t.Fatalf("got %+v", c)
	}
	if string(c.Records[1].Data) != "a\x00\"b" || c.Records[0].At != 500*time.Millisecond {
		t.Errorf("records: %+v", c.Records)
	}
	if !c.Records[2].EOF || c.Records[2].At != 1250*time.Millisecond || c.Records[2].Side != Client {
		t.Errorf("C EOF record: %+v", c.Records[2])
	}
}

func TestParseErrors(t *testing.T) {
	for _, src := range []string{
		"C \"x\"\n", // before any connection
		"== connection x (y)\n",
		"== connection 1 (y)\nC \"unterminated\n",
		"== connection 1 (y)\nS \"x\" trailing\n",
		"== connection 1 (y)\nbogus\n",
	} {
		if _, err := Parse("bad", strings.NewReader(src)); err == nil {
			t.Errorf("Parse(%q) succeeded", src)
		}
	}
}
