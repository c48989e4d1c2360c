package cli

// Decoding raw entries into a Config: the entry kinds, one method per kind, notes, claims and finish.

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// decoder holds what cross-entry checks need while entries are decoded.
type decoder struct {
	cfg       *Config
	singleton map[string]*rawEntry // node, log-level, local-only, work-signing
	services  map[string]*rawEntry // control-service names
	tcpAddrs  map[string]*rawEntry // bindaddr:port of listeners (non-zero port)
	sockets   map[string]*rawEntry // Unix socket paths we listen on
	workTypes map[string]*rawEntry
	// tls-server and tls-client entries by name, and the keys naming them.
	tlsServers map[string]*rawEntry
	tlsClients map[string]*rawEntry
	tlsRefs    []tlsRef
}

type entryKind struct {
	decode  func(d *decoder, e *rawEntry) error
	bareKey string // key set by the scalar form, "" if none
	single  bool   // at most one per configuration
	lenient bool   // accepted as is and reported in NotYetSupported
}

var entryKinds map[string]entryKind

func init() { // a var initializer would form a cycle through decodeEntry
	lenient := entryKind{decode: (*decoder).notYetSupported, lenient: true}
	entryKinds = map[string]entryKind{
		"node":              {decode: (*decoder).node, bareKey: "id", single: true},
		"log-level":         {decode: (*decoder).logLevel, bareKey: "level", single: true},
		"local-only":        {decode: (*decoder).localOnly, single: true},
		"tcp-listener":      {decode: (*decoder).tcpListener, bareKey: "port"},
		"tcp-peer":          {decode: (*decoder).tcpPeer, bareKey: "address"},
		"unix-listener":     {decode: (*decoder).unixListener, bareKey: "filename"},
		"unix-peer":         {decode: (*decoder).unixPeer, bareKey: "filename"},
		"control-service":   {decode: (*decoder).controlService},
		"work-command":      {decode: (*decoder).workCommand},
		"work-kubernetes":   {decode: (*decoder).workKubernetes},
		"work-signing":      {decode: (*decoder).workSigning, single: true},
		"work-verification": {decode: (*decoder).workVerification, bareKey: "publickey"},
		"trace":             lenient,
	}
	for name, decode := range proxyDecoders {
		entryKinds[name] = entryKind{decode: decode}
	}
	entryKinds["udp-listener"] = entryKind{decode: (*decoder).udpListener, bareKey: "port"}
	entryKinds["udp-peer"] = entryKind{decode: (*decoder).udpPeer, bareKey: "address"}
	entryKinds["tls-server"] = entryKind{decode: (*decoder).tlsServer}
	entryKinds["tls-client"] = entryKind{decode: (*decoder).tlsClient}
}

// refusedEntries are receptor entries meshd does not accept, with the reason.
var refusedEntries = map[string]string{
	"ws-listener":     "websocket links are not supported; use tcp-listener (meshd links are always TLS 1.3)",
	"ws-peer":         "websocket links are not supported; use tcp-peer (meshd links are always TLS 1.3)",
	"cert-init":       "is a command, not configuration: run `meshd cert init` (or meshd --cert-init ...)",
	"cert-makereq":    "is a command, not configuration: run `meshd cert makereq` (or meshd --cert-makereq ...)",
	"cert-signreq":    "is a command, not configuration: run `meshd cert signreq` (or meshd --cert-signreq ...)",
	"version":         "is a command, not configuration",
	"help":            "is a command, not configuration",
	"config":          "cannot be nested: give every file with -c on the command line",
	"ip-router":       "is not supported by meshd",
	"command-runner":  "is not supported by meshd",
	"command-service": "is not supported by meshd",
	"bash-completion": "is not supported by meshd",
	"work-python":     "is not supported by meshd; use work-command",
}

func buildConfig(entries []*rawEntry) (*Config, error) {
	if len(entries) > MaxConfigEntries {
		return nil, fmt.Errorf("%d configuration entries; the limit is %d", len(entries), MaxConfigEntries)
	}
	d := &decoder{
		cfg:       &Config{},
		singleton: map[string]*rawEntry{},
		services:  map[string]*rawEntry{},
		tcpAddrs:  map[string]*rawEntry{},
		sockets:   map[string]*rawEntry{},
		workTypes: map[string]*rawEntry{},

		tlsServers: map[string]*rawEntry{},
		tlsClients: map[string]*rawEntry{},
	}
	for _, e := range entries {
		if err := d.decodeEntry(e); err != nil {
			return nil, err
		}
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return d.cfg, nil
}

func (d *decoder) decodeEntry(e *rawEntry) error {
	if why, ok := refusedEntries[e.name]; ok {
		return e.errorf("", "%s", why)
	}
	kind, ok := entryKinds[e.name]
	if !ok {
		if e.src == cmdLine {
			return e.errorf("", "unknown flag")
		}
		return e.errorf("", "unknown entry")
	}
	if kind.single {
		if first := d.singleton[e.name]; first != nil {
			return e.errorf("", "only one %s entry is allowed (the first is %s)", e.name, first.where())
		}
		d.singleton[e.name] = e
	}
	if e.bare != nil {
		switch {
		case kind.bareKey != "":
			if err := e.addKey(kind.bareKey, *e.bare); err != nil {
				return err
			}
			e.bare = nil
		case kind.lenient || e.name == "local-only": // the decoder reads it
		case e.src == cmdLine:
			return e.errorf("", "%q is not key=value", clip(e.bare.text))
		default:
			return e.errorf("", "expected a map of keys, got %s", e.bare.describe())
		}
	}
	return kind.decode(d, e)
}

func (d *decoder) note(e *rawEntry, key, msg string) {
	line := e.where()
	if key != "" {
		line += fmt.Sprintf(": key %q", key)
	}
	d.cfg.NotYetSupported = append(d.cfg.NotYetSupported, line+": "+msg)
}

// field is one key an entry accepts.
type field struct {
	key    string
	set    func(v value) error
	note   string // if set, a NotYetSupported line is added when the key is given
	hidden bool   // left out of the "known keys" list of errors
}

// apply sets the fields from the entry's keys. A key given without a value
// (YAML null, `key=` on the command line) counts as not given. It returns the
// set of keys given.
func (d *decoder) apply(e *rawEntry, fields []field) (map[string]bool, error) {
	given := map[string]bool{}
	for _, k := range e.keys {
		var f *field
		for i := range fields {
			if fields[i].key == k.name {
				f = &fields[i]
				break
			}
		}
		if f == nil {
			var names []string
			for _, known := range fields {
				if !known.hidden {
					names = append(names, known.key)
				}
			}
			return nil, e.errorf(k.label, "unknown key (known: %s)", strings.Join(names, ", "))
		}
		if k.val.isNull() {
			continue
		}
		if err := f.set(k.val); err != nil {
			return nil, e.errorf(k.label, "%v", err)
		}
		given[k.name] = true
		if f.note != "" {
			d.note(e, k.label, f.note)
		}
	}
	return given, nil
}

func required(e *rawEntry, given map[string]bool, keys ...string) error {
	for _, k := range keys {
		if !given[k] {
			return e.errorf(k, "is required")
		}
	}
	return nil
}

func (d *decoder) notYetSupported(e *rawEntry) error {
	d.note(e, "", noteIgnored)
	return nil
}

var kubeNodeKeys = []string{"receptorkubesupportreconnect", "receptorkubeclientsetqps",
	"receptorkubeclientsetburst", "receptorkubeclientsetratelimiter"}

func (d *decoder) node(e *rawEntry) error {
	n := &d.cfg.Node
	fields := []field{
		{key: "id", set: func(v value) (err error) { n.ID, err = v.nodeID(); return }},
		{key: "datadir", set: func(v value) (err error) { n.DataDir, err = v.nonEmpty(); return }},
		{key: "trustfile", set: func(v value) (err error) { n.TrustFile, err = v.nonEmpty(); return }},
		{key: "keyfile", set: func(v value) (err error) { n.KeyFile, err = v.nonEmpty(); return }},
		{key: "maxidleconnectiontimeout", set: func(v value) (err error) { n.MaxIdleConnectionTimeout, err = v.duration(); return }},
		{key: "firewallrules", set: func(v value) (err error) { n.FirewallRules, err = v.firewallRules(); return }},
	}
	for _, k := range kubeNodeKeys {
		fields = append(fields, field{key: k, set: func(v value) error { _, err := v.str(); return err },
			note: noteIgnored + " (Kubernetes work is not supported)", hidden: true})
	}
	_, err := d.apply(e, fields)
	return err
}

func (d *decoder) logLevel(e *rawEntry) error {
	given, err := d.apply(e, []field{{key: "level", set: func(v value) error {
		s, err := v.str()
		if err != nil {
			return err
		}
		switch l := strings.ToLower(s); l {
		case "error", "warning", "info", "debug":
			d.cfg.LogLevel = l
			return nil
		}
		return fmt.Errorf("%q is not a log level (error, warning, info or debug)", clip(s))
	}}})
	if err != nil {
		return err
	}
	return required(e, given, "level")
}

func (d *decoder) localOnly(e *rawEntry) error {
	if len(e.keys) > 0 {
		return e.errorf(e.keys[0].label, "unknown key (local-only takes no keys)")
	}
	d.cfg.LocalOnly = true
	if text, _ := e.bare.scalarOrEmpty(); text != "" { // `- local-only: ''` is empty too
		b, err := e.bare.boolean()
		if err != nil {
			return e.errorf("", "%v", err)
		}
		d.cfg.LocalOnly = b
	}
	return nil
}

func (d *decoder) tcpListener(e *rawEntry) error {
	l, err := d.ipListener(e, true)
	if err == nil && l.Port != 0 {
		err = d.claimTCP(e, "port", net.JoinHostPort(l.BindAddr, strconv.Itoa(l.Port)))
	}
	if err != nil {
		return err
	}
	d.cfg.TCPListeners = append(d.cfg.TCPListeners, l)
	return nil
}

// udpListener is receptor's udp-listener: tcp-listener's keys but tls
// (UDP ports are their own namespace).
func (d *decoder) udpListener(e *rawEntry) error {
	l, err := d.ipListener(e, false)
	if err == nil && l.Port != 0 {
		err = d.claimTCP(e, "port", "udp "+net.JoinHostPort(l.BindAddr, strconv.Itoa(l.Port)))
	}
	if err != nil {
		return err
	}
	d.cfg.UDPListeners = append(d.cfg.UDPListeners, l)
	return nil
}

// ipListener decodes the keys tcp-listener and udp-listener share; only
// tcp-listener has tls.
func (d *decoder) ipListener(e *rawEntry, withTLS bool) (ListenerEntry, error) {
	l := ListenerEntry{BindAddr: "0.0.0.0", Cost: 1}
	fields := []field{
		{key: "bindaddr", set: func(v value) (err error) { l.BindAddr, err = v.str(); return }},
		{key: "port", set: func(v value) (err error) { l.Port, err = v.port(0); return }},
		{key: "cost", set: func(v value) (err error) { l.Cost, err = v.cost(); return }},
		{key: "nodecost", set: func(v value) (err error) { l.NodeCost, err = v.nodeCost(); return }},
		{key: "allowedpeers", set: func(v value) (err error) { l.AllowedPeers, err = v.nodeIDList(); return }},
	}
	if withTLS {
		fields = append(fields, field{key: "tls", set: func(v value) (err error) { l.TLS, err = v.str(); return }})
	}
	given, err := d.apply(e, fields)
	if err == nil {
		err = required(e, given, "port")
	}
	d.refTLS(e, "tls", "tls-server", l.TLS)
	return l, err
}

func (d *decoder) tcpPeer(e *rawEntry) error {
	p, err := d.ipPeer(e, true)
	if err != nil {
		return err
	}
	d.cfg.TCPPeers = append(d.cfg.TCPPeers, p)
	return nil
}

// udpPeer is receptor's udp-peer: tcp-peer's keys but tls.
func (d *decoder) udpPeer(e *rawEntry) error {
	p, err := d.ipPeer(e, false)
	if err != nil {
		return err
	}
	d.cfg.UDPPeers = append(d.cfg.UDPPeers, p)
	return nil
}

func (d *decoder) ipPeer(e *rawEntry, withTLS bool) (PeerEntry, error) {
	p := PeerEntry{Cost: 1, Redial: true}
	fields := []field{
		{key: "address", set: func(v value) (err error) { p.Address, err = v.dialAddress(); return }},
		{key: "cost", set: func(v value) (err error) { p.Cost, err = v.cost(); return }},
		{key: "redial", set: func(v value) (err error) { p.Redial, err = v.boolean(); return }},
		{key: "allowedpeers", set: func(v value) (err error) { p.AllowedPeers, err = v.nodeIDList(); return }},
	}
	if withTLS {
		fields = append(fields, field{key: "tls", set: func(v value) (err error) { p.TLS, err = v.str(); return }})
	}
	given, err := d.apply(e, fields)
	if err == nil {
		err = required(e, given, "address")
	}
	d.refTLS(e, "tls", "tls-client", p.TLS)
	return p, err
}

func (d *decoder) unixListener(e *rawEntry) error {
	l := UnixListenerEntry{Permissions: defaultSockPerms, Cost: 1}
	given, err := d.apply(e, []field{
		{key: "filename", set: func(v value) (err error) { l.Filename, err = v.socketPath(); return }},
		{key: "permissions", set: func(v value) (err error) { l.Permissions, err = v.fileMode(); return }},
		{key: "cost", set: func(v value) (err error) { l.Cost, err = v.cost(); return }},
		{key: "nodecost", set: func(v value) (err error) { l.NodeCost, err = v.nodeCost(); return }},
		{key: "allowedpeers", set: func(v value) (err error) { l.AllowedPeers, err = v.nodeIDList(); return }},
	})
	if err == nil {
		err = required(e, given, "filename")
	}
	if err == nil {
		err = d.claimSocket(e, "filename", l.Filename)
	}
	if err != nil {
		return err
	}
	d.cfg.UnixListeners = append(d.cfg.UnixListeners, l)
	return nil
}

func (d *decoder) unixPeer(e *rawEntry) error {
	p := UnixPeerEntry{Cost: 1, Redial: true}
	given, err := d.apply(e, []field{
		{key: "filename", set: func(v value) (err error) { p.Filename, err = v.socketPath(); return }},
		{key: "cost", set: func(v value) (err error) { p.Cost, err = v.cost(); return }},
		{key: "redial", set: func(v value) (err error) { p.Redial, err = v.boolean(); return }},
		{key: "allowedpeers", set: func(v value) (err error) { p.AllowedPeers, err = v.nodeIDList(); return }},
	})
	if err == nil {
		err = required(e, given, "filename")
	}
	if err != nil {
		return err
	}
	d.cfg.UnixPeers = append(d.cfg.UnixPeers, p)
	return nil
}

func (d *decoder) controlService(e *rawEntry) error {
	c := ControlServiceEntry{Service: defaultService, Permissions: defaultSockPerms}
	var tcpAddr string
	given, err := d.apply(e, []field{
		{key: "service", set: func(v value) (err error) { c.Service, err = v.serviceName(); return }},
		{key: "filename", set: func(v value) (err error) { c.Filename, err = v.socketPath(); return }},
		{key: "permissions", set: func(v value) (err error) { c.Permissions, err = v.fileMode(); return }},
		{key: "tcplisten", set: func(v value) (err error) { c.TCPListen, tcpAddr, err = v.tcpListen(); return }},
		{key: "tls", set: func(v value) (err error) { c.TLS, err = v.str(); return },
			note: noteIgnored + " (the control service is reached over meshd's TLS 1.3 links)"},
		{key: "tcptls", set: func(v value) (err error) { c.TCPTLS, err = v.str(); return }},
	})
	if err != nil {
		return err
	}
	d.refTLS(e, "tls", "tls-server", c.TLS)
	d.refTLS(e, "tcptls", "tls-server", c.TCPTLS)
	if c.TCPTLS != "" && c.TCPListen == "" {
		d.note(e, "tcptls", "has no effect without tcplisten, ignored")
	}
	if first := d.services[c.Service]; first != nil {
		return e.errorf("service", "service %q is already used by %s", c.Service, first.where())
	}
	d.services[c.Service] = e
	if given["filename"] {
		if err := d.claimSocket(e, "filename", c.Filename); err != nil {
			return err
		}
	}
	if tcpAddr != "" {
		if err := d.claimTCP(e, "tcplisten", tcpAddr); err != nil {
			return err
		}
	}
	d.cfg.ControlServices = append(d.cfg.ControlServices, c)
	return nil
}

func (d *decoder) workCommand(e *rawEntry) error {
	w := WorkCommandEntry{}
	given, err := d.apply(e, []field{
		{key: "worktype", set: func(v value) (err error) { w.WorkType, err = v.workType(); return }},
		{key: "command", set: func(v value) (err error) { w.Command, err = v.nonEmpty(); return }},
		{key: "params", set: func(v value) (err error) { w.Params, err = v.str(); return }},
		{key: "allowruntimeparams", set: func(v value) (err error) { w.AllowRuntimeParams, err = v.boolean(); return }},
		{key: "verifysignature", set: func(v value) (err error) { w.VerifySignature, err = v.boolean(); return }},
	})
	if err == nil {
		err = required(e, given, "worktype", "command")
	}
	if err == nil {
		err = d.claimWorkType(e, w.WorkType)
	}
	if err != nil {
		return err
	}
	d.cfg.WorkCommands = append(d.cfg.WorkCommands, w)
	return nil
}

func (d *decoder) workSigning(e *rawEntry) error {
	w := WorkSigningEntry{Where: e.where()}
	given, err := d.apply(e, []field{
		{key: "privatekey", set: func(v value) (err error) { w.PrivateKey, err = v.nonEmpty(); return }},
		{key: "tokenexpiration", set: func(v value) (err error) { w.TokenExpiration, err = v.duration(); return }},
	})
	if err == nil {
		err = required(e, given, "privatekey")
	}
	if err != nil {
		return err
	}
	d.cfg.WorkSigning = &w
	return nil
}

func (d *decoder) workVerification(e *rawEntry) error {
	w := WorkVerificationEntry{Where: e.where()}
	given, err := d.apply(e, []field{
		{key: "publickey", set: func(v value) (err error) { w.PublicKey, err = v.nonEmpty(); return }},
	})
	if err == nil {
		err = required(e, given, "publickey")
	}
	if err != nil {
		return err
	}
	d.cfg.WorkVerification = append(d.cfg.WorkVerification, w)
	return nil
}

func (d *decoder) workKubernetes(e *rawEntry) error {
	w := WorkKubernetesEntry{}
	for _, k := range e.keys {
		if k.name != "worktype" || k.val.isNull() {
			continue
		}
		var err error
		if w.WorkType, err = k.val.workType(); err != nil {
			return e.errorf(k.label, "%v", err)
		}
	}
	if w.WorkType == "" {
		return e.errorf("worktype", "is required")
	}
	if err := d.claimWorkType(e, w.WorkType); err != nil {
		return err
	}
	d.cfg.WorkKubernetes = append(d.cfg.WorkKubernetes, w)
	d.note(e, "", fmt.Sprintf("Kubernetes work is not supported yet: work type %q will be listed as unavailable", w.WorkType))
	return nil
}

func (d *decoder) claimTCP(e *rawEntry, key, addr string) error {
	if first := d.tcpAddrs[addr]; first != nil {
		return e.errorf(key, "%s is already used by %s", addr, first.where())
	}
	d.tcpAddrs[addr] = e
	return nil
}

func (d *decoder) claimSocket(e *rawEntry, key, path string) error {
	clean := filepath.Clean(path)
	if first := d.sockets[clean]; first != nil {
		return e.errorf(key, "socket %s is already used by %s", path, first.where())
	}
	d.sockets[clean] = e
	return nil
}

func (d *decoder) claimWorkType(e *rawEntry, wt string) error {
	if first := d.workTypes[wt]; first != nil {
		return e.errorf("worktype", "work type %q is already defined by %s", wt, first.where())
	}
	d.workTypes[wt] = e
	return nil
}

// finish fills in defaults that depend on the whole configuration.
func (d *decoder) finish() error {
	c := d.cfg
	if err := d.checkTLSRefs(); err != nil {
		return err
	}
	if c.LogLevel == "" {
		c.LogLevel = defaultLogLevel
	}
	n := &c.Node
	if n.ID == "" {
		where := "node" // blame the node entry if there is one
		if e := d.singleton["node"]; e != nil {
			where = e.where()
		}
		const fix = "; set `- node: {id: NAME}` or --node id=NAME"
		h, err := hostname()
		if err != nil {
			return fmt.Errorf("%s: no id given and the host name is unknown (%v)%s", where, err, fix)
		}
		lc := strings.ToLower(h)
		if lc == "localhost" || strings.HasPrefix(lc, "localhost.") {
			return fmt.Errorf("%s: no id given and the host name is %q, which cannot be a node ID%s", where, clip(h), fix)
		}
		if err := checkNodeID(h); err != nil {
			return fmt.Errorf("%s: no id given and the host name cannot be a node ID: %v%s", where, err, fix)
		}
		n.ID = h
	}
	if n.DataDir == "" {
		n.DataDir = defaultDataDir
	}
	if len(c.WorkVerification) == 0 {
		for _, w := range c.WorkCommands {
			if w.VerifySignature {
				return d.workTypes[w.WorkType].errorf("verifysignature", "work type %q verifies signatures, but there is no work-verification entry with the public key to check them", w.WorkType)
			}
		}
	}
	if n.KeyFile == "" {
		n.KeyFile = filepath.Join(n.DataDir, n.ID, "identity.key")
	}
	return nil
}
