package work

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CommandType is a configured work type (receptor's work-command entry).
type CommandType struct {
	WorkType           string
	Command            string // the executable, run without a shell
	Params             string // arguments, split shell-style
	AllowRuntimeParams bool   // a submit may add arguments
	VerifySignature    bool   // submits over the network must be signed
}

// Dialer opens mesh streams to other nodes' services; *mesh.Node is one.
type Dialer interface {
	Dial(ctx context.Context, node, service string) (net.Conn, error)
}

// Config configures a Manager.
type Config struct {
	NodeID  string
	DataDir string // units live in DataDir/NodeID/<unit ID>
	Types   []CommandType
	Dialer  Dialer // reaches other nodes for remote units; nil: remote work is refused
	Logger  *slog.Logger

	SigningKey      crypto.Signer      // signs remote submits made with signwork; nil: none
	TokenExpiration time.Duration      // lifetime of a signature; 0 = 5m, as in receptor
	VerifyKeys      []crypto.PublicKey // accepted signers for VerifySignature work types

	CancelGrace time.Duration // SIGTERM to SIGKILL; 0 = 5s
	MaxPayload  int64         // largest accepted stdin payload; 0 = 4 GiB
	// RemoteService is the control service dialed on executing nodes; "" = "control".
	RemoteService string
}

const (
	defaultTokenExpiration = 5 * time.Minute
	defaultCancelGrace     = 5 * time.Second
	defaultMaxPayload      = 4 << 30
)

// Manager owns this node's work units.
type Manager struct {
	cfg   Config
	dir   string                                 // DataDir/NodeID
	types atomic.Pointer[map[string]CommandType] // replaced whole by SetTypes
	log   *slog.Logger

	ctx    context.Context // canceled by Close: ends background work
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	units  map[string]*unit
	idle   []*idleRunner // started runners waiting for units (see maxIdleRunners)
	closed bool          // no more background work
	replay replayCache
}

// New returns a Manager for cfg and picks up the units a previous run left
// in its directory: finished ones are listed as they ended, running
// commands are adopted, remote units resume mirroring.
func New(cfg Config) (*Manager, error) {
	if cfg.NodeID == "" || cfg.DataDir == "" {
		return nil, errors.New("work: node ID and data directory are required")
	}
	if cfg.TokenExpiration <= 0 {
		cfg.TokenExpiration = defaultTokenExpiration
	}
	if cfg.CancelGrace <= 0 {
		cfg.CancelGrace = defaultCancelGrace
	}
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = defaultMaxPayload
	}
	if cfg.RemoteService == "" {
		cfg.RemoteService = "control"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	dir, err := filepath.Abs(filepath.Join(cfg.DataDir, cfg.NodeID))
	if err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:   cfg,
		dir:   dir,
		log:   cfg.Logger,
		units: make(map[string]*unit),
	}
	if err := m.SetTypes(cfg.Types); err != nil {
		return nil, err
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.replay.path = filepath.Join(dir, replayFile)
	m.replay.load(time.Now())
	if err := m.scan(); err != nil {
		m.cancel()
		return nil, err
	}
	m.refill()
	return m, nil
}

// Close stops background work (remote monitors). Running commands are left
// running: a restarted node adopts them.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
	m.discardIdle()
	m.mu.Lock()
	units := make([]*unit, 0, len(m.units))
	for _, u := range m.units {
		units = append(units, u)
	}
	m.mu.Unlock()
	for _, u := range units {
		u.saveIfUnsaved() // a unit still waiting for its payload is listed at the next start
	}
}

// go runs f in the background until Close.
// After Close it does nothing.
func (m *Manager) goBackground(f func(ctx context.Context)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f(m.ctx)
	}()
}

// NodeID is this node's ID.
func (m *Manager) NodeID() string { return m.cfg.NodeID }

// Types lists the configured work types, sorted by name.
func (m *Manager) Types() []CommandType {
	types := *m.types.Load()
	out := make([]CommandType, 0, len(types))
	for _, t := range types {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].WorkType < out[j].WorkType })
	return out
}

// SetTypes replaces the configured work types (a configuration reload).
// Units already created keep running as they were started; a unit of a
// type no longer configured stays listed and can be released.
func (m *Manager) SetTypes(types []CommandType) error {
	byName := make(map[string]CommandType, len(types))
	for _, t := range types {
		if t.WorkType == "remote" {
			return errors.New(`work: work type "remote" is reserved for remote units`)
		}
		byName[t.WorkType] = t
	}
	m.types.Store(&byName)
	return nil
}

func (m *Manager) hasType(wt string) bool { _, ok := m.workType(wt); return ok }

// workType returns the configured work type named wt.
func (m *Manager) workType(wt string) (CommandType, bool) {
	t, ok := (*m.types.Load())[wt]
	return t, ok
}

// isLocal reports whether a submit's node names this node.
func (m *Manager) isLocal(node string) bool {
	return node == m.cfg.NodeID || strings.EqualFold(node, "localhost")
}

// ErrUnknownUnit is wrapped by errors about unit IDs this node does not know.
var ErrUnknownUnit = errors.New("unknown work unit")

func (m *Manager) unit(id string) (*unit, error) {
	m.mu.Lock()
	u := m.units[id]
	m.mu.Unlock()
	if u == nil {
		return nil, fmt.Errorf("%w %s", ErrUnknownUnit, id)
	}
	return u, nil
}

// newUnitDir creates the directory of a new unit, with id if given (a
// signed submit names its unit) or a fresh random one.
func (m *Manager) newUnitDir(id string) (string, error) {
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return "", err
	}
	for tries := 0; ; tries++ {
		try := id
		if try == "" {
			try = newUnitID()
		}
		m.mu.Lock()
		_, taken := m.units[try]
		m.mu.Unlock()
		if !taken {
			err := os.Mkdir(filepath.Join(m.dir, try), 0o700)
			if err == nil {
				return try, nil
			}
			if !errors.Is(err, os.ErrExist) {
				return "", err
			}
		}
		if id != "" {
			return "", fmt.Errorf("work unit ID %s is already in use", id)
		}
		if tries > 100 {
			return "", errors.New("could not find a free work unit ID")
		}
	}
}

// add registers a new unit.
func (m *Manager) add(u *unit) {
	m.mu.Lock()
	m.units[u.id] = u
	m.mu.Unlock()
}

// forget removes a unit from memory and disk.
func (m *Manager) forget(u *unit) error {
	m.mu.Lock()
	if m.units[u.id] == u {
		delete(m.units, u.id)
	}
	m.mu.Unlock()
	u.markGone()
	return os.RemoveAll(u.dir)
}

// List returns the status of every unit, or of the one named by id.
func (m *Manager) List(id string) (map[string]StatusReply, error) {
	out := map[string]StatusReply{}
	if id != "" {
		u, err := m.unit(id)
		if err != nil {
			return nil, err
		}
		out[id] = u.reply()
		return out, nil
	}
	m.mu.Lock()
	units := make([]*unit, 0, len(m.units))
	for _, u := range m.units {
		units = append(units, u)
	}
	m.mu.Unlock()
	for _, u := range units {
		out[u.id] = u.reply()
	}
	return out, nil
}

// Status returns one unit's status.
func (m *Manager) Status(id string) (StatusReply, error) {
	u, err := m.unit(id)
	if err != nil {
		return StatusReply{}, err
	}
	return u.reply(), nil
}
