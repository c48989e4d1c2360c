package work

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"meshd/ctlclient"
	"meshd/work/signing"
)

// RemoteExtra is the ExtraData of a remote unit, fields in receptor's
// order (AWX reads RemoteNode, RemoteWorkType and RemoteParams).
type RemoteExtra struct {
	RemoteNode     string            `json:"RemoteNode"`
	RemoteWorkType string            `json:"RemoteWorkType"`
	RemoteParams   map[string]string `json:"RemoteParams"`
	RemoteUnitID   string            `json:"RemoteUnitID"`
	RemoteStarted  bool              `json:"RemoteStarted"`
	LocalCancelled bool              `json:"LocalCancelled"`
	LocalReleased  bool              `json:"LocalReleased"`
	SignWork       bool              `json:"SignWork"`
	TLSClient      string            `json:"TLSClient"`
	Expiration     time.Time         `json:"Expiration"`
}

// public is x without secret_ params, for replies; the status file keeps
// them, as receptor's does.
func (x RemoteExtra) public() RemoteExtra {
	p := make(map[string]string, len(x.RemoteParams))
	for k, v := range x.RemoteParams {
		if !isSecretParam(k) {
			p[k] = v
		}
	}
	x.RemoteParams = p
	return x
}

// remoteState is the background work of a remote unit.
type remoteState struct {
	mu   sync.Mutex
	stop context.CancelFunc // ends the current start-retry or monitor job
}

// setJob replaces the unit's background job: the previous one is stopped.
func (r *remoteState) setJob(cancel context.CancelFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stop != nil {
		r.stop()
	}
	r.stop = cancel
}

// Timing of remote operations.
const (
	remoteDialTimeout = 10 * time.Second // dial plus greeting
	remoteOpTimeout   = 10 * time.Second // one command and its reply
	remoteStatusEvery = time.Second      // status mirroring while output streams
	retryMin          = 100 * time.Millisecond
	retryMax          = 5 * time.Second
)

func (u *unit) extra() RemoteExtra {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.st.ExtraData.(RemoteExtra)
}

// updateRemote changes a remote unit's status and ExtraData together.
func (u *unit) updateRemote(f func(*Status, *RemoteExtra)) {
	u.update(func(st *Status) {
		x := st.ExtraData.(RemoteExtra)
		f(st, &x)
		st.ExtraData = x
	})
}

func (m *Manager) submitRemote(req SubmitRequest) (*Submission, error) {
	if m.cfg.Dialer == nil {
		return nil, errors.New("remote work is not available on this node")
	}
	if req.TLSClient != "" {
		return nil, fmt.Errorf("unknown TLS config %s", req.TLSClient)
	}
	for k := range req.Params {
		if isSecretParam(k) {
			return nil, errors.New("cannot send secrets over a non-TLS connection")
		}
	}
	var expiration time.Time
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil {
			return nil, err
		}
		expiration = time.Now().Add(d).Round(time.Second).UTC()
	}
	if req.SignWork && m.cfg.SigningKey == nil {
		return nil, errors.New("cannot sign work: signing key is empty")
	}
	id, err := m.newUnitDir("")
	if err != nil {
		return nil, err
	}
	params := make(map[string]string, len(req.Params))
	for k, v := range req.Params {
		params[k] = v
	}
	x := RemoteExtra{
		RemoteNode: req.Node, RemoteWorkType: req.WorkType, RemoteParams: params,
		SignWork: req.SignWork, TLSClient: req.TLSClient, Expiration: expiration,
	}
	if req.SignWork {
		// The signature names the unit the executing node must create,
		// so that the same signed request cannot run twice.
		x.RemoteUnitID = newUnitID()
	}
	u := newUnit(m, id, Status{State: Pending, Detail: "Waiting for Input Data", WorkType: "remote", ExtraData: x})
	u.remote = &remoteState{}
	if err := os.WriteFile(u.path(stdoutFile), nil, 0o600); err != nil {
		os.RemoveAll(u.dir)
		return nil, err
	}
	u.saveLater()
	m.add(u)
	return &Submission{m: m, u: u}, nil
}

// startRemote makes the first, synchronous attempt to start a remote unit.
// If the executing node cannot be reached, it keeps trying in the
// background and reports "Job Submitted", as receptor does.
func (m *Manager) startRemote(ctx context.Context, u *unit) (string, error) {
	err := m.remoteSubmit(ctx, u)
	var rerr *ctlclient.RemoteError
	switch {
	case err == nil:
		m.started(u)
		return "Job Started", nil
	case errors.As(err, &rerr):
		u.update(func(st *Status) { st.State, st.Detail = Failed, "Error starting worker: "+err.Error() })
		return "", err
	}
	u.mu.Lock()
	canceled := u.canceled
	u.mu.Unlock()
	if canceled { // while this attempt ran: no retry
		return "", fmt.Errorf("work unit %s was canceled before it started", u.id)
	}
	m.log.Info("remote work: node not reachable yet; will keep trying", "unit", u.id, "node", u.extra().RemoteNode, "err", err)
	m.startRetry(u)
	return "Job Submitted", nil
}

// started follows a remote unit that has just started: it mirrors it or,
// if a cancel or release came while it was starting (then there was no
// remote unit to tell), delivers that now.
func (m *Manager) started(u *unit) {
	u.mu.Lock()
	canceled, x := u.canceled, u.st.ExtraData.(RemoteExtra)
	u.mu.Unlock()
	switch {
	case x.LocalReleased:
		m.deliver(m.ctx, u, "release", func() { m.forget(u) })
	case canceled:
		m.deliver(m.ctx, u, "cancel", nil)
	default:
		m.startMonitor(u)
	}
}

// startRetry keeps trying to start a remote unit until it starts, the
// executing node refuses it, its TTL passes or it is canceled.
func (m *Manager) startRetry(u *unit) {
	ctx, cancel := context.WithCancel(m.ctx)
	u.remote.setJob(cancel)
	m.goBackground(func(context.Context) {
		defer cancel()
		for delay := retryMin; ; delay = nextRetry(delay) {
			x := u.extra()
			wait := delay
			if !x.Expiration.IsZero() {
				if left := time.Until(x.Expiration); left <= 0 {
					u.update(func(st *Status) {
						st.State, st.Detail = Failed, "Work unit expired on "+dateString(x.Expiration.Local())
					})
					return
				} else if left < wait {
					wait = left
				}
			}
			if !sleepCtx(ctx, wait) {
				return
			}
			if time.Now().After(x.Expiration) && !x.Expiration.IsZero() {
				continue // report the expiry above
			}
			err := m.remoteSubmit(ctx, u)
			var rerr *ctlclient.RemoteError
			switch {
			case err == nil:
				m.started(u)
				return
			case errors.As(err, &rerr):
				u.update(func(st *Status) { st.State, st.Detail = Failed, "Error starting worker: "+err.Error() })
				return
			case ctx.Err() != nil:
				return
			}
			u.update(func(st *Status) {
				st.Detail = "Starting Worker (waiting for " + x.RemoteNode + ": " + err.Error() + ")"
			})
		}
	})
}

// remoteSubmit sends the unit's submit and payload to the executing node.
// A failure after the executing node created its unit leaves that unit to
// fail there for want of its payload; a retry creates a new one.
func (m *Manager) remoteSubmit(ctx context.Context, u *unit) error {
	x := u.extra()
	req := map[string]string{}
	for k, v := range x.RemoteParams {
		req[k] = v
	}
	req["command"], req["subcommand"] = "work", "submit"
	req["node"], req["worktype"], req["tlsclient"] = x.RemoteNode, x.RemoteWorkType, x.TLSClient
	if x.SignWork {
		// Each attempt names a fresh unit: a signed request runs at most once.
		rid := newUnitID()
		u.updateRemote(func(_ *Status, x *RemoteExtra) { x.RemoteUnitID = rid })
		sum, err := fileSHA256(u.path(stdinFile))
		if err != nil {
			return &ctlclient.RemoteError{Msg: "reading the saved payload: " + err.Error()}
		}
		sig, err := m.sign(signing.Claims{
			Command: "submit", Node: x.RemoteNode, UnitID: rid,
			WorkType: x.RemoteWorkType, Params: x.RemoteParams, Payload: sum,
		})
		if err != nil {
			return &ctlclient.RemoteError{Msg: "cannot sign work: " + err.Error()}
		}
		req["signature"] = sig
	}
	stdin, err := os.Open(u.path(stdinFile))
	if err != nil {
		return &ctlclient.RemoteError{Msg: "reading the saved payload: " + err.Error()}
	}
	defer stdin.Close()

	c, err := m.dialRemote(ctx, x.RemoteNode)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	reply, err := c.Submit(req, stdin)
	if reply.UnitID != "" {
		u.updateRemote(func(_ *Status, x *RemoteExtra) { x.RemoteUnitID = reply.UnitID })
	}
	if err != nil {
		return err
	}
	u.updateRemote(func(st *Status, x *RemoteExtra) { x.RemoteStarted = true })
	return nil
}

// dialRemote opens a control session with the executing node and checks
// that the greeting names it.
func (m *Manager) dialRemote(ctx context.Context, node string) (*ctlclient.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, remoteDialTimeout)
	defer cancel()
	conn, err := m.cfg.Dialer.Dial(dctx, node, m.cfg.RemoteService)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(remoteDialTimeout))
	c, err := ctlclient.New(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if c.Node() != node {
		c.Close()
		return nil, fmt.Errorf("while expecting node ID %s, got node %s", node, c.Node())
	}
	conn.SetDeadline(time.Time{})
	return c, nil
}

// remoteCommand runs one command about the remote unit (cancel, release,
// status) on a fresh session and returns its reply.
func (m *Manager) remoteCommand(ctx context.Context, x RemoteExtra, sub string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, remoteOpTimeout)
	defer cancel()
	c, err := m.dialRemote(ctx, x.RemoteNode)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.Conn().SetDeadline(time.Now().Add(remoteOpTimeout))
	req := map[string]any{"command": "work", "subcommand": sub, "unitid": x.RemoteUnitID}
	if x.SignWork && sub != "status" {
		sig, err := m.sign(signing.Claims{Command: sub, Node: x.RemoteNode, UnitID: x.RemoteUnitID})
		if err != nil {
			return nil, err
		}
		req["signature"] = sig
	}
	return c.CommandJSON(req)
}

func (m *Manager) sign(c signing.Claims) (string, error) {
	if m.cfg.SigningKey == nil {
		return "", errors.New("signing key is empty")
	}
	c.Expires = time.Now().Add(m.cfg.TokenExpiration).Truncate(time.Second)
	return signing.Sign(m.cfg.SigningKey, c)
}

// isUnknownUnit reports a remote "unknown work unit" reply.
func isUnknownUnit(err error) bool {
	var rerr *ctlclient.RemoteError
	return errors.As(err, &rerr) && strings.Contains(rerr.Msg, "unknown work unit")
}

func nextRetry(d time.Duration) time.Duration {
	d = d * 3 / 2
	if d > retryMax {
		d = retryMax
	}
	return d
}

// sleepCtx sleeps for d unless ctx ends first; it reports whether it slept.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hexSum(h), nil
}
