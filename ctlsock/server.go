package ctlsock

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"meshd/mesh"
)

// Mesh is what the control service needs from the node; *mesh.Node
// implements it.
type Mesh interface {
	NodeID() string
	Status() mesh.Status
	// Ping pings target (never "localhost": ctlsock resolves that alias).
	Ping(ctx context.Context, target string) mesh.PingResult
	// Traceroute returns one result per hop; hop 0 is the local node.
	Traceroute(ctx context.Context, target string) []mesh.PingResult
	// Dial opens a reliable mesh stream to (node, service). ctx bounds only
	// the dial. The conn may implement CloseWrite() error (half-close).
	Dial(ctx context.Context, node, service string) (net.Conn, error)
}

// Options configure a Server. The zero value is usable.
type Options struct {
	Version     string        // meshd's version, reported as "Version" by status
	Logger      *slog.Logger  // nil = slog.Default()
	IdleTimeout time.Duration // a client silent this long is cut off; 0 = 10m
	MaxLine     int           // longest accepted command line in bytes; 0 = 1 MiB
	MaxSessions int           // concurrent sessions per Server; 0 = 4096
	// Reload re-reads the configuration; nil means reload is not available.
	// An error wrapping a *ReloadError carries receptor's ERRORCODE.
	Reload func() error
}

const (
	defaultIdleTimeout = 10 * time.Minute
	defaultMaxLine     = 1 << 20
	defaultMaxSessions = 4096
	logEvery           = 10 * time.Second // at most one misbehaviour log per kind per this
)

// Server is the control service of one node. It may serve any number of
// listeners and individual connections at once.
type Server struct {
	mesh Mesh
	opts Options
	log  *slog.Logger

	ctx    context.Context // canceled by Close; parent of every session
	cancel context.CancelFunc

	handlersMu sync.RWMutex
	handlers   map[string]Handler

	mu        sync.Mutex // protects the fields below
	closed    bool
	active    int // sessions running
	listeners map[net.Listener]struct{}
	wg        sync.WaitGroup // sessions and accept loops

	reloadMu sync.Mutex // reloads run one at a time
	limits   logLimits
}

// NewServer returns a control service answering from m, with the built-in
// commands status, ping, traceroute, connect and reload registered.
func NewServer(m Mesh, opts Options) *Server {
	opts = withDefaults(opts)
	s := &Server{
		mesh:      m,
		opts:      opts,
		log:       opts.Logger,
		handlers:  make(map[string]Handler),
		listeners: make(map[net.Listener]struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.limits.init(logEvery)
	s.Register("status", s.status)
	s.Register("ping", s.ping)
	s.Register("traceroute", s.traceroute)
	s.Register("connect", s.connect)
	s.Register("reload", s.reload)
	s.Register("work", workUnavailable)
	return s
}

func withDefaults(o Options) Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = defaultIdleTimeout
	}
	if o.MaxLine <= 0 {
		o.MaxLine = defaultMaxLine
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = defaultMaxSessions
	}
	return o
}

// Register adds or replaces the command name (lowercase: text-form commands
// are lowercased before lookup; JSON-form names are matched exactly).
// The built-ins are status, ping, traceroute, connect and reload; "work"
// answers that work units are not supported until a handler replaces it.
func (s *Server) Register(name string, h Handler) {
	if name == "" || h == nil {
		panic("ctlsock: Register needs a name and a handler")
	}
	s.handlersMu.Lock()
	defer s.handlersMu.Unlock()
	s.handlers[name] = h
}

func (s *Server) handler(name string) Handler {
	s.handlersMu.RLock()
	defer s.handlersMu.RUnlock()
	return s.handlers[name]
}

// Serve accepts connections on ln and serves each in its own goroutine.
// It returns nil once ln is closed (by Close or by the caller), or the
// first accept error that is not transient.
func (s *Server) Serve(ln net.Listener) error {
	if !s.addListener(ln) {
		ln.Close()
		return nil
	}
	defer s.removeListener(ln)
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.isClosed() {
				return nil
			}
			backoff = nextBackoff(backoff)
			s.limits.accept.log(s.log, slog.LevelWarn, "control service: accept failed; retrying",
				"listener", ln.Addr().String(), "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		go s.ServeConn(s.ctx, c)
	}
}

// nextBackoff doubles the pause after a failed accept (EMFILE and friends),
// from 5ms up to 1s, as net/http does.
func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return 5 * time.Millisecond
	}
	return min(2*d, time.Second)
}

func (s *Server) addListener(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.listeners[ln] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) removeListener(ln net.Listener) {
	s.mu.Lock()
	delete(s.listeners, ln)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops serving: it closes every listener given to Serve, ends every
// active session (their connections are closed and their commands'
// contexts canceled) and waits for them to return.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	var errs []error
	for ln := range s.listeners {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return errors.Join(errs...)
}

// startSession counts a new session, or says why it may not start.
func (s *Server) startSession() (ok, full bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return false, false
	case s.active >= s.opts.MaxSessions:
		return false, true
	}
	s.active++
	s.wg.Add(1)
	return true, false
}

func (s *Server) endSession() {
	s.mu.Lock()
	s.active--
	s.mu.Unlock()
	s.wg.Done()
}
