package work_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"meshd/work"
)

// A command keeps running while its node is down, and the restarted node
// adopts it: still Running, and cancel works.
func TestRestartAdoptsRunningCommand(t *testing.T) {
	dir := t.TempDir()
	m1 := newManager(t, work.Config{DataDir: dir})
	id := mustSubmit(t, m1, work.SubmitRequest{WorkType: "sleep", Params: params("300")}, "")
	waitState(t, m1, id, work.Running)
	pid := commandPid(t, m1, id)
	killGroupAtEnd(t, pid)
	m1.Close()

	m2 := newManager(t, work.Config{DataDir: dir})
	// The runner records Running while its command runs: a restart right
	// after the start may find "Launching command runner" for a moment.
	st := waitState(t, m2, id, work.Running)
	if !strings.HasPrefix(st.Detail, "Running: PID ") {
		t.Fatalf("after restart: %+v, want Running", st)
	}
	if got := commandPid(t, m2, id); got != pid {
		t.Errorf("runner PID %d after restart, want %d", got, pid)
	}
	if _, err := m2.Cancel(t.Context(), id, work.Auth{Trusted: true}); err != nil {
		t.Fatalf("cancel after restart: %v", err)
	}
	if st := status(t, m2, id); st.StateName != "Canceled" {
		t.Errorf("after cancel: %+v", st)
	}
	waitFor(t, "the process group to be gone", func() bool { return groupGone(pid) })

	// The Canceled state is what a third run of the node finds.
	m2.Close()
	m3 := newManager(t, work.Config{DataDir: dir})
	if st := status(t, m3, id); st.StateName != "Canceled" {
		t.Errorf("after a second restart: %+v, want Canceled", st)
	}
}

// An adopted command that ends by itself is recorded with its output.
func TestRestartAdoptedCommandEnds(t *testing.T) {
	dir := t.TempDir()
	pipe := fifo(t)
	m1 := newManager(t, work.Config{DataDir: dir})
	id := mustSubmit(t, m1, work.SubmitRequest{WorkType: "catfile", Params: params(pipe)}, "")
	w, err := os.OpenFile(pipe, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	io.WriteString(w, "before restart\n")
	waitFor(t, "the first line", func() bool { return status(t, m1, id).StdoutSize > 0 })
	m1.Close()

	m2 := newManager(t, work.Config{DataDir: dir})
	waitState(t, m2, id, work.Running)
	io.WriteString(w, "after restart\n")
	w.Close()
	st := waitState(t, m2, id, work.Succeeded)
	want := "before restart\nafter restart\n"
	if st.Detail != "exit status 0" || st.StdoutSize != int64(len(want)) {
		t.Errorf("status %+v", st)
	}
	if got := results(t, m2, id, 0); got != want {
		t.Errorf("results %q, want %q", got, want)
	}
}

// A runner that died while the node was down leaves a Failed unit that
// says so.
func TestRestartRunnerDied(t *testing.T) {
	dir := t.TempDir()
	m1 := newManager(t, work.Config{DataDir: dir})
	id := mustSubmit(t, m1, work.SubmitRequest{WorkType: "bash", Params: params(`-c "echo partial; exec sleep 300"`)}, "")
	waitFor(t, "the output", func() bool { return status(t, m1, id).StdoutSize > 0 })
	pid := commandPid(t, m1, id)
	runner := runnerOf(t, pid)
	killGroupAtEnd(t, pid)
	m1.Close()
	// The runner first, so that it records nothing.
	if err := syscall.Kill(runner, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the runner to die", func() bool { return groupGone(runner) })
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the command to die", func() bool { return groupGone(pid) })

	m2 := newManager(t, work.Config{DataDir: dir})
	st := status(t, m2, id)
	if st.StateName != "Failed" || !strings.Contains(st.Detail, "runner died") {
		t.Errorf("status %+v, want Failed saying the runner died", st)
	}
	if got := results(t, m2, id, 0); got != "partial\n" {
		t.Errorf("results %q, want the output written before", got)
	}
	if st.StdoutSize != int64(len("partial\n")) {
		t.Errorf("StdoutSize %d", st.StdoutSize)
	}
}

// Finished units, their state and output survive a restart, including one
// that finished while the node was down.
func TestRestartKeepsFinishedUnits(t *testing.T) {
	dir := t.TempDir()
	pipe := fifo(t)
	m1 := newManager(t, work.Config{DataDir: dir})
	ok := mustSubmit(t, m1, work.SubmitRequest{WorkType: "cat"}, "kept\n")
	failed := mustSubmit(t, m1, work.SubmitRequest{WorkType: "bash", Params: params(`-c "echo bad; exit 2"`)}, "")
	waitState(t, m1, ok, work.Succeeded)
	waitState(t, m1, failed, work.Failed)
	later := mustSubmit(t, m1, work.SubmitRequest{WorkType: "catfile", Params: params(pipe)}, "")
	w, err := os.OpenFile(pipe, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, m1, later, work.Running)
	pid := commandPid(t, m1, later)
	m1.Close()
	io.WriteString(w, "while down\n")
	w.Close()
	waitFor(t, "the runner to end", func() bool { return groupGone(pid) })

	m2 := newManager(t, work.Config{DataDir: dir})
	list, err := m2.List("")
	if err != nil || len(list) != 3 {
		t.Fatalf("list after restart: %+v %v", list, err)
	}
	for id, want := range map[string]struct{ state, detail, out string }{
		ok:     {"Succeeded", "exit status 0", "kept\n"},
		failed: {"Failed", "exit status 2", "bad\n"},
		later:  {"Succeeded", "exit status 0", "while down\n"},
	} {
		st := list[id]
		if st.StateName != want.state || st.Detail != want.detail || st.StdoutSize != int64(len(want.out)) {
			t.Errorf("unit %s after restart: %+v, want %s %q", id, st, want.state, want.detail)
		}
		if got := results(t, m2, id, 0); got != want.out {
			t.Errorf("unit %s results %q, want %q", id, got, want.out)
		}
	}
	if _, err := m2.Release(t.Context(), ok, false, work.Auth{Trusted: true}); err != nil {
		t.Errorf("release after restart: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node1", ok)); !os.IsNotExist(err) {
		t.Errorf("released unit's directory: %v", err)
	}
}

// A unit whose payload never arrived before the node went down is Failed
// at restart; a unit directory without a status file is skipped.
func TestRestartPendingUnit(t *testing.T) {
	dir := t.TempDir()
	m1 := newManager(t, work.Config{DataDir: dir})
	sub, err := m1.Submit(work.SubmitRequest{Node: "node1", WorkType: "cat"})
	if err != nil {
		t.Fatal(err)
	}
	m1.Close()
	if err := os.Mkdir(filepath.Join(dir, "node1", "stray"), 0o700); err != nil {
		t.Fatal(err)
	}
	m2 := newManager(t, work.Config{DataDir: dir})
	if st := status(t, m2, sub.UnitID()); st.StateName != "Failed" || st.Detail != "Pending at restart" {
		t.Errorf("status %+v, want Failed, Pending at restart", st)
	}
	if list, _ := m2.List(""); len(list) != 1 {
		t.Errorf("list %+v, want only the submitted unit", list)
	}
}
