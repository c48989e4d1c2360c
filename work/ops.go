package work

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"meshd/ctlclient"
	"meshd/work/signing"
)

// Auth is what a control request brings to prove it may act on a unit.
type Auth struct {
	Signature string
	Trusted   bool // over a Unix socket: no signature needed (as in receptor)
}

// checkUnitSignature applies the unit's work type's signature rule to a
// results, cancel or release request.
func (m *Manager) checkUnitSignature(u *unit, command string, auth Auth) error {
	if auth.Trusted {
		return nil
	}
	u.mu.Lock()
	wt := u.st.WorkType
	u.mu.Unlock()
	t, ok := m.workType(wt)
	if !ok || !t.VerifySignature {
		if auth.Signature != "" && u.remote == nil {
			return errors.New("work type did not expect a signature")
		}
		return nil
	}
	_, err := m.verify(auth.Signature, signing.Claims{Command: command, Node: m.cfg.NodeID, UnitID: u.id})
	return err
}

func signingClaims(command string, x RemoteExtra) signing.Claims {
	return signing.Claims{Command: command, Node: x.RemoteNode, UnitID: x.RemoteUnitID}
}

// Cancel stops a unit. pending is true when the cancel of a remote unit
// could not be delivered yet: the unit is Canceled here, and the node keeps
// trying to deliver it. Canceling a finished unit changes nothing.
func (m *Manager) Cancel(ctx context.Context, id string, auth Auth) (pending bool, err error) {
	u, err := m.unit(id)
	if err != nil {
		return false, err
	}
	if err := m.checkUnitSignature(u, "cancel", auth); err != nil {
		return false, err
	}
	if u.remote != nil {
		return m.cancelRemote(ctx, u)
	}
	return false, m.cancelCommand(u)
}

// Release cancels a unit if needed and deletes it with its files. A
// running unit is released only once canceled, or with force; force also
// deletes a remote unit whose executing node cannot be told.
func (m *Manager) Release(ctx context.Context, id string, force bool, auth Auth) (pending bool, err error) {
	u, err := m.unit(id)
	if err != nil {
		return false, err
	}
	if err := m.checkUnitSignature(u, "release", auth); err != nil {
		return false, err
	}
	st, _ := u.snapshot()
	u.mu.Lock()
	canceled := u.canceled
	u.mu.Unlock()
	if !force && !st.State.Final() && !canceled {
		return false, fmt.Errorf("work unit %s is still %s; cancel it first, or use force-release", id, strings.ToLower(st.State.String()))
	}
	if u.remote != nil {
		return m.releaseRemote(ctx, u, force)
	}
	if err := m.cancelCommand(u); err != nil && !force {
		return false, err
	}
	if err := m.forget(u); err != nil && !force {
		return false, err
	}
	return false, nil
}

// cancelRemote marks a remote unit Canceled here at once, so that nothing
// waits on it, and tells the executing node.
func (m *Manager) cancelRemote(ctx context.Context, u *unit) (bool, error) {
	u.mu.Lock()
	if u.st.State.Final() && !u.canceled {
		u.mu.Unlock()
		return false, nil
	}
	u.canceled = true
	u.updateLocked(func(st *Status) {
		x := st.ExtraData.(RemoteExtra)
		x.LocalCancelled = true
		st.ExtraData = x
		if !st.State.Final() {
			st.State, st.Detail = Canceled, "Canceled"
			// Mirroring stops here: the local copy is all the output
			// there will be, so that results streams end.
			st.StdoutSize = fileSize(u.path(stdoutFile))
		}
	})
	x := u.st.ExtraData.(RemoteExtra)
	u.mu.Unlock()
	u.remote.setJob(nil) // no more starting or mirroring
	if !x.RemoteStarted {
		return false, nil
	}
	return m.deliver(ctx, u, "cancel", nil)
}

// releaseRemote tells the executing node to release its unit, then
// deletes this one. If that node cannot be reached, the unit stays until
// it can (pending), unless force.
func (m *Manager) releaseRemote(ctx context.Context, u *unit, force bool) (bool, error) {
	u.mu.Lock()
	u.canceled = true
	u.updateLocked(func(st *Status) {
		x := st.ExtraData.(RemoteExtra)
		x.LocalCancelled, x.LocalReleased = true, true
		st.ExtraData = x
	})
	x := u.st.ExtraData.(RemoteExtra)
	u.mu.Unlock()
	u.remote.setJob(nil)
	if !x.RemoteStarted {
		return false, m.forget(u)
	}
	if force {
		if err := m.remoteOp(ctx, x, "release"); err != nil && !isUnknownUnit(err) {
			m.log.Warn("force-release: the executing node was not told; its unit stays there",
				"unit", u.id, "node", x.RemoteNode, "remote_unit", x.RemoteUnitID, "err", err)
		}
		return false, m.forget(u)
	}
	return m.deliver(ctx, u, "release", func() { m.forget(u) })
}

// deliver sends a cancel or release to the executing node once now and,
// if the node cannot be reached, keeps trying in the background. done
// runs once it is delivered. An error reply from the node is returned
// (an unknown unit counts as delivered: there is nothing left to stop).
func (m *Manager) deliver(ctx context.Context, u *unit, op string, done func()) (pending bool, err error) {
	x := u.extra()
	err = m.remoteOp(ctx, x, op)
	if err == nil || isUnknownUnit(err) {
		if done != nil {
			done()
		}
		return false, nil
	}
	if isRemoteError(err) {
		return false, err
	}
	bctx, cancel := context.WithCancel(m.ctx)
	u.remote.setJob(cancel)
	m.goBackground(func(context.Context) {
		defer cancel()
		for delay := retryMin; sleepCtx(bctx, delay); delay = nextRetry(delay) {
			err := m.remoteOp(bctx, x, op)
			if err == nil || isUnknownUnit(err) {
				if done != nil {
					done()
				}
				return
			}
			if isRemoteError(err) {
				m.log.Warn("remote work: executing node refused "+op, "unit", u.id, "err", err)
				return
			}
		}
	})
	return true, nil
}

// remoteOp sends a cancel or release to the executing node. A release is
// preceded by a cancel: a local release means the remote unit must end,
// and the executing node refuses to release a unit still running that was
// not canceled.
func (m *Manager) remoteOp(ctx context.Context, x RemoteExtra, op string) error {
	if op == "release" {
		if _, err := m.remoteCommand(ctx, x, "cancel"); err != nil && !isUnknownUnit(err) {
			return err
		}
	}
	_, err := m.remoteCommand(ctx, x, op)
	return err
}

func isRemoteError(err error) bool {
	var rerr *ctlclient.RemoteError
	return errors.As(err, &rerr)
}
