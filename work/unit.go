package work

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"time"
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
	saved    bool // the status file exists
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
	u.saveLocked()
	u.notifyLocked()
}

func (u *unit) saveLocked() {
	if u.isGone {
		return
	}
	if err := writeStatus(u.dir, u.st); err != nil {
		u.m.log.Error("work unit: could not save status", "unit", u.id, "err", err)
		return
	}
	u.saved = true
}

// unsavedFor is how long a new unit waiting for its payload goes without a
// status file. Most payloads have arrived by then, and the unit's next
// status is the first written: on a journaling file system every status
// file costs a fraction of a millisecond of submit latency. A unit whose
// node dies meanwhile has no status file, and the node removes it at its
// next start: that submit never completed.
const unsavedFor = 50 * time.Millisecond

// saveLater writes a new unit's status once it has waited unsavedFor,
// unless a status has been written by then.
func (u *unit) saveLater() {
	time.AfterFunc(unsavedFor, u.saveIfUnsaved)
}

func (u *unit) saveIfUnsaved() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.saved {
		u.saveLocked()
	}
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
	// The file may still say Pending when the runner has reported Running
	// (see commandRunning): never step back.
	if err == nil && !raw.State.Final() && !u.canceled && raw.State >= u.st.State {
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
