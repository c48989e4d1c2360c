package work_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"meshd/work"
)

// Tests wait for conditions, polling at pollEvery, and give up after
// waitLimit: long enough for a loaded machine under -race, never a
// timing assertion.
const (
	pollEvery = 5 * time.Millisecond
	waitLimit = 30 * time.Second
)

var quietLog = slog.New(slog.DiscardHandler)

// testTypes are the work types of a test node.
var testTypes = []work.CommandType{
	{WorkType: "cat", Command: "cat"},
	{WorkType: "echo", Command: "echo", Params: "base"},
	{WorkType: "args", Command: "printf", Params: `"[%s]\n"`, AllowRuntimeParams: true},
	{WorkType: "bash", Command: "bash", AllowRuntimeParams: true},
	{WorkType: "sleep", Command: "sleep", AllowRuntimeParams: true},
	{WorkType: "catfile", Command: "cat", AllowRuntimeParams: true},
}

// newManager starts a Manager for node id on dir, closed at the end of the
// test.
func newManager(t *testing.T, cfg work.Config) *work.Manager {
	t.Helper()
	if cfg.NodeID == "" {
		cfg.NodeID = "node1"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Types == nil {
		cfg.Types = testTypes
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLog
	}
	if cfg.CancelGrace == 0 {
		cfg.CancelGrace = 2 * time.Second
	}
	m, err := work.New(cfg)
	if err != nil {
		t.Fatalf("work.New: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

// submit submits req with payload and runs it; it returns the unit ID ("" if
// Submit failed), Run's result and the error of whichever failed.
func submit(t *testing.T, m *work.Manager, req work.SubmitRequest, payload io.Reader) (id, result string, err error) {
	t.Helper()
	if req.Node == "" {
		req.Node = m.NodeID()
	}
	sub, err := m.Submit(req)
	if err != nil {
		return "", "", err
	}
	if payload == nil {
		payload = strings.NewReader("")
	}
	result, err = sub.Run(context.Background(), payload)
	return sub.UnitID(), result, err
}

// mustSubmit submits and expects "Job Started".
func mustSubmit(t *testing.T, m *work.Manager, req work.SubmitRequest, payload string) string {
	t.Helper()
	id, result, err := submit(t, m, req, strings.NewReader(payload))
	if err != nil {
		t.Fatalf("submit %s %q: %v", req.WorkType, req.Params, err)
	}
	if result != "Job Started" {
		t.Fatalf("submit %s: result %q, want Job Started", req.WorkType, result)
	}
	return id
}

// params is a submit's Params holding runtime params p.
func params(p string) map[string]string { return map[string]string{"params": p} }

// waitFor polls cond until it holds, or fails the test after waitLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(pollEvery)
	}
}

// status returns a unit's status or fails the test.
func status(t *testing.T, m *work.Manager, id string) work.StatusReply {
	t.Helper()
	st, err := m.Status(id)
	if err != nil {
		t.Fatalf("status %s: %v", id, err)
	}
	return st
}

// waitState waits until unit id is in state want and returns its status.
func waitState(t *testing.T, m *work.Manager, id string, want work.State) work.StatusReply {
	t.Helper()
	var st work.StatusReply
	waitFor(t, "unit "+id+" to be "+want.String(), func() bool {
		st = status(t, m, id)
		if work.State(st.State).Final() && work.State(st.State) != want {
			t.Fatalf("unit %s ended %s (%q), want %v", id, st.StateName, st.Detail, want)
		}
		return work.State(st.State) == want
	})
	return st
}

// results reads a unit's output from startpos to its end.
func results(t *testing.T, m *work.Manager, id string, startpos int64) string {
	t.Helper()
	var buf bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := m.Results(ctx, id, startpos, work.Auth{Trusted: true}, func() error { return nil }, &buf); err != nil {
		t.Fatalf("results %s from %d: %v", id, startpos, err)
	}
	return buf.String()
}

// commandPid waits for a unit's command to run and returns its PID, which
// is also its process group.
func commandPid(t *testing.T, m *work.Manager, id string) int {
	t.Helper()
	var pid int
	waitFor(t, "unit "+id+" to report its command's PID", func() bool {
		extra, ok := status(t, m, id).ExtraData.(work.CommandExtra)
		pid = extra.Pid
		return ok && pid > 0
	})
	return pid
}

// runnerOf returns the parent of process pid: for a command, its runner.
func runnerOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	return ppid
}

// groupGone reports whether process group pgid has no process left.
func groupGone(pgid int) bool {
	return errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}

// killGroupAtEnd makes sure a process group started by a test does not
// outlive it.
func killGroupAtEnd(t *testing.T, pgid int) {
	t.Cleanup(func() {
		syscall.Kill(-pgid, syscall.SIGKILL)
		deadline := time.Now().Add(waitLimit)
		for !groupGone(pgid) && time.Now().Before(deadline) {
			time.Sleep(pollEvery)
		}
	})
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
