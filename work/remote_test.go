package work_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meshd/work"
)

// remoteTypes are the work types of the executing node.
var remoteTypes = append([]work.CommandType{
	{WorkType: "big", Command: "head", Params: "-c 20000000 /dev/urandom"},
	{WorkType: "signed", Command: "cat", AllowRuntimeParams: true, VerifySignature: true},
}, testTypes...)

// pair is a submitting node (node1) and an executing node (exec) joined by
// a fakeNet.
type pair struct {
	net               *fakeNet
	local, exec       *work.Manager
	localDir, execDir string
}

// newPair starts both nodes. Cleanups run in reverse: the submitting node
// stops first, then exec's control service, then exec.
func newPair(t *testing.T, localCfg, execCfg work.Config) *pair {
	p := &pair{net: newFakeNet(), localDir: t.TempDir(), execDir: t.TempDir()}
	execCfg.NodeID, execCfg.DataDir = "exec", p.execDir
	if execCfg.Types == nil {
		execCfg.Types = remoteTypes
	}
	p.exec = newManager(t, execCfg)
	p.net.addNode(t, "exec", p.exec)
	localCfg.DataDir, localCfg.Dialer = p.localDir, p.net
	p.local = newManager(t, localCfg)
	return p
}

// restartLocal closes the submitting node and starts it again.
func (p *pair) restartLocal(t *testing.T, cfg work.Config) {
	p.local.Close()
	cfg.DataDir, cfg.Dialer = p.localDir, p.net
	p.local = newManager(t, cfg)
}

// remoteExtra is a remote unit's ExtraData.
func remoteExtra(t *testing.T, m *work.Manager, id string) work.RemoteExtra {
	t.Helper()
	x, ok := status(t, m, id).ExtraData.(work.RemoteExtra)
	if !ok {
		t.Fatalf("unit %s: ExtraData %#v is not a remote unit's", id, status(t, m, id).ExtraData)
	}
	return x
}

// execID waits until the remote unit is started and returns the ID of the
// unit on the executing node.
func execID(t *testing.T, m *work.Manager, id string) string {
	t.Helper()
	waitFor(t, "the remote unit to start", func() bool { return remoteExtra(t, m, id).RemoteStarted })
	return remoteExtra(t, m, id).RemoteUnitID
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestRemoteSubmit(t *testing.T) {
	p := newPair(t, work.Config{}, work.Config{})
	id := mustSubmit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "args", Params: params(`x 'y z'`)}, "")
	st := waitState(t, p.local, id, work.Succeeded)
	want := "[x]\n[y z]\n"
	if st.Detail != "exit status 0" || st.StdoutSize != int64(len(want)) || st.WorkType != "remote" {
		t.Errorf("local status %+v", st)
	}
	if got := results(t, p.local, id, 0); got != want {
		t.Errorf("results %q, want %q", got, want)
	}
	if got := results(t, p.local, id, 4); got != want[4:] {
		t.Errorf("results from 4: %q", got)
	}

	// What AWX reads in ExtraData, and the remote unit it names.
	x := remoteExtra(t, p.local, id)
	if x.RemoteNode != "exec" || x.RemoteWorkType != "args" || x.RemoteParams["params"] != `x 'y z'` ||
		len(x.RemoteParams) != 1 || !x.RemoteStarted || x.RemoteUnitID == "" {
		t.Errorf("ExtraData %+v", x)
	}
	b, _ := json.Marshal(status(t, p.local, id))
	for _, key := range []string{`"Detail":"exit status 0"`, `"RemoteNode":"exec"`, `"RemoteWorkType":"args"`,
		`"RemoteParams":{"params":"x 'y z'"}`, `"RemoteUnitID":"` + x.RemoteUnitID + `"`, `"RemoteStarted":true`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("status JSON %s lacks %s", b, key)
		}
	}
	est := status(t, p.exec, x.RemoteUnitID)
	if est.StateName != "Succeeded" || est.WorkType != "args" || est.StdoutSize != st.StdoutSize {
		t.Errorf("executing node's unit: %+v", est)
	}

	// A payload reaches the remote command.
	cat := mustSubmit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "cat", Params: map[string]string{}}, "payload\n")
	waitState(t, p.local, cat, work.Succeeded)
	if got := results(t, p.local, cat, 0); got != "payload\n" {
		t.Errorf("cat results %q", got)
	}

	// Release reaches the executing node: both units are gone.
	if pending, err := p.local.Release(t.Context(), id, false, work.Auth{Trusted: true}); err != nil || pending {
		t.Fatalf("release: pending %v, %v", pending, err)
	}
	if _, err := p.local.Status(id); !errors.Is(err, work.ErrUnknownUnit) {
		t.Errorf("local unit after release: %v", err)
	}
	if _, err := p.exec.Status(x.RemoteUnitID); !errors.Is(err, work.ErrUnknownUnit) {
		t.Errorf("remote unit after release: %v", err)
	}
	if _, err := os.Stat(filepath.Join(p.localDir, "node1", id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("local unit directory after release: %v", err)
	}
}

func TestRemoteFailures(t *testing.T) {
	p := newPair(t, work.Config{}, work.Config{})
	// A failing command: its exit status is mirrored.
	id := mustSubmit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "bash", Params: params(`-c "echo no; exit 3"`)}, "")
	st := waitState(t, p.local, id, work.Failed)
	if st.Detail != "exit status 3" || results(t, p.local, id, 0) != "no\n" {
		t.Errorf("status %+v", st)
	}
	// The executing node refuses: the unit fails at once.
	id, _, err := submit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "nope"}, nil)
	if err == nil || !strings.Contains(err.Error(), "unknown work type nope") {
		t.Fatalf("submit of an unknown remote work type: %v", err)
	}
	if st := status(t, p.local, id); st.StateName != "Failed" || st.Detail != "Error starting worker: unknown work type nope" {
		t.Errorf("status %+v", st)
	}
	id, _, err = submit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "cat", Params: params("x")}, nil)
	if err == nil || !strings.Contains(err.Error(), "extra params provided but not allowed") {
		t.Fatalf("runtime params refused remotely: %v", err)
	}
	results(t, p.local, id, 0) // ends on the Failed unit

	// Refused before anything is created.
	for _, tc := range []struct {
		req  work.SubmitRequest
		want string
	}{
		{work.SubmitRequest{Node: "exec", WorkType: "cat", Params: map[string]string{"Secret_key": "x"}}, "cannot send secrets over a non-TLS connection"},
		{work.SubmitRequest{Node: "exec", WorkType: "cat", TLSClient: "tls1"}, "unknown TLS config tls1"},
		{work.SubmitRequest{Node: "exec", WorkType: "cat", TTL: "soon"}, "invalid duration"},
		{work.SubmitRequest{Node: "exec", WorkType: "cat", SignWork: true}, "cannot sign work: signing key is empty"},
	} {
		if id, _, err := submit(t, p.local, tc.req, nil); err == nil || !strings.Contains(err.Error(), tc.want) || id != "" {
			t.Errorf("submit %+v: unit %q, %v, want %q", tc.req, id, err, tc.want)
		}
	}
}

func TestRemoteCancel(t *testing.T) {
	p := newPair(t, work.Config{}, work.Config{CancelGrace: 2 * time.Second})
	id := mustSubmit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "sleep", Params: params("300")}, "")
	rid := execID(t, p.local, id)
	waitState(t, p.exec, rid, work.Running)
	pid := commandPid(t, p.exec, rid)
	killGroupAtEnd(t, pid)

	done := make(chan error, 1)
	go func() {
		done <- p.local.Results(t.Context(), id, 0, work.Auth{Trusted: true}, func() error { return nil }, io.Discard)
	}()
	// Not final and not canceled: release needs force.
	if _, err := p.local.Release(t.Context(), id, false, work.Auth{Trusted: true}); err == nil {
		t.Fatal("release of a running remote unit without force succeeded")
	}
	if pending, err := p.local.Cancel(t.Context(), id, work.Auth{Trusted: true}); err != nil || pending {
		t.Fatalf("cancel: pending %v, %v", pending, err)
	}
	if st := status(t, p.local, id); st.StateName != "Canceled" || !remoteExtra(t, p.local, id).LocalCancelled {
		t.Errorf("local unit after cancel: %+v", st)
	}
	waitState(t, p.exec, rid, work.Canceled)
	waitFor(t, "the remote command to die", func() bool { return groupGone(pid) })
	if err := <-done; err != nil {
		t.Errorf("results during the cancel: %v", err)
	}
	results(t, p.local, id, 0) // a new stream ends too

	if _, err := p.local.Release(t.Context(), id, false, work.Auth{Trusted: true}); err != nil {
		t.Fatalf("release after cancel: %v", err)
	}
	if _, err := p.exec.Status(rid); !errors.Is(err, work.ErrUnknownUnit) {
		t.Errorf("remote unit after release: %v", err)
	}

	// force-release of a running unit ends and removes the remote one.
	id = mustSubmit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "sleep", Params: params("300")}, "")
	rid = execID(t, p.local, id)
	waitState(t, p.exec, rid, work.Running)
	pid = commandPid(t, p.exec, rid)
	killGroupAtEnd(t, pid)
	if pending, err := p.local.Release(t.Context(), id, true, work.Auth{Trusted: true}); err != nil || pending {
		t.Fatalf("force-release: pending %v, %v", pending, err)
	}
	if _, err := p.exec.Status(rid); !errors.Is(err, work.ErrUnknownUnit) {
		t.Errorf("remote unit after force-release: %v", err)
	}
	waitFor(t, "the remote command to die", func() bool { return groupGone(pid) })
}

// The local copy of a canceled remote unit may lack output the executing
// node has; nothing more will come, and results must still end.
func TestRemoteCancelWithOutputMissing(t *testing.T) {
	p := newPair(t, work.Config{}, work.Config{})
	p.net.setDropResults(true) // statuses get through, output does not
	id := mustSubmit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "bash", Params: params(`-c "echo output; exec sleep 300"`)}, "")
	rid := execID(t, p.local, id)
	killGroupAtEnd(t, commandPid(t, p.exec, rid))
	waitFor(t, "the remote output size to be mirrored", func() bool { return status(t, p.local, id).StdoutSize > 0 })
	if _, err := p.local.Cancel(t.Context(), id, work.Auth{Trusted: true}); err != nil {
		t.Fatal(err)
	}
	results(t, p.local, id, 0) // fails the test if it does not end

	// Same for a remote unit that disappears (released on its node).
	id = mustSubmit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "bash", Params: params(`-c "echo output; exec sleep 300"`)}, "")
	rid = execID(t, p.local, id)
	killGroupAtEnd(t, commandPid(t, p.exec, rid))
	waitFor(t, "the remote output size to be mirrored", func() bool { return status(t, p.local, id).StdoutSize > 0 })
	if _, err := p.exec.Release(t.Context(), rid, true, work.Auth{Trusted: true}); err != nil {
		t.Fatal(err)
	}
	st := waitState(t, p.local, id, work.Failed)
	if st.Detail != "Remote work unit is gone" {
		t.Errorf("status %+v", st)
	}
	results(t, p.local, id, 0)
}

func TestRemoteUnreachableThenBack(t *testing.T) {
	p := newPair(t, work.Config{}, work.Config{})
	p.net.cut()
	id, result, err := submit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "cat"}, strings.NewReader("late\n"))
	if err != nil || result != "Job Submitted" {
		t.Fatalf("submit to an unreachable node: %q, %v; want Job Submitted", result, err)
	}
	if st := status(t, p.local, id); st.StateName != "Pending" || remoteExtra(t, p.local, id).RemoteStarted {
		t.Errorf("status %+v, want Pending, not started", st)
	}
	waitFor(t, "a retry", func() bool { return p.net.refusedDials() >= 2 })
	p.net.restore()
	waitState(t, p.local, id, work.Succeeded)
	if got := results(t, p.local, id, 0); got != "late\n" {
		t.Errorf("results %q", got)
	}
}

func TestRemoteTTLExpires(t *testing.T) {
	p := newPair(t, work.Config{}, work.Config{})
	p.net.cut()
	id, result, err := submit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "cat", TTL: "1s"}, nil)
	if err != nil || result != "Job Submitted" {
		t.Fatalf("submit: %q, %v", result, err)
	}
	if x := remoteExtra(t, p.local, id); x.Expiration.IsZero() {
		t.Errorf("ExtraData %+v has no Expiration", x)
	}
	st := waitState(t, p.local, id, work.Failed)
	if !strings.HasPrefix(st.Detail, "Work unit expired on ") {
		t.Errorf("status %+v, want expired", st)
	}
	results(t, p.local, id, 0)
	p.net.restore()
	if list, _ := p.exec.List(""); len(list) != 0 {
		t.Errorf("an expired unit reached the executing node: %v", list)
	}
}

// Cancel and release of a remote unit whose node cannot be reached are
// pending until it can; force-release deletes the local unit at once.
func TestRemoteUnreachableCancelRelease(t *testing.T) {
	p := newPair(t, work.Config{}, work.Config{CancelGrace: 2 * time.Second})
	start := func() (id, rid string) {
		id = mustSubmit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "sleep", Params: params("300")}, "")
		rid = execID(t, p.local, id)
		waitState(t, p.exec, rid, work.Running)
		killGroupAtEnd(t, commandPid(t, p.exec, rid))
		return id, rid
	}
	canceled, canceledR := start()
	released, releasedR := start()
	forced, forcedR := start()
	finished := mustSubmit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "echo"}, "")
	waitState(t, p.local, finished, work.Succeeded)
	finishedR := remoteExtra(t, p.local, finished).RemoteUnitID

	p.net.cut()
	if pending, err := p.local.Cancel(t.Context(), canceled, work.Auth{Trusted: true}); err != nil || !pending {
		t.Errorf("cancel while unreachable: pending %v, %v; want pending", pending, err)
	}
	if st := status(t, p.local, canceled); st.StateName != "Canceled" {
		t.Errorf("canceled unit: %+v", st)
	}
	// Canceled while unreachable, then released: both wait.
	if pending, err := p.local.Cancel(t.Context(), released, work.Auth{Trusted: true}); err != nil || !pending {
		t.Errorf("cancel while unreachable: pending %v, %v; want pending", pending, err)
	}
	if pending, err := p.local.Release(t.Context(), released, false, work.Auth{Trusted: true}); err != nil || !pending {
		t.Errorf("release of a canceled unit while unreachable: pending %v, %v; want pending", pending, err)
	}
	if _, err := p.local.Release(t.Context(), forced, false, work.Auth{Trusted: true}); err == nil {
		t.Error("release of a running unit without force succeeded")
	}
	if pending, err := p.local.Release(t.Context(), forced, true, work.Auth{Trusted: true}); err != nil || pending {
		t.Errorf("force-release while unreachable: pending %v, %v", pending, err)
	}
	if _, err := p.local.Status(forced); !errors.Is(err, work.ErrUnknownUnit) {
		t.Errorf("force-released unit: %v", err)
	}
	if pending, err := p.local.Release(t.Context(), finished, false, work.Auth{Trusted: true}); err != nil || !pending {
		t.Errorf("release while unreachable: pending %v, %v; want pending", pending, err)
	}
	if _, err := p.local.Status(finished); err != nil {
		t.Errorf("a pending release removed the unit: %v", err)
	}

	p.net.restore()
	waitState(t, p.exec, canceledR, work.Canceled)
	for local, remote := range map[string]string{finished: finishedR, released: releasedR} {
		waitFor(t, "the pending release", func() bool {
			_, lerr := p.local.Status(local)
			_, rerr := p.exec.Status(remote)
			return errors.Is(lerr, work.ErrUnknownUnit) && errors.Is(rerr, work.ErrUnknownUnit)
		})
	}
	// The force-released unit's remote unit was never told.
	if st := status(t, p.exec, forcedR); st.StateName != "Running" {
		t.Errorf("remote unit of the force-released one: %+v", st)
	}
	if _, err := p.exec.Cancel(t.Context(), forcedR, work.Auth{Trusted: true}); err != nil {
		t.Error(err)
	}
}

// A large output streams back exactly, although the path breaks several
// times while it streams.
func TestRemoteResultsResume(t *testing.T) {
	p := newPair(t, work.Config{}, work.Config{})
	p.net.cutAfter(1 << 20)
	id := mustSubmit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "big"}, "")

	// A reader of the local unit follows it through the cuts.
	h := sha256.New()
	done := make(chan error, 1)
	go func() {
		done <- p.local.Results(context.Background(), id, 0, work.Auth{Trusted: true}, func() error { return nil }, h)
	}()
	for i, next := range []int64{3 << 20, 5 << 20, 0} {
		select {
		case <-p.net.cuts:
		case err := <-done:
			t.Fatalf("results ended (%v) before cut %d", err, i+1)
		}
		refused := p.net.refusedDials()
		waitFor(t, "a dial while the path is cut", func() bool { return p.net.refusedDials() > refused })
		if next > 0 {
			p.net.cutAfter(next)
		}
		p.net.restore()
	}
	if err := <-done; err != nil {
		t.Fatalf("results: %v", err)
	}
	st := waitState(t, p.local, id, work.Succeeded)
	rid := remoteExtra(t, p.local, id).RemoteUnitID
	remote := sha256.New()
	if err := p.exec.Results(t.Context(), rid, 0, work.Auth{Trusted: true}, func() error { return nil }, remote); err != nil {
		t.Fatal(err)
	}
	if st.StdoutSize != 20000000 {
		t.Errorf("StdoutSize %d, want 20000000", st.StdoutSize)
	}
	if got, want := hex.EncodeToString(h.Sum(nil)), hex.EncodeToString(remote.Sum(nil)); got != want {
		t.Errorf("streamed output sha256 %s, remote output %s", got, want)
	}
	local, err := os.ReadFile(filepath.Join(p.localDir, "node1", id, "stdout"))
	if err != nil || sha(string(local)) != hex.EncodeToString(remote.Sum(nil)) {
		t.Errorf("local copy (%d bytes, %v) differs from the remote output", len(local), err)
	}
}

// A restarted submitting node goes on mirroring its remote units.
func TestRemoteRestartSubmittingNode(t *testing.T) {
	p := newPair(t, work.Config{}, work.Config{})
	pipe := fifo(t)
	id := mustSubmit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "catfile", Params: params(pipe)}, "")
	w, err := os.OpenFile(pipe, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	io.WriteString(w, "one\n")
	waitFor(t, "the first line here", func() bool { return currentOutput(p.local, id) == "one\n" })

	p.restartLocal(t, work.Config{})
	io.WriteString(w, "two\n")
	w.Close()
	waitState(t, p.local, id, work.Succeeded)
	if got := results(t, p.local, id, 0); got != "one\ntwo\n" {
		t.Errorf("results after restart %q", got)
	}
	if x := remoteExtra(t, p.local, id); x.RemoteNode != "exec" || !x.RemoteStarted {
		t.Errorf("ExtraData after restart %+v", x)
	}
}

// currentOutput is the output a unit has now, without following it.
func currentOutput(m *work.Manager, id string) string {
	var b strings.Builder
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no following: what is there
	m.Results(ctx, id, 0, work.Auth{Trusted: true}, func() error { return nil }, &b)
	return b.String()
}

// A cancel or release that comes while the remote unit is being started
// reaches it once it has started.
func TestRemoteCancelWhileStarting(t *testing.T) {
	for _, release := range []bool{false, true} {
		p := newPair(t, work.Config{}, work.Config{})
		held, unhold := p.net.holdSubmits()
		t.Cleanup(unhold) // if the test fails before it does
		done := make(chan error, 1)
		go func() {
			_, _, err := submit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "sleep", Params: params("300")}, nil)
			done <- err
		}()
		<-held
		list, _ := p.local.List("")
		if len(list) != 1 {
			t.Fatalf("list while starting: %v", list)
		}
		var id string
		for k := range list {
			id = k
		}
		if pending, err := p.local.Cancel(t.Context(), id, work.Auth{Trusted: true}); err != nil || pending {
			t.Fatalf("cancel while starting: pending %v, %v", pending, err)
		}
		if release {
			if _, err := p.local.Release(t.Context(), id, false, work.Auth{Trusted: true}); err != nil {
				t.Fatalf("release while starting: %v", err)
			}
		}
		unhold()
		if err := <-done; err != nil {
			t.Fatalf("submit: %v", err)
		}
		t.Cleanup(func() { cancelAll(p.exec) })
		waitFor(t, "the remote unit to be canceled or released", func() bool {
			list, _ := p.exec.List("")
			if release {
				return len(list) == 0
			}
			for _, st := range list {
				return len(list) == 1 && st.StateName == "Canceled"
			}
			return false
		})
		if !release {
			if st := status(t, p.local, id); st.StateName != "Canceled" {
				t.Errorf("local unit: %+v", st)
			}
		}
	}
}

// cancelAll cancels every unit of m, so that no command outlives the test.
func cancelAll(m *work.Manager) {
	list, _ := m.List("")
	for id := range list {
		m.Cancel(context.Background(), id, work.Auth{Trusted: true})
	}
}
