package work

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
)

// unit is one work unit. Its status lives in memory and in its status
// file; while a runner lives, the runner owns the file and the in-memory
// status is refreshed from it on every read.
type unit struct {
	m   *Manager
	id  string
	dir string

	mu       sync.Mutex
	st       Status
	changed  chan struct{} // closed and replaced whenever st changes
	gone     chan struct{} // closed when the unit is released
	isGone   bool
	canceled bool // a cancel was asked for: the end is Canceled whatever the runner says

	runner *runnerProc  // the live runner of a command unit, nil otherwise
	remote *remoteState // non-nil for remote units
}

func newUnit(m *Manager, id string, st Status) *unit {
	return &unit{
		m: m, id: id, dir: filepath.Join(m.dir, id), st: st,
		changed: make(chan struct{}), gone: make(chan struct{}),
	}
}

func (u *unit) path(name string) string { return filepath.Join(u.dir, name) }

// notifyLocked wakes everyone waiting for a change. u.mu must be held.
func (u *unit) notifyLocked() {
	close(u.changed)
	u.changed = make(chan struct{})
}

// update applies f to the status, saves it and wakes waiters. A failed
// save is logged: the in-memory status stays right for this run.
func (u *unit) update(f func(*Status)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.updateLocked(f)
}

func (u *unit) updateLocked(f func(*Status)) {
	f(&u.st)
	if !u.isGone {
		if err := writeStatus(u.dir, u.st); err != nil {
			u.m.log.Error("work unit: could not save status", "unit", u.id, "err", err)
		}
	}
	u.notifyLocked()
}

// snapshot returns the current status and the channel that is closed at
// its next change. For a live runner it reads what the runner wrote and
// the output's current size.
func (u *unit) snapshot() (Status, <-chan struct{}) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.runner != nil {
		u.refreshFromRunnerLocked()
	}
	return u.st, u.changed
}

// refreshFromRunnerLocked copies the runner's view of a live unit.
func (u *unit) refreshFromRunnerLocked() {
	raw, err := readStatus(u.dir)
	if err == nil && !raw.State.Final() && !u.canceled {
		u.st.State, u.st.Detail = raw.State, raw.Detail
		var extra CommandExtra
		if json.Unmarshal(raw.ExtraData, &extra) == nil && extra.Pid != 0 {
			u.st.ExtraData = extra
		}
	}
	u.st.StdoutSize = fileSize(u.path(stdoutFile))
}

// reply is the status as the control service shows it.
func (u *unit) reply() StatusReply {
	st, _ := u.snapshot()
	extra := st.ExtraData
	if rx, ok := extra.(RemoteExtra); ok {
		extra = rx.public()
	}
	return StatusReply{
		Detail: st.Detail, ExtraData: extra, State: int(st.State), StateName: st.State.String(),
		StdoutSize: st.StdoutSize, WorkType: st.WorkType,
	}
}

func (u *unit) markGone() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.isGone {
		u.isGone = true
		close(u.gone)
		u.notifyLocked()
	}
}

// isSecretParam reports params receptor never shows: secret_*, any case.
func isSecretParam(k string) bool { return strings.HasPrefix(strings.ToLower(k), "secret_") }
