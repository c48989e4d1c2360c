package cli

import (
	"crypto/ed25519"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"

	"meshd/ctlsock"
	"meshd/mesh"
	"meshd/wire"
	"meshd/work"
)

func keyPath(datadir, node string) string { return filepath.Join(datadir, node, "identity.key") }

func newKeyFile(path string) (ed25519.PrivateKey, error) {
	key, err := wire.GenerateKey()
	if err != nil {
		return nil, err
	}
	return key, wire.WriteKey(path, key)
}

func trustLine(node string, key ed25519.PrivateKey) string {
	return wire.TrustLine(node, key.Public().(ed25519.PublicKey))
}

// runNode runs one node until SIGINT or SIGTERM.
func runNode(args []string) error {
	cfg, err := ParseArgsConfig(args)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.LogLevel)
	node, err := startNode(cfg, logger)
	if err != nil {
		return err
	}
	node.setReloadArgs(args)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			if err := node.reload(); err != nil {
				logger.Error("SIGHUP: reload refused; the running configuration stays", "err", err)
			} else {
				logger.Info("SIGHUP: configuration reloaded")
			}
			continue
		}
		logger.Info("shutting down", "signal", sig.String())
		break
	}
	node.Close()
	return nil
}

func newLogger(level string) *slog.Logger {
	lv := slog.LevelInfo
	switch level {
	case "error":
		lv = slog.LevelError
	case "warning":
		lv = slog.LevelWarn
	case "debug":
		lv = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
}

// runningNode is a started node and the services around it.
type runningNode struct {
	mesh   *mesh.Node
	ctl    *ctlsock.Server
	work   *work.Manager
	closer []func()
	log    *slog.Logger

	// What the configuration started, for reload. reloadMu serializes
	// reloads (control sessions and SIGHUP).
	reloadMu   sync.Mutex
	cfg        *Config
	reloadArgs []string                 // the command line to re-read; nil: reload unavailable
	listeners  map[string]openListener  // link listeners by linkListeners key
	peers      map[string]mesh.PeerSpec // link peers by linkPeers key
	proxies    map[string]closer        // service proxies by proxyKey
}

// Close stops the control service and the node.
func (r *runningNode) Close() {
	r.ctl.Close()
	if r.work != nil {
		r.work.Close() // running commands go on; the next start adopts them
	}
	for _, p := range r.proxies {
		p.Close()
	}
	for i := len(r.closer) - 1; i >= 0; i-- {
		r.closer[i]()
	}
	r.mesh.Close()
}

// startNode brings a configured node up: identity, mesh, control
// services first (receptorctl expects the socket within half a second),
// then link listeners and peers.
func startNode(cfg *Config, logger *slog.Logger) (*runningNode, error) {
	for _, note := range cfg.NotYetSupported {
		logger.Warn(note)
	}
	key, err := loadIdentity(cfg, logger)
	if err != nil {
		return nil, err
	}
	var trust *wire.Trust
	if cfg.Node.TrustFile != "" {
		if trust, err = wire.LoadTrustFile(cfg.Node.TrustFile); err != nil {
			return nil, fmt.Errorf("node: trustfile: %w", err)
		}
	}
	firewall, err := mesh.ParseFirewallRules(cfg.Node.FirewallRules)
	if err != nil {
		return nil, fmt.Errorf("node: firewallrules: %w", err)
	}
	lt, err := loadTLSEntries(cfg)
	if err != nil {
		return nil, err
	}
	ident := nodeIdentity(cfg, lt)
	ident.log(logger)
	m, err := mesh.New(mesh.Config{
		NodeID: cfg.Node.ID, Key: key, Trust: trust, Logger: logger,
		IdleTimeout: cfg.Node.MaxIdleConnectionTimeout, FirewallRules: firewall,
		IdentityCert: ident.cert, IdentityRoots: ident.roots,
	})
	if err != nil {
		return nil, err
	}
	r := &runningNode{
		mesh: m, log: logger, cfg: cfg,
		listeners: map[string]openListener{}, peers: map[string]mesh.PeerSpec{}, proxies: map[string]closer{},
	}
	r.ctl = ctlsock.NewServer(m, ctlsock.Options{Version: Version, Logger: logger, Reload: r.reload})
	if r.work, err = startWork(cfg, m, logger); err != nil {
		r.Close()
		return nil, err
	}
	r.ctl.Register("work", ctlsock.WorkHandler(r.work))
	ctlListeners, err := r.openControl(cfg, workAds(cfg))
	if err != nil {
		r.Close()
		return nil, err
	}
	if err := r.applyProxies(cfg); err != nil {
		r.Close()
		return nil, err
	}
	if err := r.openListeners(cfg, lt); err != nil {
		r.Close()
		return nil, err
	}
	r.applyLinks(cfg, lt)
	for _, ln := range ctlListeners {
		go r.ctl.Serve(ln)
	}
	return r, nil
}

// loadIdentity reads the node's key, creating it on first start.
func loadIdentity(cfg *Config, logger *slog.Logger) (ed25519.PrivateKey, error) {
	path := cfg.Node.KeyFile
	if path == "" {
		path = keyPath(cfg.Node.DataDir, cfg.Node.ID)
	}
	key, created, err := wire.LoadOrCreateKey(path)
	if err != nil {
		return nil, fmt.Errorf("node: identity key %s: %w", path, err)
	}
	if created {
		logger.Info("created identity key", "file", path, "trust_line", trustLine(cfg.Node.ID, key))
	}
	return key, nil
}

// openControl opens every control-service entry: on the mesh as a
// service, and on its Unix socket and TCP port if configured. The node
// serves them once everything else is open too (see start), so a client
// that got an answer finds the node's proxies, listeners and other
// control ports open, and a node that fails to start has served nobody.
func (r *runningNode) openControl(cfg *Config, works []mesh.WorkCommand) (opened []net.Listener, err error) {
	defer func() {
		for _, ln := range opened {
			r.closer = append(r.closer, func() { ln.Close() })
		}
	}()
	for i, cs := range cfg.ControlServices {
		where := fmt.Sprintf("control-service %d (%s)", i+1, cs.Service)
		ad := controlAdvert(works)
		ml, err := r.mesh.ListenStream(cs.Service, ad)
		if err != nil {
			return opened, fmt.Errorf("%s: %w", where, err)
		}
		opened = append(opened, ml)
		if cs.Filename != "" {
			ln, err := ctlsock.ListenUnix(cs.Filename, cs.Permissions)
			if err != nil {
				return opened, fmt.Errorf("%s: filename %s: %w", where, cs.Filename, err)
			}
			opened = append(opened, ln)
		}
		if cs.TCPListen != "" {
			var tc *tls.Config
			if cs.TCPTLS != "" {
				if tc, err = serverTLSConfig(cfg.tlsServerByName(cs.TCPTLS)); err != nil {
					return opened, fmt.Errorf("%s: tcptls %s: %w", where, cs.TCPTLS, err)
				}
			}
			ln, err := ctlsock.ListenTCP(cs.TCPListen)
			if err != nil {
				return opened, fmt.Errorf("%s: tcplisten %s: %w", where, cs.TCPListen, err)
			}
			if tc != nil {
				ln = tls.NewListener(ln, tc)
			}
			opened = append(opened, ln)
		}
	}
	return opened, nil
}
