package work

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// scan loads the units a previous run of this node left on disk and
// resumes what they were doing.
func (m *Manager) scan() error {
	entries, err := os.ReadDir(m.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() || !validUnitID(e.Name()) {
			continue
		}
		u, err := m.load(e.Name())
		if errors.Is(err, errNoStatus) {
			// A submit that never completed: its node died while the
			// payload came in (see unsavedFor).
			m.log.Info("work unit: removed an unfinished submit", "unit", e.Name())
			os.RemoveAll(filepath.Join(m.dir, e.Name()))
			continue
		}
		if err != nil {
			m.log.Warn("work unit: skipped at start", "unit", e.Name(), "err", err)
			continue
		}
		m.add(u)
		m.restart(u)
	}
	return nil
}

// load reads one unit directory.
func (m *Manager) load(id string) (*unit, error) {
	u := newUnit(m, id, Status{})
	raw, err := readStatus(u.dir)
	if err != nil {
		return nil, err
	}
	u.st = Status{State: raw.State, Detail: raw.Detail, StdoutSize: raw.StdoutSize, WorkType: raw.WorkType}
	u.saved = true
	switch {
	case raw.WorkType == "remote":
		var x RemoteExtra
		if err := json.Unmarshal(raw.ExtraData, &x); err != nil || x.RemoteNode == "" {
			return nil, errors.New("remote unit without its remote node")
		}
		if x.RemoteParams == nil {
			x.RemoteParams = map[string]string{}
		}
		u.st.ExtraData = x
		u.remote = &remoteState{}
		u.canceled = x.LocalCancelled
	case !m.hasType(raw.WorkType):
		// Kept and listed, like receptor's unknownUnit, until released.
		u.st.ExtraData = "Unknown WorkType"
	default:
		var extra CommandExtra
		if len(raw.ExtraData) > 0 && string(raw.ExtraData) != "null" && json.Unmarshal(raw.ExtraData, &extra) == nil {
			u.st.ExtraData = extra
		}
	}
	return u, nil
}

// restart resumes a loaded unit.
func (m *Manager) restart(u *unit) {
	if u.remote != nil {
		m.restartRemote(u)
		return
	}
	if u.st.State.Final() {
		return
	}
	// A runner is adopted even if its work type is no longer configured:
	// its end must still be recorded.
	u.mu.Lock()
	alive := m.adoptRunner(u)
	u.mu.Unlock()
	if alive {
		m.log.Info("work unit: adopted a command still running", "unit", u.id)
		return
	}
	// No runner holds the lock: it ended while the node was down. Its
	// final status may have been written meanwhile.
	raw, err := readStatus(u.dir)
	u.update(func(st *Status) {
		switch {
		case err == nil && raw.State.Final():
			st.State, st.Detail, st.StdoutSize, st.ExtraData = raw.State, raw.Detail, raw.StdoutSize, nil
		case st.State == Pending && !strings.HasPrefix(st.Detail, "Launching"):
			st.State, st.Detail = Failed, "Pending at restart"
		default:
			st.State = Failed
			st.Detail = "the command runner died while the node was down, without recording a result"
			st.StdoutSize = fileSize(u.path(stdoutFile))
		}
	})
}

// restartRemote resumes a remote unit: deliver a pending release or
// cancel, go on starting it, or go on mirroring it.
func (m *Manager) restartRemote(u *unit) {
	x := u.st.ExtraData.(RemoteExtra)
	switch {
	case x.LocalReleased:
		if !x.RemoteStarted {
			m.forget(u)
			return
		}
		m.goBackground(func(ctx context.Context) { m.deliver(ctx, u, "release", func() { m.forget(u) }) })
	case x.LocalCancelled:
		if x.RemoteStarted {
			m.goBackground(func(ctx context.Context) { m.deliver(ctx, u, "cancel", nil) })
		}
	case u.st.State.Final():
		if x.RemoteStarted && fileSize(u.path(stdoutFile)) < u.st.StdoutSize {
			m.startMonitor(u) // finish copying the output
		}
	case x.RemoteStarted:
		m.startMonitor(u)
	case u.st.Detail == "Waiting for Input Data":
		u.update(func(st *Status) { st.State, st.Detail = Failed, "Pending at restart" })
	default:
		m.startRetry(u)
	}
}
