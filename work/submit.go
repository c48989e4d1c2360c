package work

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"

	"meshd/internal/shlex"
	"meshd/work/signing"
)

// SubmitRequest is a work submit as the control service received it.
type SubmitRequest struct {
	Node     string
	WorkType string
	// Params holds every work parameter: all keys of a JSON submit that are
	// not reserved, and "params" for the text form's trailing words. A
	// command unit uses only "params" (its runtime arguments); a remote
	// unit forwards them all.
	Params    map[string]string
	TLSClient string
	TTL       string // Go duration; remote units only
	SignWork  bool   // sign the remote submit with this node's work-signing key
	Signature string
	// Trusted is set for requests that came over a Unix socket, where
	// receptor skips signature checks: whoever can reach the socket
	// already controls the node.
	Trusted bool
}

// Submission is a unit created by Submit that waits for its payload.
type Submission struct {
	m      *Manager
	u      *unit
	argv   []string        // command units: what to run
	claims *signing.Claims // a verified signature whose payload digest is still to check
}

// UnitID is the new unit's ID, to be told to the client before it sends
// the payload.
func (s *Submission) UnitID() string { return s.u.id }

// Submit checks a submit and creates its unit, Pending and waiting for its
// payload. Nothing is created when it fails.
func (m *Manager) Submit(req SubmitRequest) (*Submission, error) {
	if m.isLocal(req.Node) {
		return m.submitLocal(req)
	}
	return m.submitRemote(req)
}

func (m *Manager) submitLocal(req SubmitRequest) (*Submission, error) {
	t, ok := m.workType(req.WorkType)
	if !ok {
		return nil, fmt.Errorf("unknown work type %s", req.WorkType)
	}
	if req.TTL != "" {
		return nil, errors.New("ttl option is intended for remote work only")
	}
	user := req.Params["params"]
	if user != "" && !t.AllowRuntimeParams {
		return nil, errors.New("extra params provided but not allowed")
	}
	params := combineParams(t.Params, user)
	args, err := shlex.Split(params)
	if err != nil {
		return nil, fmt.Errorf("params %q: %w", params, err)
	}
	claims, err := m.checkSubmitSignature(t, req)
	if err != nil {
		return nil, err
	}
	wantID := ""
	if claims != nil {
		wantID = claims.UnitID
	}
	id, err := m.newUnitDir(wantID)
	if err != nil {
		return nil, err
	}
	if claims != nil {
		m.replay.add(claims.UnitID, claims.Expires)
	}
	u := newUnit(m, id, Status{
		State: Pending, Detail: "Waiting for Input Data", WorkType: t.WorkType,
		ExtraData: CommandExtra{Params: params},
	})
	u.saveLater()
	m.add(u)
	return &Submission{m: m, u: u, argv: append([]string{t.Command}, args...), claims: claims}, nil
}

// combineParams joins a work type's params and a submit's, as receptor.
func combineParams(base, user string) string {
	switch {
	case user == "":
		return base
	case base == "":
		return user
	}
	return base + " " + user
}

// checkSubmitSignature verifies a submit's signature when its work type
// asks for one, and returns the verified claims (nil when unsigned).
func (m *Manager) checkSubmitSignature(t CommandType, req SubmitRequest) (*signing.Claims, error) {
	if req.Trusted {
		return nil, nil
	}
	if !t.VerifySignature {
		if req.Signature != "" {
			return nil, errors.New("work type did not expect a signature")
		}
		return nil, nil
	}
	c, err := m.verify(req.Signature, signing.Claims{
		Command: "submit", Node: m.cfg.NodeID, WorkType: req.WorkType, Params: req.Params,
	})
	if err != nil {
		return nil, err
	}
	if !validUnitID(c.UnitID) {
		return nil, errors.New("could not verify signature: the signed unit ID is not alphanumeric")
	}
	if m.replay.seen(c.UnitID, time.Now()) {
		return nil, errors.New("could not verify signature: this signed request was already used (replay refused)")
	}
	return &c, nil
}

// verify checks a signature and that its claims match want (all but the
// claimed unit ID and payload, which the caller checks).
func (m *Manager) verify(sig string, want signing.Claims) (signing.Claims, error) {
	c, err := signing.Verify(sig, m.cfg.VerifyKeys, time.Now())
	if err != nil {
		return c, fmt.Errorf("could not verify signature: %w", err)
	}
	if want.UnitID == "" {
		want.UnitID = c.UnitID
	}
	if err := c.Expect(want); err != nil {
		return c, fmt.Errorf("could not verify signature: %w", err)
	}
	return c, nil
}

// Run reads the payload until EOF into the unit's stdin, then starts the
// unit. It returns receptor's result: "Job Started", or "Job Submitted"
// for a remote unit whose node is not reachable yet (it keeps trying).
// On an error the unit stays, Failed, with the reason in its Detail.
func (s *Submission) Run(ctx context.Context, payload io.Reader) (string, error) {
	u := s.u
	sum, err := s.m.savePayload(u, payload)
	if err != nil {
		u.update(func(st *Status) { st.State, st.Detail = Failed, "Error reading input data: "+err.Error() })
		return "", err
	}
	if s.claims != nil && s.claims.Payload != sum {
		s.m.forget(u)
		return "", errors.New("could not verify signature: signature does not match the payload")
	}
	u.mu.Lock()
	canceled := u.canceled || u.isGone
	if !canceled && u.remote != nil {
		// A command unit goes straight on to "Launching command runner":
		// every status write is a file replaced by rename, which costs
		// a fraction of a millisecond on a journaling file system.
		u.updateLocked(func(st *Status) { st.Detail = "Starting Worker" })
	}
	u.mu.Unlock()
	if canceled {
		return "", fmt.Errorf("work unit %s was canceled before it started", u.id)
	}
	if u.remote != nil {
		return s.m.startRemote(ctx, u)
	}
	if err := s.m.startCommand(u, s.argv); err != nil {
		u.update(func(st *Status) {
			if st.State.Final() {
				return // canceled meanwhile: it stays Canceled
			}
			st.State, st.Detail, st.ExtraData = Failed, "Error starting worker: "+err.Error(), nil
		})
		return "", err
	}
	return "Job Started", nil
}

// savePayload copies the payload to the unit's stdin file and returns its
// SHA-256 (hex).
func (m *Manager) savePayload(u *unit, payload io.Reader) (string, error) {
	f, err := os.OpenFile(u.path(stdinFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(payload, m.cfg.MaxPayload+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > m.cfg.MaxPayload {
		err = fmt.Errorf("payload is larger than the limit of %d bytes", m.cfg.MaxPayload)
	}
	if err != nil {
		return "", err
	}
	return hexSum(h), nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }
