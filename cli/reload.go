package cli

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strconv"

	"meshd/ctlsock"
	"meshd/mesh"
	"meshd/wire"
)

// Reload (the control command, and SIGHUP) re-reads the configuration and
// applies what changed in link listeners and peers, work commands,
// firewall rules and service proxies, leaving everything else running:
// unchanged links, proxies and units are not touched. A configuration that
// does not parse is refused whole (ERRORCODE 4), and so is one that
// changes what only a restart can (ERRORCODE 3), as receptor does. A
// listener or proxy that cannot be opened fails the reload before
// anything else changed.

// setReloadArgs gives the node the command line it was started from.
func (r *runningNode) setReloadArgs(args []string) {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	r.reloadArgs = args
}

func (r *runningNode) reload() error {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	if r.reloadArgs == nil {
		return errors.New("this node has no configuration to re-read")
	}
	cfg, err := ParseArgsConfig(r.reloadArgs)
	if err != nil {
		return err
	}
	if err := unreloadable(r.cfg, cfg); err != nil {
		return &ctlsock.ReloadError{Code: ctlsock.ReloadCodeNotReloadable, Err: err}
	}
	rules, err := mesh.ParseFirewallRules(cfg.Node.FirewallRules)
	if err != nil {
		return fmt.Errorf("node: firewallrules: %w", err)
	}
	lt, err := loadTLSEntries(cfg)
	if err != nil {
		return err
	}
	if err := r.work.SetTypes(workTypes(cfg)); err != nil {
		return err
	}
	// The parts that can fail come first, and undo themselves.
	undoListeners, err := r.updateListeners(cfg, lt)
	if err != nil {
		r.work.SetTypes(workTypes(r.cfg))
		return err
	}
	if err := r.applyProxies(cfg); err != nil {
		undoListeners()
		r.work.SetTypes(workTypes(r.cfg))
		return err
	}
	r.closeListeners(cfg)
	r.applyLinks(cfg, lt)
	ident := nodeIdentity(cfg, lt)
	r.mesh.SetIdentity(ident.cert, ident.roots)
	r.mesh.SetFirewallRules(rules)
	ads := workAds(cfg)
	for _, cs := range cfg.ControlServices {
		r.mesh.SetAdvert(cs.Service, controlAdvert(ads))
	}
	for _, note := range cfg.NotYetSupported {
		r.log.Warn(note)
	}
	r.cfg = cfg
	return nil
}

// unreloadable says what changed that a running node cannot take on.
func unreloadable(old, cfg *Config) error {
	node, nodeNew := old.Node, cfg.Node
	node.FirewallRules, nodeNew.FirewallRules = nil, nil
	for _, c := range []struct {
		what     string
		old, new any
	}{
		{"the node entry (other than firewallrules)", node, nodeNew},
		{"log-level", old.LogLevel, cfg.LogLevel},
		{"local-only", old.LocalOnly, cfg.LocalOnly},
		{"control-service entries", old.ControlServices, cfg.ControlServices},
		{"the tls-server entries of control services", controlTLS(old), controlTLS(cfg)},
		{"work-signing", stripWhere(old.WorkSigning), stripWhere(cfg.WorkSigning)},
		{"work-verification entries", verifyKeys(old), verifyKeys(cfg)},
		{"work-kubernetes entries", old.WorkKubernetes, cfg.WorkKubernetes},
	} {
		if !reflect.DeepEqual(c.old, c.new) {
			return fmt.Errorf("%s changed: restart meshd to apply that", c.what)
		}
	}
	return nil
}

func stripWhere(s *WorkSigningEntry) any {
	if s == nil {
		return nil
	}
	c := *s
	c.Where = ""
	return c
}

func verifyKeys(cfg *Config) []string {
	var out []string
	for _, v := range cfg.WorkVerification {
		out = append(out, v.PublicKey)
	}
	return out
}

// listenerItem is a configured link listener and how errors name it.
type listenerItem struct {
	spec  mesh.ListenerSpec
	label string // e.g. "tcp-listener 2 (0.0.0.0:2222)"
}

// linkListeners lists a configuration's link listeners by a key that
// changes with any of their settings, including those of the tls-server
// entry a listener names. Their trust comes from lt; with lt nil (to
// compare keys only) specs carry none.
func linkListeners(cfg *Config, lt *linkTLS) map[string]listenerItem {
	out := map[string]listenerItem{}
	count := map[string]int{}
	add := func(spec mesh.ListenerSpec, tlsName string) {
		count[spec.Network]++
		label := fmt.Sprintf("%s-listener %d (%s)", spec.Network, count[spec.Network], spec.Address)
		key := fmt.Sprintf("%+v %s", spec, cfg.tlsServerByName(tlsName).settings())
		if lt != nil && tlsName != "" {
			spec.X509 = lt.servers[tlsName]
		}
		out[key] = listenerItem{spec, label}
	}
	for _, l := range cfg.TCPListeners {
		add(mesh.ListenerSpec{Network: "tcp", Address: net.JoinHostPort(l.BindAddr, strconv.Itoa(l.Port)), Cost: l.Cost, NodeCost: l.NodeCost, AllowedPeers: l.AllowedPeers}, l.TLS)
	}
	for _, l := range cfg.UDPListeners {
		add(mesh.ListenerSpec{Network: "udp", Address: net.JoinHostPort(l.BindAddr, strconv.Itoa(l.Port)), Cost: l.Cost, NodeCost: l.NodeCost, AllowedPeers: l.AllowedPeers}, "")
	}
	for _, l := range cfg.UnixListeners {
		add(mesh.ListenerSpec{Network: "unix", Address: l.Filename, Perm: l.Permissions, Cost: l.Cost, NodeCost: l.NodeCost, AllowedPeers: l.AllowedPeers}, "")
	}
	return out
}

// linkPeers lists a configuration's link peers the same way.
func linkPeers(cfg *Config, lt *linkTLS) map[string]mesh.PeerSpec {
	out := map[string]mesh.PeerSpec{}
	add := func(spec mesh.PeerSpec, tlsName string) {
		key := fmt.Sprintf("%+v %s", spec, cfg.tlsClientByName(tlsName).settings())
		if lt != nil && tlsName != "" {
			spec.X509 = lt.forPeer(tlsName, spec.Address)
		}
		out[key] = spec
	}
	for _, p := range cfg.TCPPeers {
		add(mesh.PeerSpec{Network: "tcp", Address: p.Address, Cost: p.Cost, Redial: p.Redial, AllowedPeers: p.AllowedPeers}, p.TLS)
	}
	for _, p := range cfg.UDPPeers {
		add(mesh.PeerSpec{Network: "udp", Address: p.Address, Cost: p.Cost, Redial: p.Redial, AllowedPeers: p.AllowedPeers}, "")
	}
	for _, p := range cfg.UnixPeers {
		add(mesh.PeerSpec{Network: "unix", Address: p.Filename, Cost: p.Cost, Redial: p.Redial, AllowedPeers: p.AllowedPeers}, "")
	}
	return out
}

// openListener is an open link listener: the address AddListener
// returned (what RemoveListener takes) and the spec it was opened with,
// to reopen it if a reload is undone.
type openListener struct {
	net.Addr
	spec mesh.ListenerSpec
}

// openListeners opens the link listeners of cfg (at start).
func (r *runningNode) openListeners(cfg *Config, lt *linkTLS) error {
	_, err := r.updateListeners(cfg, lt)
	return err
}

// updateListeners opens the link listeners of cfg that are not open as
// configured: new ones, and changed ones. A listener changed in its
// settings or in the certificate or CAs its tls-server entry's files hold
// now is at an address still open: the old listener there is closed just
// before (links it accepted stay up). It returns how to undo all that; if
// a listener cannot be opened, it has undone it already.
func (r *runningNode) updateListeners(cfg *Config, lt *linkTLS) (undo func(), err error) {
	var opened []string
	replaced := map[string]openListener{}
	undo = func() {
		for _, k := range opened {
			r.mesh.RemoveListener(r.listeners[k])
			delete(r.listeners, k)
		}
		for k, old := range replaced {
			addr, err := r.mesh.AddListener(old.spec)
			if err != nil {
				r.log.Error("reload undone, but a link listener could not be reopened", "address", old.spec.Address, "err", err)
				continue
			}
			r.listeners[k] = openListener{addr, old.spec}
		}
	}
	want := linkListeners(cfg, lt)
	for k, item := range want {
		if old, ok := r.listeners[k]; ok && sameTrust(old.spec.X509, item.spec.X509) {
			continue
		}
		for oldKey, old := range r.listeners {
			if _, kept := want[oldKey]; (kept && oldKey != k) || old.spec.Network != item.spec.Network || old.spec.Address != item.spec.Address {
				continue
			}
			r.mesh.RemoveListener(old)
			delete(r.listeners, oldKey)
			replaced[oldKey] = old
		}
		addr, err := r.mesh.AddListener(item.spec)
		if err != nil {
			undo()
			return nil, fmt.Errorf("%s: %w", item.label, err)
		}
		r.listeners[k] = openListener{addr, item.spec}
		opened = append(opened, k)
	}
	return undo, nil
}

// sameTrust says whether two link trusts built from the same entry
// settings hold the same certificate and CAs, that is whether the entry's
// files still hold what they held.
func sameTrust(a, b *wire.X509) bool {
	if a == nil || b == nil {
		return a == b
	}
	var ca, cb [][]byte
	if a.Certificate != nil {
		ca = a.Certificate.Certificate
	}
	if b.Certificate != nil {
		cb = b.Certificate.Certificate
	}
	return slices.EqualFunc(ca, cb, bytes.Equal) && a.Roots.Equal(b.Roots)
}

// closeListeners closes the open link listeners that cfg does not have.
func (r *runningNode) closeListeners(cfg *Config) {
	want := linkListeners(cfg, nil)
	for k, addr := range r.listeners {
		if _, ok := want[k]; !ok {
			r.mesh.RemoveListener(addr)
			delete(r.listeners, k)
		}
	}
}

// applyLinks makes the dialed peers those of cfg: removed (or changed,
// also in the certificate or CAs their tls-client entry's files hold now)
// ones first, so that a changed entry is dialed anew.
func (r *runningNode) applyLinks(cfg *Config, lt *linkTLS) {
	want := linkPeers(cfg, lt)
	for k, spec := range r.peers {
		if w, ok := want[k]; !ok || !sameTrust(spec.X509, w.X509) {
			r.mesh.RemovePeer(spec.Network, spec.Address)
			delete(r.peers, k)
		}
	}
	for k, spec := range want {
		if _, ok := r.peers[k]; !ok {
			r.mesh.AddPeer(spec)
			r.peers[k] = spec
		}
	}
}

// controlTLS lists the tls-server entries control services use (without
// their place in the file).
func controlTLS(cfg *Config) []TLSServerEntry {
	var out []TLSServerEntry
	for _, cs := range cfg.ControlServices {
		if t := cfg.tlsServerByName(cs.TCPTLS); t != nil {
			c := *t
			c.Where = ""
			out = append(out, c)
		}
	}
	return out
}
