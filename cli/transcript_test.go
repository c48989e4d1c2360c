package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"meshd/internal/transcript"
)

// The transcripts in testdata/transcripts were captured from a real
// receptor chain node1 <- node2 <- node3 started from the configs beside
// them. These tests start meshd nodes from the very same configs (only
// paths moved into a temporary directory and ports made free) and replay
// the captured client bytes, comparing meshd's answers with receptor's.

const transcriptDir = "../testdata/transcripts"

// transcriptChain is the running three-node chain and where to reach it.
type transcriptChain struct {
	dir     string
	ctlTCP  string // node1's plain-TCP control listener (ctltcp)
	running []*runningNode
}

func startTranscriptChain(t *testing.T) *transcriptChain {
	t.Helper()
	c := &transcriptChain{dir: t.TempDir()}
	port1, port2, portCtl := freePort(t), freePort(t), freePort(t)
	c.ctlTCP = "127.0.0.1:" + strconv.Itoa(portCtl)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, name := range []string{"node1", "node2", "node3"} {
		cfg, err := LoadConfigFile(filepath.Join(transcriptDir, name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Node.DataDir = filepath.Join(c.dir, "data")
		cfg.Node.KeyFile = keyPath(cfg.Node.DataDir, cfg.Node.ID)
		for i := range cfg.ControlServices {
			cs := &cfg.ControlServices[i]
			if cs.Filename != "" {
				cs.Filename = filepath.Join(c.dir, cs.Filename)
			}
			if cs.TCPListen != "" {
				cs.TCPListen = c.ctlTCP
			}
		}
		for i := range cfg.TCPListeners {
			cfg.TCPListeners[i].BindAddr = "127.0.0.1"
			cfg.TCPListeners[i].Port = map[string]int{"node1": port1, "node2": port2}[name]
		}
		for i := range cfg.TCPPeers {
			cfg.TCPPeers[i].Address = "127.0.0.1:" + strconv.Itoa(map[string]int{"node2": port1, "node3": port2}[name])
		}
		r, err := startNode(cfg, logger)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(r.Close)
		c.running = append(c.running, r)
	}
	// Wait until the chain has converged and every control service is
	// known everywhere, as it was when the transcripts were captured.
	deadline := time.Now().Add(10 * time.Second)
	for _, r := range c.running {
		for {
			st := r.mesh.Status()
			if len(st.RoutingTable) == 2 && len(st.Advertisements) == 4 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("chain did not converge: %+v", st)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return c
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var unixSocketLabel = regexp.MustCompile(`unix socket (\S+)$`)

// dialer returns how to reach the socket a transcript connection used.
func (c *transcriptChain) dialer(t *testing.T, conn transcript.Conn) func() (net.Conn, error) {
	if strings.Contains(conn.Label, "tcp 127.0.0.1:27411") {
		return func() (net.Conn, error) { return net.Dial("tcp", c.ctlTCP) }
	}
	m := unixSocketLabel.FindStringSubmatch(conn.Label)
	if m == nil {
		t.Fatalf("connection %d: cannot tell the socket from %q", conn.N, conn.Label)
	}
	path := filepath.Join(c.dir, m[1])
	return func() (net.Conn, error) { return net.Dial("unix", path) }
}

func TestTranscriptsAgainstMeshd(t *testing.T) {
	c := startTranscriptChain(t)
	for _, name := range []string{
		"connect-greeting-unix", "connect-greeting-tcp", "connect-service",
		"line-handling", "malformed-json", "unknown-command",
		"status-plain", "status-json", "status-receptorctl",
		"ping-node3", "ping-receptorctl", "ping-unknown-node",
		"traceroute-node3", "traceroute-receptorctl",
	} {
		t.Run(name, func(t *testing.T) {
			for _, conn := range loadTranscript(t, name).Conns {
				if err := transcript.Replay(conn, c.dialer(t, conn), transcript.ReplayOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func loadTranscript(t *testing.T, name string) *transcript.Transcript {
	t.Helper()
	tr, err := transcript.ParseFile(filepath.Join(transcriptDir, name+".transcript"))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// workTranscripts are the work transcripts in the order they were
// captured: later ones use the units earlier ones created (work-status
// reads the unit work-submit-local made, work-list lists exactly the two
// units made so far, work-release releases them, and the remote ones
// expect empty lists on both nodes again).
var workTranscripts = []string{
	"work-list-empty", "work-errors",
	"work-submit-local", "work-submit-local-receptorctl",
	"work-status", "work-results", "work-results-receptorctl",
	"work-list", "work-list-receptorctl", "work-release",
	"work-submit-params", "work-cancel",
	"remote-work-node1-to-node3", "remote-work-streaming-results",
	"remote-work-cancel", "remote-work-receptorctl-follow",
}

// TestWorkTranscriptsAgainstMeshd replays every work transcript, in
// capture order, against one chain. Unit IDs are random: the replay learns
// which live unit stands for each ID of the transcripts (from "Work unit
// created with ID X", "unitid", RemoteUnitID, work list keys) and sends the
// live IDs in later client lines; the IDs must stay consistent throughout.
// PIDs and the Pid of a running unit are masked; everything else, Detail,
// StdoutSize, ExtraData of remote units included, is compared as is.
//
// The captured clients were humans and scripts with pauses between
// connections: a status asked right after a submit found the unit already
// finished. The replay cannot rely on timing, so before a connection it
// waits until every unit on node1 and node3 has settled (see settle).
//
// Deviation from receptor, not met here: receptor's `work results` on a
// Canceled unit never ends; meshd's ends. No transcript reads the results
// of a canceled unit, so no connection depends on it.
func TestWorkTranscriptsAgainstMeshd(t *testing.T) {
	c := startTranscriptChain(t)
	t.Cleanup(func() { c.releaseAll(t) }) // no sleep left running if a replay fails
	ids := transcript.NewUnitIDs()
	for _, name := range workTranscripts {
		ok := t.Run(name, func(t *testing.T) {
			for _, conn := range loadTranscript(t, name).Conns {
				if !streamsResults(conn) {
					c.settle(t)
				}
				opts := transcript.ReplayOptions{IDs: ids, Timeout: 15 * time.Second}
				if err := transcript.Replay(conn, c.dialer(t, conn), opts); err != nil {
					t.Fatalf("%v\n(unit IDs learned so far: %d)", err, ids.Len())
				}
			}
		})
		if !ok {
			t.Fatalf("%s failed: the later transcripts depend on its units", name)
		}
	}
	// Every unit of the README's table was named by the server somewhere,
	// so every later mention of it was checked against the live unit.
	for _, id := range []string{
		"0jCVzclF", "AW2oyYU2", "POsDVGiI", "df1zrw1P", "6EtbxfmX",
		"gMN6vcsX", "PtWN0eJW", "j7k6CGz0", "tiju5Kf3", "VJxrc2pK", "iORnBnPV", "VBfk8uht", "Yhydefak",
	} {
		if _, ok := ids.Live(id); !ok {
			t.Errorf("unit %s of the transcripts was never matched with a live unit", id)
		}
	}
}

// TestWorkTranscriptsComplete makes sure no work transcript is left out of
// TestWorkTranscriptsAgainstMeshd.
func TestWorkTranscriptsComplete(t *testing.T) {
	var files []string
	for _, pat := range []string{"work-*.transcript", "remote-work-*.transcript"} {
		m, err := filepath.Glob(filepath.Join(transcriptDir, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) != len(workTranscripts) {
		t.Fatalf("%d work transcripts in %s, %d replayed", len(files), transcriptDir, len(workTranscripts))
	}
	for _, f := range files {
		if !slices.Contains(workTranscripts, strings.TrimSuffix(filepath.Base(f), ".transcript")) {
			t.Errorf("%s is not replayed", f)
		}
	}
}

// streamsResults reports whether a connection reads `work results`: it
// runs without waiting for units to settle, so that a stream that follows
// a running unit (remote-work-streaming-results) is replayed as captured.
func streamsResults(conn transcript.Conn) bool {
	b := conn.Bytes(transcript.Client)
	return bytes.Contains(b, []byte("work results")) || bytes.Contains(b, []byte(`"subcommand":"results"`))
}

// longRunning are the transcripts' work types that run until canceled
// (`sleep 300`); captured statuses show them Running.
var longRunning = map[string]bool{"sleep": true}

// listedUnit is what settle reads of a `work list` entry.
type listedUnit struct {
	State     int
	Detail    string
	WorkType  string
	ExtraData json.RawMessage
}

// settle waits until every unit on the nodes that run work has reached
// the state the transcripts saw after their pauses: finished, or Running
// for a long-running type (of a remote unit: its RemoteWorkType). A
// remote unit counts as finished only once its whole output is mirrored,
// which meshd guarantees before it reports a final state.
func (c *transcriptChain) settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, node := range []string{"node1", "node3"} {
		for {
			units, err := c.workList(node)
			unsettled := ""
			for id, u := range units {
				wt := u.WorkType
				if wt == "remote" {
					var x struct{ RemoteWorkType string }
					json.Unmarshal(u.ExtraData, &x)
					wt = x.RemoteWorkType
				}
				if u.State == 0 || (u.State == 1 && !longRunning[wt]) {
					unsettled = fmt.Sprintf("unit %s (%s) is in state %d: %s", id, wt, u.State, u.Detail)
				}
			}
			if err == nil && unsettled == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: units did not settle: %v %s", node, err, unsettled)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// workList runs `work list` on a node's control socket.
func (c *transcriptChain) workList(node string) (map[string]listedUnit, error) {
	reply, err := c.command(node, "work list")
	if err != nil {
		return nil, err
	}
	var units map[string]listedUnit
	if err := json.Unmarshal([]byte(reply), &units); err != nil {
		return nil, fmt.Errorf("work list: %v: %q", err, reply)
	}
	return units, nil
}

// command sends one command line to a node's control socket and returns
// the reply line.
func (c *transcriptChain) command(node, line string) (string, error) {
	conn, err := net.Dial("unix", filepath.Join(c.dir, node+".sock"))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		return "", err
	}
	rd := bufio.NewReader(conn)
	if _, err := rd.ReadString('\n'); err != nil { // greeting
		return "", err
	}
	reply, err := rd.ReadString('\n')
	return strings.TrimSuffix(reply, "\n"), err
}

// releaseAll force-releases whatever units are left, so that no command
// outlives the test (nodes leave their commands running when they stop).
func (c *transcriptChain) releaseAll(t *testing.T) {
	for _, node := range []string{"node1", "node3"} {
		units, err := c.workList(node)
		if err != nil {
			t.Logf("%s: work list: %v", node, err)
			continue
		}
		for id := range units {
			if reply, err := c.command(node, "work force-release "+id); err != nil || strings.HasPrefix(reply, "ERROR") {
				t.Logf("%s: force-release %s: %q %v", node, id, reply, err)
			}
		}
	}
}

// TestRequestedFieldsNotAList: the input that crashes receptor gets an
// ERROR line, and the node keeps serving.
func TestRequestedFieldsNotAList(t *testing.T) {
	c := startTranscriptChain(t)
	conn, err := net.Dial("unix", filepath.Join(c.dir, "node1.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, `{"command":"status","requested_fields":"Version"}`+"\n"+`{"command":"status","requested_fields":["NodeID"]}`+"\n"); err != nil {
		t.Fatal(err)
	}
	conn.(*net.UnixConn).CloseWrite()
	out, _ := io.ReadAll(conn)
	want := "Receptor Control, node node1\nERROR: requested_fields must be a list of strings\n{\"NodeID\":\"node1\"}\n"
	if string(out) != want {
		t.Fatalf("got %q\nwant %q", out, want)
	}
}
