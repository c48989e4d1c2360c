package ctlsock

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meshd/internal/transcript"
)

const transcriptDir = "../testdata/transcripts"

func loadTranscript(t *testing.T, name string) *transcript.Transcript {
	t.Helper()
	tr, err := transcript.ParseFile(filepath.Join(transcriptDir, name+".transcript"))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// receptorWorkErrors reproduces the JSON-form errors of receptor's work
// command that malformed-json.transcript shows, so that transcript can be
// replayed before the work layer exists. It is a test stand-in only.
func receptorWorkErrors(_ context.Context, _ *Session, req Request) (any, error) {
	sub, ok := req.JSON["subcommand"]
	if !ok {
		return nil, errors.New("field subcommand missing")
	}
	if sub == "status" {
		if _, ok := req.JSON["unitid"]; !ok {
			return nil, errors.New("field unitid missing")
		}
	}
	return nil, errors.New("bad command")
}

// TestTranscripts replays the captured receptor sessions that need no work
// units against node1 of the fake chain, each connection on a fresh session.
func TestTranscripts(t *testing.T) {
	for _, name := range []string{
		"line-handling", "malformed-json", "unknown-command",
		"status-plain", "status-json", "status-receptorctl", "connect-greeting-unix",
		"ping-node3", "ping-receptorctl", "ping-unknown-node",
		"traceroute-node3", "traceroute-receptorctl", "connect-service",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, quietOpts())
			if name == "malformed-json" {
				c.n1.Register("work", receptorWorkErrors)
			}
			for _, conn := range loadTranscript(t, name).Conns {
				if err := transcript.Replay(conn, dialer(t, c.n1), transcript.ReplayOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestTranscriptsOverListeners replays the greeting transcripts through
// real listeners: the Unix socket and the plain-TCP one.
func TestTranscriptsOverListeners(t *testing.T) {
	c := newChain(t, quietOpts())
	dir, err := os.MkdirTemp("", "ctl") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	uln, err := ListenUnix(filepath.Join(dir, "node1.sock"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	tln, err := ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go c.n1.Serve(uln)
	go c.n1.Serve(tln)
	for name, ln := range map[string]net.Listener{"connect-greeting-unix": uln, "connect-greeting-tcp": tln} {
		dial := func() (net.Conn, error) { return net.Dial(ln.Addr().Network(), ln.Addr().String()) }
		for _, conn := range loadTranscript(t, name).Conns {
			if err := transcript.Replay(conn, dial, transcript.ReplayOptions{}); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}

// TestRequestedFieldsNotAList: receptor crashes on this input; meshd
// answers with an ERROR line and keeps serving the same connection.
func TestRequestedFieldsNotAList(t *testing.T) {
	tr := loadTranscript(t, "status-requested-fields-not-a-list")
	var probe string
	for _, r := range tr.Conns[0].Records {
		if r.Side == transcript.Client && !r.EOF {
			probe += string(r.Data)
		}
	}
	c := newChain(t, quietOpts())
	got := converse(t, c.n1, probe+`{"command":"status","requested_fields":null}`+"\n"+"ping node2\n")
	want := greeting1 +
		"ERROR: requested_fields must be a list of strings\n" +
		"ERROR: requested_fields must be a list of strings\n" +
		`{"From":"node2","Success":true,"Time":874000,"TimeStr":"874µs"}` + "\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

// TestConnectServiceOneWrite sends the connect line and the command for
// the far side in one write: the bytes buffered past the connect line must
// reach node2.
func TestConnectServiceOneWrite(t *testing.T) {
	c := newChain(t, quietOpts())
	got := converse(t, c.n1, "connect node2 control \nstatus\n")
	rest, ok := strings.CutPrefix(got, greeting1+"Connecting\nReceptor Control, node node2\n")
	if !ok || !strings.HasPrefix(rest, `{"Advertisements":[`) || !strings.Contains(rest, `"NodeID":"node2"`) {
		t.Fatalf("got %q", got)
	}
	waitNoSessions(t, c.n2)
}

// waitNoSessions waits until srv has no session left.
func waitNoSessions(t *testing.T, srv *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		srv.mu.Lock()
		n := srv.active
		srv.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still active", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
