package work_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"meshd/work"
)

func TestSubmitCatWithPayload(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, work.Config{DataDir: dir})
	payload := "hello world\nsecond\n"
	id := mustSubmit(t, m, work.SubmitRequest{WorkType: "cat"}, payload)
	st := waitState(t, m, id, work.Succeeded)
	if st.Detail != "exit status 0" || st.StdoutSize != int64(len(payload)) || st.WorkType != "cat" || st.ExtraData != nil {
		t.Errorf("status %+v, want Detail exit status 0, StdoutSize %d, WorkType cat, no ExtraData", st, len(payload))
	}
	if got := results(t, m, id, 0); got != payload {
		t.Errorf("results %q, want %q", got, payload)
	}
	// The payload is kept as sent, in the unit's directory.
	stdin, err := os.ReadFile(filepath.Join(unitDir(dir, id), "stdin"))
	if err != nil || string(stdin) != payload {
		t.Errorf("stdin file %q (%v), want %q", stdin, err, payload)
	}
}

// unitDir is where unit id of node1 lives: DataDir/NodeID/ID.
func unitDir(dataDir, id string) string { return filepath.Join(dataDir, "node1", id) }

func TestSubmitLocalhostAndLargePayload(t *testing.T) {
	m := newManager(t, work.Config{})
	payload := make([]byte, 5<<20)
	rand.Read(payload)
	id := mustSubmit(t, m, work.SubmitRequest{Node: "localhost", WorkType: "cat"}, string(payload))
	waitState(t, m, id, work.Succeeded)
	if got := results(t, m, id, 0); got != string(payload) {
		t.Errorf("results: %d bytes differ from the %d-byte payload", len(got), len(payload))
	}
}

func TestStderrJoinsStdout(t *testing.T) {
	m := newManager(t, work.Config{})
	id := mustSubmit(t, m, work.SubmitRequest{WorkType: "bash", Params: params(`-c "echo out; echo err >&2; echo out2"`)}, "")
	waitState(t, m, id, work.Succeeded)
	if got, want := results(t, m, id, 0), "out\nerr\nout2\n"; got != want {
		t.Errorf("results %q, want %q", got, want)
	}
}

func TestFailingCommand(t *testing.T) {
	m := newManager(t, work.Config{})
	id := mustSubmit(t, m, work.SubmitRequest{WorkType: "bash", Params: params(`-c "echo oops; exit 3"`)}, "")
	st := waitState(t, m, id, work.Failed)
	if st.Detail != "exit status 3" || st.StateName != "Failed" || st.State != 3 {
		t.Errorf("status %+v, want Failed (3), Detail exit status 3", st)
	}
	if got := results(t, m, id, 0); got != "oops\n" {
		t.Errorf("results %q, want oops", got)
	}
}

func TestCommandNotFound(t *testing.T) {
	m := newManager(t, work.Config{Types: []work.CommandType{{WorkType: "missing", Command: "/nonexistent/meshd-test-cmd"}}})
	id := mustSubmit(t, m, work.SubmitRequest{WorkType: "missing"}, "")
	st := waitState(t, m, id, work.Failed)
	if !strings.Contains(st.Detail, "no such file") {
		t.Errorf("Detail %q, want the exec error", st.Detail)
	}
	if got := results(t, m, id, 0); got != "" {
		t.Errorf("results %q, want none", got)
	}
}

func TestSubmitRefused(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, work.Config{DataDir: dir})
	for _, tc := range []struct {
		name string
		req  work.SubmitRequest
		want string
	}{
		{"unknown work type", work.SubmitRequest{WorkType: "nope"}, "unknown work type nope"},
		{"runtime params not allowed", work.SubmitRequest{WorkType: "cat", Params: params("/etc/passwd")}, "extra params provided but not allowed"},
		{"runtime params not allowed, base params", work.SubmitRequest{WorkType: "echo", Params: params("x")}, "extra params provided but not allowed"},
		{"ttl on local work", work.SubmitRequest{WorkType: "cat", TTL: "1m"}, "ttl option is intended for remote work only"},
		{"unterminated quote", work.SubmitRequest{WorkType: "args", Params: params(`"a b`)}, "unterminated"},
		{"unexpected signature", work.SubmitRequest{WorkType: "cat", Signature: "v1.x.y"}, "work type did not expect a signature"},
		{"remote without dialer", work.SubmitRequest{Node: "elsewhere", WorkType: "cat"}, "remote work is not available on this node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, _, err := submit(t, m, tc.req, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("submit: unit %q, error %v, want %q", id, err, tc.want)
			}
			if id != "" {
				t.Errorf("a refused submit created unit %s", id)
			}
		})
	}
	// Nothing was created, in memory or on disk.
	if list, err := m.List(""); err != nil || len(list) != 0 {
		t.Errorf("list after refused submits: %v %v, want empty", list, err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "node1")); len(entries) != 0 {
		t.Errorf("unit directories left behind: %v", entries)
	}
}

func TestBaseParams(t *testing.T) {
	m := newManager(t, work.Config{})
	id := mustSubmit(t, m, work.SubmitRequest{WorkType: "echo"}, "")
	waitState(t, m, id, work.Succeeded)
	if got := results(t, m, id, 0); got != "base\n" {
		t.Errorf("results %q, want base", got)
	}
}

// Runtime params are split as a shell would, but nothing is expanded: no
// glob, no variable, no command substitution.
func TestParamsSplitShellStyle(t *testing.T) {
	m := newManager(t, work.Config{})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x_1"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	user := `--exclude-strings="a b" ` + dir + `/x_* '$HOME' $(id) a\ b`
	id := mustSubmit(t, m, work.SubmitRequest{WorkType: "args", Params: params(user)}, "")
	st := waitState(t, m, id, work.Succeeded)
	if extra, _ := json.Marshal(st.ExtraData); string(extra) != "null" {
		t.Errorf("ExtraData of a finished unit: %s", extra)
	}
	want := "[--exclude-strings=a b]\n[" + dir + "/x_*]\n[$HOME]\n[$(id)]\n[a b]\n"
	if got := results(t, m, id, 0); got != want {
		t.Errorf("results\n%s\nwant\n%s", got, want)
	}
}

func TestStatusAndList(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, work.Config{DataDir: dir})
	if list, err := m.List(""); err != nil || len(list) != 0 {
		t.Fatalf("list of an empty node: %v %v", list, err)
	}
	done := mustSubmit(t, m, work.SubmitRequest{WorkType: "echo"}, "")
	waitState(t, m, done, work.Succeeded)
	running := mustSubmit(t, m, work.SubmitRequest{WorkType: "sleep", Params: params("300")}, "")
	st := waitState(t, m, running, work.Running)
	pid := commandPid(t, m, running)
	killGroupAtEnd(t, pid)

	// A running command unit: receptor's Detail and ExtraData {Pid, Params}.
	if !strings.HasPrefix(st.Detail, "Running: PID ") || st.StateName != "Running" || st.WorkType != "sleep" {
		t.Errorf("running status %+v", st)
	}
	if extra := st.ExtraData.(work.CommandExtra); extra.Params != "300" {
		t.Errorf("ExtraData %+v, want Params 300", extra)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := `{"Detail":"Running: PID `
	if !bytes.HasPrefix(b, []byte(wantKeys)) || !bytes.Contains(b, []byte(`,"ExtraData":{"Pid":`)) ||
		!bytes.HasSuffix(b, []byte(`,"State":1,"StateName":"Running","StdoutSize":0,"WorkType":"sleep"}`)) {
		t.Errorf("status JSON %s: keys not in receptor's order and form", b)
	}
	var asMap map[string]any
	json.Unmarshal(b, &asMap)
	if len(asMap) != 6 {
		t.Errorf("status JSON has keys %v, want Detail ExtraData State StateName StdoutSize WorkType", asMap)
	}

	// A finished one: ExtraData null.
	b, _ = json.Marshal(status(t, m, done))
	if want := `{"Detail":"exit status 0","ExtraData":null,"State":2,"StateName":"Succeeded","StdoutSize":5,"WorkType":"echo"}`; string(b) != want {
		t.Errorf("finished status JSON\n%s\nwant\n%s", b, want)
	}
	// The status file has receptor's field order.
	raw, err := os.ReadFile(filepath.Join(unitDir(dir, done), "status"))
	if want := `{"State":2,"Detail":"exit status 0","StdoutSize":5,"WorkType":"echo","ExtraData":null}` + "\n"; err != nil || string(raw) != want {
		t.Errorf("status file %q (%v), want %q", raw, err, want)
	}

	list, err := m.List("")
	if err != nil || len(list) != 2 || list[done].StateName != "Succeeded" || list[running].StateName != "Running" {
		t.Errorf("list: %+v %v", list, err)
	}
	one, err := m.List(done)
	if err != nil || len(one) != 1 || one[done].Detail != "exit status 0" {
		t.Errorf("list %s: %+v %v", done, one, err)
	}
	if _, err := m.List("nosuch"); !errors.Is(err, work.ErrUnknownUnit) || err.Error() != "unknown work unit nosuch" {
		t.Errorf("list of an unknown unit: %v", err)
	}
	if _, err := m.Status("nosuch"); !errors.Is(err, work.ErrUnknownUnit) {
		t.Errorf("status of an unknown unit: %v", err)
	}
	if _, err := m.Cancel(t.Context(), running, work.Auth{Trusted: true}); err != nil {
		t.Fatal(err)
	}
}

func TestResultsStartpos(t *testing.T) {
	m := newManager(t, work.Config{})
	id := mustSubmit(t, m, work.SubmitRequest{WorkType: "cat"}, "0123456789")
	waitState(t, m, id, work.Succeeded)
	for _, tc := range []struct {
		pos  int64
		want string
	}{{0, "0123456789"}, {4, "456789"}, {9, "9"}, {10, ""}, {1000, ""}, {-1, ""}} {
		if got := results(t, m, id, tc.pos); got != tc.want {
			t.Errorf("results from %d: %q, want %q", tc.pos, got, tc.want)
		}
	}
	headerCalled := false
	err := m.Results(t.Context(), "nosuch", 0, work.Auth{Trusted: true}, func() error { headerCalled = true; return nil }, io.Discard)
	if !errors.Is(err, work.ErrUnknownUnit) || headerCalled {
		t.Errorf("results of an unknown unit: %v (header sent: %v)", err, headerCalled)
	}
}

// fifo makes a named pipe for a command to read: the test decides when it
// ends without sleeping.
func fifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestResultsFollowRunningUnit(t *testing.T) {
	m := newManager(t, work.Config{})
	pipe := fifo(t)
	id := mustSubmit(t, m, work.SubmitRequest{WorkType: "catfile", Params: params(pipe)}, "")
	w, err := os.OpenFile(pipe, os.O_WRONLY, 0) // once cat has opened it
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	io.WriteString(w, "first\n")

	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- m.Results(t.Context(), id, 0, work.Auth{Trusted: true}, func() error { return nil }, &out)
	}()
	waitFor(t, "the first line streamed", func() bool { return out.String() == "first\n" })
	select {
	case err := <-done:
		t.Fatalf("results ended (%v) while the unit runs", err)
	default:
	}
	if st := status(t, m, id); st.StateName != "Running" {
		t.Errorf("unit is %s, want Running", st.StateName)
	}
	io.WriteString(w, "second\n")
	w.Close()
	if err := <-done; err != nil {
		t.Fatalf("results: %v", err)
	}
	if got := out.String(); got != "first\nsecond\n" {
		t.Errorf("results %q, want both lines", got)
	}
	waitState(t, m, id, work.Succeeded)
}

func TestCancelRunning(t *testing.T) {
	m := newManager(t, work.Config{})
	id := mustSubmit(t, m, work.SubmitRequest{WorkType: "sleep", Params: params("300")}, "")
	waitState(t, m, id, work.Running)
	pid := commandPid(t, m, id)
	killGroupAtEnd(t, pid)

	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- m.Results(t.Context(), id, 0, work.Auth{Trusted: true}, func() error { return nil }, &out)
	}()
	pending, err := m.Cancel(t.Context(), id, work.Auth{Trusted: true})
	if err != nil || pending {
		t.Fatalf("cancel: pending %v, %v", pending, err)
	}
	st := status(t, m, id)
	if st.StateName != "Canceled" || st.Detail != "Canceled" || st.ExtraData != nil {
		t.Errorf("after cancel: %+v, want Canceled", st)
	}
	waitFor(t, "the process group to be gone", func() bool { return groupGone(pid) })
	// A results stream ends on a canceled unit, open or new.
	if err := <-done; err != nil {
		t.Errorf("results open during the cancel: %v", err)
	}
	if got := results(t, m, id, 0); got != "" {
		t.Errorf("results %q", got)
	}
	// Canceling again, or a finished unit, changes nothing.
	if _, err := m.Cancel(t.Context(), id, work.Auth{Trusted: true}); err != nil {
		t.Errorf("second cancel: %v", err)
	}
	fin := mustSubmit(t, m, work.SubmitRequest{WorkType: "echo"}, "")
	waitState(t, m, fin, work.Succeeded)
	if _, err := m.Cancel(t.Context(), fin, work.Auth{Trusted: true}); err != nil {
		t.Errorf("cancel of a finished unit: %v", err)
	}
	if st := status(t, m, fin); st.StateName != "Succeeded" {
		t.Errorf("a finished unit became %s on cancel", st.StateName)
	}
	if _, err := m.Cancel(t.Context(), "nosuch", work.Auth{Trusted: true}); !errors.Is(err, work.ErrUnknownUnit) {
		t.Errorf("cancel of an unknown unit: %v", err)
	}
}

func TestCancelIgnoringSIGTERM(t *testing.T) {
	m := newManager(t, work.Config{CancelGrace: 100 * time.Millisecond})
	id := mustSubmit(t, m, work.SubmitRequest{WorkType: "bash", Params: params(`-c 'trap "" TERM; echo ready; sleep 300'`)}, "")
	waitFor(t, "the trap to be set", func() bool { return status(t, m, id).StdoutSize == int64(len("ready\n")) })
	pid := commandPid(t, m, id)
	killGroupAtEnd(t, pid)
	if _, err := m.Cancel(t.Context(), id, work.Auth{Trusted: true}); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if st := status(t, m, id); st.StateName != "Canceled" {
		t.Errorf("after cancel: %+v", st)
	}
	// Killed with the runner, the group's processes are orphans that
	// init reaps: they are gone soon after, not at once.
	waitFor(t, "the process group to be gone", func() bool { return groupGone(pid) })
	if got := results(t, m, id, 0); got != "ready\n" {
		t.Errorf("results %q", got)
	}
}

// A unit canceled after its submit but before its payload has arrived
// never starts.
func TestCancelBeforeStart(t *testing.T) {
	m := newManager(t, work.Config{})
	sub, err := m.Submit(work.SubmitRequest{Node: "node1", WorkType: "sleep", Params: params("300")})
	if err != nil {
		t.Fatal(err)
	}
	if st := status(t, m, sub.UnitID()); st.StateName != "Pending" || st.Detail != "Waiting for Input Data" {
		t.Errorf("submitted unit: %+v", st)
	}
	if _, err := m.Cancel(t.Context(), sub.UnitID(), work.Auth{Trusted: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Run(t.Context(), strings.NewReader("")); err == nil {
		t.Fatal("a canceled unit started")
	}
	if st := status(t, m, sub.UnitID()); st.StateName != "Canceled" || st.ExtraData != nil {
		t.Errorf("after cancel and run: %+v", st)
	}
}

func TestRelease(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, work.Config{DataDir: dir})
	id := mustSubmit(t, m, work.SubmitRequest{WorkType: "cat"}, "data")
	waitState(t, m, id, work.Succeeded)
	if pending, err := m.Release(t.Context(), id, false, work.Auth{Trusted: true}); err != nil || pending {
		t.Fatalf("release: pending %v, %v", pending, err)
	}
	if _, err := os.Stat(unitDir(dir, id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unit directory after release: %v", err)
	}
	if _, err := m.Status(id); !errors.Is(err, work.ErrUnknownUnit) {
		t.Errorf("status after release: %v", err)
	}
	if _, err := m.Release(t.Context(), id, false, work.Auth{Trusted: true}); !errors.Is(err, work.ErrUnknownUnit) {
		t.Errorf("second release: %v", err)
	}

	// A running unit: refused without force, and left running.
	run := mustSubmit(t, m, work.SubmitRequest{WorkType: "sleep", Params: params("300")}, "")
	waitState(t, m, run, work.Running)
	pid := commandPid(t, m, run)
	killGroupAtEnd(t, pid)
	_, err := m.Release(t.Context(), run, false, work.Auth{Trusted: true})
	if err == nil || !strings.Contains(err.Error(), "force-release") {
		t.Fatalf("release of a running unit: %v, want a refusal naming force-release", err)
	}
	if st := status(t, m, run); st.StateName != "Running" || groupGone(pid) {
		t.Errorf("a refused release changed the unit: %+v", st)
	}

	// A results stream open on it ends when it is released.
	done := make(chan error, 1)
	go func() {
		done <- m.Results(t.Context(), run, 0, work.Auth{Trusted: true}, func() error { return nil }, io.Discard)
	}()
	if _, err := m.Release(t.Context(), run, true, work.Auth{Trusted: true}); err != nil {
		t.Fatalf("force-release: %v", err)
	}
	waitFor(t, "the process group to be gone", func() bool { return groupGone(pid) })
	if _, err := os.Stat(unitDir(dir, run)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unit directory after force-release: %v", err)
	}
	if _, err := m.Status(run); !errors.Is(err, work.ErrUnknownUnit) {
		t.Errorf("status after force-release: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("results during the release: %v", err)
	}

	// A canceled unit is released without force.
	can := mustSubmit(t, m, work.SubmitRequest{WorkType: "sleep", Params: params("300")}, "")
	waitState(t, m, can, work.Running)
	killGroupAtEnd(t, commandPid(t, m, can))
	if _, err := m.Cancel(t.Context(), can, work.Auth{Trusted: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Release(t.Context(), can, false, work.Auth{Trusted: true}); err != nil {
		t.Errorf("release of a canceled unit: %v", err)
	}
}

func TestMaxPayload(t *testing.T) {
	m := newManager(t, work.Config{MaxPayload: 10})
	id := mustSubmit(t, m, work.SubmitRequest{WorkType: "cat"}, "0123456789")
	waitState(t, m, id, work.Succeeded)

	id, _, err := submit(t, m, work.SubmitRequest{WorkType: "cat"}, strings.NewReader("0123456789A"))
	if err == nil || !strings.Contains(err.Error(), "larger than the limit of 10 bytes") {
		t.Fatalf("an 11-byte payload: %v", err)
	}
	st := status(t, m, id)
	if st.StateName != "Failed" || !strings.HasPrefix(st.Detail, "Error reading input data: payload is larger") {
		t.Errorf("status %+v, want Failed, Error reading input data", st)
	}
	if got := results(t, m, id, 0); got != "" {
		t.Errorf("results %q", got)
	}
}

// failingReader returns its data, then err.
type failingReader struct {
	data string
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestPayloadReadError(t *testing.T) {
	m := newManager(t, work.Config{})
	id, _, err := submit(t, m, work.SubmitRequest{WorkType: "cat"}, &failingReader{"some", errors.New("connection reset")})
	if err == nil {
		t.Fatal("a broken payload started the unit")
	}
	st := status(t, m, id)
	if st.StateName != "Failed" || st.Detail != "Error reading input data: connection reset" {
		t.Errorf("status %+v, want Failed, Error reading input data: connection reset", st)
	}
	// It can be released like any finished unit.
	if _, err := m.Release(t.Context(), id, false, work.Auth{Trusted: true}); err != nil {
		t.Errorf("release: %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := work.New(work.Config{DataDir: t.TempDir()}); err == nil {
		t.Error("New without a node ID succeeded")
	}
	_, err := work.New(work.Config{NodeID: "n", DataDir: t.TempDir(), Types: []work.CommandType{{WorkType: "remote", Command: "cat"}}})
	if err == nil || !strings.Contains(err.Error(), `"remote" is reserved`) {
		t.Errorf("New with a work type named remote: %v", err)
	}
}

// TestRunnerServesUnitsInTurn: one runner serves unit after unit (so a
// unit does not wait for a process to start), each command in a process
// group of its own and without the runner's socket.
func TestRunnerServesUnitsInTurn(t *testing.T) {
	m := newManager(t, work.Config{})
	// $PPID: the runner; field 5 of stat: the process group; fd 3: where
	// the runner's socket would be.
	probe := params(`-c 'read -r _ _ _ _ pgid _ < /proc/$$/stat; [ -e /proc/$$/fd/3 ] && fd=leaked || fd=clean; echo $PPID $$ $pgid $fd'`)
	var runners []string
	for range 4 {
		id := mustSubmit(t, m, work.SubmitRequest{WorkType: "bash", Params: probe}, "")
		waitState(t, m, id, work.Succeeded)
		f := strings.Fields(results(t, m, id, 0))
		if len(f) != 4 {
			t.Fatalf("probe printed %q", f)
		}
		if f[1] != f[2] {
			t.Errorf("command %s runs in process group %s, want its own", f[1], f[2])
		}
		if f[3] != "clean" {
			t.Errorf("the command inherited the runner's socket as fd 3")
		}
		runners = append(runners, f[0])
		if _, err := m.Release(t.Context(), id, false, work.Auth{Trusted: true}); err != nil {
			t.Fatal(err)
		}
	}
	// The first units may race the runner the Manager starts when it
	// starts (then one of the two is let go); from then on one runner
	// serves them all.
	distinct := map[string]bool{}
	for _, r := range runners {
		distinct[r] = true
	}
	if len(distinct) > 2 || runners[2] != runners[3] {
		t.Errorf("units in turn ran under runners %v, want one runner for them all (two at first)", runners)
	}
}

// TestRunnersKeptForBursts: the runners of units that ran at once are
// kept for the next burst (up to a bound), so it starts none.
func TestRunnersKeptForBursts(t *testing.T) {
	m := newManager(t, work.Config{})
	gate := filepath.Join(t.TempDir(), "gate")
	gated := params(`-c 'while [ ! -e ` + gate + ` ]; do sleep 0.01; done'`)
	burst := func() map[int]bool {
		var ids []string
		runners := map[int]bool{}
		for range 3 {
			ids = append(ids, mustSubmit(t, m, work.SubmitRequest{WorkType: "bash", Params: gated}, ""))
		}
		for _, id := range ids {
			runners[runnerOf(t, commandPid(t, m, id))] = true
		}
		if err := os.WriteFile(gate, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			waitState(t, m, id, work.Succeeded)
			if _, err := m.Release(t.Context(), id, false, work.Auth{Trusted: true}); err != nil {
				t.Fatal(err)
			}
		}
		os.Remove(gate)
		return runners
	}
	// The first burst may race the runner the Manager starts when it
	// starts, which can leave a fourth one idle beneath the others.
	burst()
	second, third := burst(), burst()
	if len(second) != 3 || !maps.Equal(second, third) {
		t.Errorf("runners of two bursts of 3 units: %v then %v; want the same 3", second, third)
	}
}
