package work

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// startMonitor mirrors a started remote unit until it is final and its
// whole output is here.
func (m *Manager) startMonitor(u *unit) {
	ctx, cancel := context.WithCancel(m.ctx)
	u.remote.setJob(cancel)
	m.goBackground(func(context.Context) {
		defer cancel()
		m.monitorRemote(ctx, u)
	})
}

// monitorRemote alternates two steps until the unit is complete: stream
// the remote output from the first byte missing here, then read the remote
// status. The executing node (meshd) ends a results stream when its unit
// is final, so in the normal case each step runs once; a broken path just
// makes it resume from the local file's size, which is exactly the count
// of bytes received, so nothing is lost or repeated. Meanwhile the status
// is mirrored once a second.
func (m *Manager) monitorRemote(ctx context.Context, u *unit) {
	pollCtx, stopPoll := context.WithCancel(ctx)
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		m.pollRemoteStatus(pollCtx, u)
	}()
	// Close waits for the monitor, so the poller must be over too: it
	// writes the status file.
	defer func() { stopPoll(); <-polled }()
	for delay := retryMin; ctx.Err() == nil; {
		x := u.extra()
		ferr := m.fetchOutput(ctx, u, x)
		st, serr := m.remoteStatus(ctx, x)
		switch {
		case isUnknownUnit(serr):
			u.update(func(st *Status) {
				// No more output will come: results streams end at the local copy.
				st.State, st.Detail = Failed, "Remote work unit is gone"
				st.StdoutSize = fileSize(u.path(stdoutFile))
			})
			return
		case serr == nil:
			m.mirror(u, st)
			if st.State.Final() && fileSize(u.path(stdoutFile)) >= st.StdoutSize {
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		if ferr == nil && serr == nil {
			delay = retryMin // progress; a short pause keeps a quirky peer from spinning us
		} else {
			m.log.Debug("remote work: will retry", "unit", u.id, "output_err", ferr, "status_err", serr)
			delay = nextRetry(delay)
		}
		if !sleepCtx(ctx, delay) {
			return
		}
	}
}

// fetchOutput appends the remote output, from the local size on, to the
// local stdout until the remote ends the stream.
func (m *Manager) fetchOutput(ctx context.Context, u *unit, x RemoteExtra) error {
	out, err := os.OpenFile(u.path(stdoutFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return m.outputFailed(u, err)
	}
	defer out.Close()
	fi, err := out.Stat()
	if err != nil {
		return err
	}
	c, err := m.dialRemote(ctx, x.RemoteNode)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	sig := ""
	if x.SignWork {
		if sig, err = m.sign(signingClaims("results", x)); err != nil {
			return err
		}
	}
	r, err := c.Results(x.RemoteUnitID, fi.Size(), sig)
	if err != nil {
		return err
	}
	// Large writes: the local copy is a bulk path (os.File.ReadFrom
	// would copy through 32 KiB).
	buf := make([]byte, resultsChunk)
	if _, err := io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{r}, buf); err != nil {
		var werr *os.PathError
		if errors.As(err, &werr) {
			return m.outputFailed(u, err)
		}
		return err
	}
	return nil
}

// outputFailed reports a local write failure (a full disk): the unit shows
// it in its Detail, and the monitor retries, since space may come back.
func (m *Manager) outputFailed(u *unit, err error) error {
	u.update(func(st *Status) { st.Detail = "Error writing the remote output here: " + err.Error() })
	return err
}

// remoteStatus reads the remote unit's status.
func (m *Manager) remoteStatus(ctx context.Context, x RemoteExtra) (Status, error) {
	b, err := m.remoteCommand(ctx, x, "status")
	if err != nil {
		return Status{}, err
	}
	var st Status
	if err := json.Unmarshal(b, &st); err != nil {
		return Status{}, fmt.Errorf("bad status reply from %s: %w", x.RemoteNode, err)
	}
	return st, nil
}

// mirror copies the remote state, detail and output size.
func (m *Manager) mirror(u *unit, remote Status) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.st.State.Final() || u.canceled {
		return // a local cancel or the end is already recorded
	}
	if u.st.State == remote.State && u.st.Detail == remote.Detail && u.st.StdoutSize == remote.StdoutSize {
		return
	}
	u.updateLocked(func(st *Status) {
		st.State, st.Detail, st.StdoutSize = remote.State, remote.Detail, remote.StdoutSize
	})
}

// pollRemoteStatus mirrors the remote status once a second on one session.
func (m *Manager) pollRemoteStatus(ctx context.Context, u *unit) {
	// The first poll comes at once, so that a started unit soon shows Running.
	for wait := time.Duration(0); sleepCtx(ctx, wait); wait = remoteStatusEvery {
		st, err := m.remoteStatus(ctx, u.extra())
		if err == nil && !st.State.Final() {
			m.mirror(u, st) // the end is for monitorRemote to record, with the output complete
		}
	}
}
