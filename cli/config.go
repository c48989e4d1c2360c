package cli

// Configuration: receptor's v1 YAML file (a list of single-key maps) and the
// equivalent command-line groups (`--tcp-listener port=2222 ...`) are both
// turned into a list of raw entries, which one decoder turns into a Config.
// The decoder is strict: anything it does not know is an error, and anything
// it accepts without implementing it yet is reported in NotYetSupported.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Config is a node's whole configuration, in the order it was written.
type Config struct {
	Node            NodeEntry
	LogLevel        string // "error", "warning", "info" or "debug"; default "info"
	LocalOnly       bool
	TCPListeners    []ListenerEntry
	TCPPeers        []PeerEntry
	UnixListeners   []UnixListenerEntry
	UnixPeers       []UnixPeerEntry
	ControlServices []ControlServiceEntry
	WorkCommands    []WorkCommandEntry    // parsed and validated now; executed by a later issue
	WorkKubernetes  []WorkKubernetesEntry // accepted; that work type is listed as unavailable
	// NotYetSupported holds one human-readable line per accepted entry or key that a later
	// release implements, e.g. `node1.yaml: entry 7 (work-signing): not supported yet, ignored`.
	// The node logs each at warning level at start. Never silently ignore anything.
	NotYetSupported []string
}

// NodeEntry is the `node` entry.
type NodeEntry struct {
	ID                       string              // default: os.Hostname(); "localhost" (any case) is refused
	DataDir                  string              // default "/tmp/receptor" (receptor's default)
	TrustFile                string              // key `trustfile` (meshd extension): pinned-key trust file
	KeyFile                  string              // key `keyfile` (meshd extension): identity key; default <datadir>/<id>/identity.key
	MaxIdleConnectionTimeout time.Duration       // receptor key `maxidleconnectiontimeout` (Go duration), 0 = default
	FirewallRules            []map[string]string // receptor key `firewallrules`; kept, reported not yet supported
}

// ListenerEntry is a `tcp-listener` entry.
type ListenerEntry struct {
	BindAddr     string             // default "0.0.0.0"
	Port         int                // required, 0..65535 (0 = pick a free port)
	Cost         float64            // default 1.0, must be > 0
	NodeCost     map[string]float64 // each > 0
	AllowedPeers []string           // nil = anyone
	TLS          string             // name of a tls-server; reported not yet supported
}

// PeerEntry is a `tcp-peer` entry.
type PeerEntry struct {
	Address      string  // required, host:port
	Cost         float64 // default 1.0, > 0
	Redial       bool    // default true
	AllowedPeers []string
	TLS          string // reported not yet supported
}

// UnixListenerEntry is a `unix-listener` entry (meshd extension: a link over
// a Unix stream socket).
type UnixListenerEntry struct {
	Filename     string      // required
	Permissions  os.FileMode // default 0600
	Cost         float64
	NodeCost     map[string]float64
	AllowedPeers []string
}

// UnixPeerEntry is a `unix-peer` entry.
type UnixPeerEntry struct {
	Filename     string // required
	Cost         float64
	Redial       bool // default true
	AllowedPeers []string
}

// ControlServiceEntry is a `control-service` entry.
type ControlServiceEntry struct {
	Service     string      // default "control"
	Filename    string      // unix socket path, optional
	Permissions os.FileMode // default 0600
	TCPListen   string      // "port" or "host:port", optional
	TLS         string      // reported not yet supported
	TCPTLS      string      // reported not yet supported
}

// WorkCommandEntry is a `work-command` entry.
type WorkCommandEntry struct {
	WorkType           string // required
	Command            string // required
	Params             string
	AllowRuntimeParams bool
	VerifySignature    bool
}

// WorkKubernetesEntry is a `work-kubernetes` entry; only its work type is kept.
type WorkKubernetesEntry struct {
	WorkType string // required
}

// Limits that keep parsing bounded whatever the input.
const (
	MaxConfigFileSize = 1 << 20 // bytes; real receptor.conf files are a few KiB
	MaxConfigEntries  = 10000
)

const (
	defaultDataDir   = "/tmp/receptor"
	defaultLogLevel  = "info"
	defaultService   = "control"
	defaultSockPerms = os.FileMode(0o600)
	maxNodeIDLen     = 64
	maxServiceLen    = 8 // receptor's mesh service names are at most 8 bytes
	maxWorkTypeLen   = 128
	maxUnixPathLen   = 107 // sun_path is 108 bytes including the NUL
	noteIgnored      = "not supported yet, ignored"
)

// hostname is os.Hostname, replaceable in tests.
var hostname = os.Hostname

// LoadConfigFile reads and parses one YAML file.
func LoadConfigFile(path string) (*Config, error) {
	entries, err := fileEntries(path)
	if err != nil {
		return nil, err
	}
	return buildConfig(entries)
}

// ParseConfig parses YAML bytes; name is used in error messages (the file name).
func ParseConfig(name string, data []byte) (*Config, error) {
	entries, err := yamlEntries(name, data)
	if err != nil {
		return nil, err
	}
	return buildConfig(entries)
}

func fileEntries(path string) ([]*rawEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return yamlEntries(path, data)
}

// rawEntry is one configuration entry before decoding, from a file or the
// command line.
type rawEntry struct {
	src   string // file name, or "command line"
	index int    // 1-based position in src
	name  string // lower case
	label string // as the user wrote it: "tcp-peer", or "--tcp-peer" on the command line
	line  int    // 0 on the command line
	bare  *value // the value of the scalar form (`- log-level: debug`, `--node n1`)
	keys  []rawKey
	seen  map[string]bool // lower-case key names, to refuse duplicates
}

type rawKey struct {
	name  string // lower case
	label string // as written
	val   value
}

// value is one value as written: a YAML node, or a command-line string.
type value struct {
	node *yaml.Node // YAML; nil on the command line
	text string     // command-line text
}

func (e *rawEntry) where() string {
	return fmt.Sprintf("%s: entry %d (%s)", e.src, e.index, e.label)
}

// errorf returns an error naming the entry and, if key is not empty, the key.
func (e *rawEntry) errorf(key string, format string, a ...any) error {
	msg := e.where()
	if key != "" {
		msg += fmt.Sprintf(": key %q", key)
	}
	msg += ": " + fmt.Sprintf(format, a...)
	if line := e.lineOf(key); line > 0 {
		msg += fmt.Sprintf(" (line %d)", line)
	}
	return errors.New(msg)
}

func (e *rawEntry) lineOf(key string) int {
	for _, k := range e.keys {
		if k.label == key && k.val.node != nil {
			return k.val.node.Line
		}
	}
	return e.line
}

// addKey appends a key, refusing a second one of the same name.
func (e *rawEntry) addKey(label string, v value) error {
	name := strings.ToLower(label)
	if e.seen[name] {
		return e.errorf(label, "given twice")
	}
	if e.seen == nil {
		e.seen = map[string]bool{}
	}
	e.seen[name] = true
	e.keys = append(e.keys, rawKey{name: name, label: label, val: v})
	return nil
}

// ---------------------------------------------------------------------------
// YAML

func yamlEntries(src string, data []byte) ([]*rawEntry, error) {
	if len(data) > MaxConfigFileSize {
		return nil, fmt.Errorf("%s: file is larger than %d bytes", src, MaxConfigFileSize)
	}
	root, err := parseYAML(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	if root == nil || isNullNode(root) {
		return nil, fmt.Errorf("%s: no configuration entries", src)
	}
	switch root.Kind {
	case yaml.SequenceNode:
	case yaml.MappingNode:
		return nil, fmt.Errorf("%s: expected a YAML list of entries (`- node: {id: n1}`), got a map; "+
			"receptor's v2 format (`version: 2`) is not supported", src)
	default:
		return nil, fmt.Errorf("%s: expected a YAML list of entries (`- node: {id: n1}`), got %s", src, nodeKind(root))
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: no configuration entries", src)
	}
	if len(root.Content) > MaxConfigEntries {
		return nil, fmt.Errorf("%s: %d entries; the limit is %d", src, len(root.Content), MaxConfigEntries)
	}
	entries := make([]*rawEntry, 0, len(root.Content))
	for i, item := range root.Content {
		e, err := yamlEntry(src, i+1, item)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// parseYAML parses exactly one YAML document and returns its root node (nil
// for an empty stream). It refuses aliases, so nothing is ever expanded.
func parseYAML(data []byte) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil { // yaml.v3 panics on a few internal errors
			root, err = nil, fmt.Errorf("invalid YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, yamlError(err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == io.EOF:
	case err == nil:
		return nil, fmt.Errorf("more than one YAML document (line %d); put all entries in one list", extra.Line)
	default:
		return nil, yamlError(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, nil
	}
	if err := refuseAliases(doc.Content[0]); err != nil {
		return nil, err
	}
	return doc.Content[0], nil
}

func yamlError(err error) error {
	return fmt.Errorf("invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
}

// refuseAliases walks the tree (iteratively: depth is attacker-controlled)
// and fails on the first alias.
func refuseAliases(root *yaml.Node) error {
	stack := []*yaml.Node{root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n.Kind == yaml.AliasNode {
			return fmt.Errorf("YAML aliases (*%s) are not supported (line %d)", clip(n.Value), n.Line)
		}
		stack = append(stack, n.Content...)
	}
	return nil
}

func yamlEntry(src string, index int, item *yaml.Node) (*rawEntry, error) {
	e := &rawEntry{src: src, index: index, line: item.Line}
	switch {
	case item.Kind == yaml.ScalarNode && !isNullNode(item): // `- local-only`
		e.label = item.Value
	case item.Kind == yaml.MappingNode && len(item.Content) == 2:
		k, v := item.Content[0], item.Content[1]
		if k.Kind != yaml.ScalarNode || isNullNode(k) {
			return nil, fmt.Errorf("%s: entry %d: the entry name must be a plain word (line %d)", src, index, k.Line)
		}
		e.label = k.Value
		if err := e.setYAMLValue(v); err != nil {
			return nil, err
		}
	case item.Kind == yaml.MappingNode && len(item.Content) > 2:
		var names []string
		for i := 0; i < len(item.Content) && len(names) < 4; i += 2 {
			names = append(names, strconv.Quote(clip(item.Content[i].Value)))
		}
		return nil, fmt.Errorf("%s: entry %d: a list item must hold exactly one entry, this one has %d keys (%s); "+
			"are the entry's keys indented under its name? (line %d)",
			src, index, len(item.Content)/2, strings.Join(names, ", "), item.Line)
	default:
		return nil, fmt.Errorf("%s: entry %d: expected `- name: {key: value, ...}`, got %s (line %d)",
			src, index, nodeKind(item), item.Line)
	}
	e.name = strings.ToLower(e.label)
	return e, nil
}

func (e *rawEntry) setYAMLValue(v *yaml.Node) error {
	switch {
	case isNullNode(v):
	case v.Kind == yaml.ScalarNode:
		e.bare = &value{node: v}
	case v.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(v.Content); i += 2 {
			k := v.Content[i]
			if k.Kind != yaml.ScalarNode || isNullNode(k) {
				return e.errorf("", "keys must be plain words, got %s (line %d)", nodeKind(k), k.Line)
			}
			if err := e.addKey(k.Value, value{node: v.Content[i+1]}); err != nil {
				return err
			}
		}
	default:
		return e.errorf("", "expected a map of keys, got %s", nodeKind(v))
	}
	return nil
}

func isNullNode(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if isNullNode(n) {
			return "an empty value"
		}
		return strconv.Quote(clip(n.Value))
	}
	return "a YAML document"
}

// clip bounds user text quoted in error messages.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// ---------------------------------------------------------------------------
// Decoding entries into a Config

// decoder holds what cross-entry checks need while entries are decoded.
type decoder struct {
	cfg       *Config
	singleton map[string]*rawEntry // node, log-level, local-only, work-signing
	services  map[string]*rawEntry // control-service names
	tcpAddrs  map[string]*rawEntry // bindaddr:port of listeners (non-zero port)
	sockets   map[string]*rawEntry // Unix socket paths we listen on
	workTypes map[string]*rawEntry
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
		"node":            {decode: (*decoder).node, bareKey: "id", single: true},
		"log-level":       {decode: (*decoder).logLevel, bareKey: "level", single: true},
		"local-only":      {decode: (*decoder).localOnly, single: true},
		"tcp-listener":    {decode: (*decoder).tcpListener, bareKey: "port"},
		"tcp-peer":        {decode: (*decoder).tcpPeer, bareKey: "address"},
		"unix-listener":   {decode: (*decoder).unixListener, bareKey: "filename"},
		"unix-peer":       {decode: (*decoder).unixPeer, bareKey: "filename"},
		"control-service": {decode: (*decoder).controlService},
		"work-command":    {decode: (*decoder).workCommand},
		"work-kubernetes": {decode: (*decoder).workKubernetes},
		"work-signing":    {decode: (*decoder).notYetSupported, single: true, lenient: true},
		"trace":           lenient,
	}
	for _, name := range []string{"tls-server", "tls-client", "udp-listener", "udp-peer",
		"tcp-server", "tcp-client", "udp-server", "udp-client",
		"unix-socket-server", "unix-socket-client", "work-verification"} {
		entryKinds[name] = lenient
	}
}

// refusedEntries are receptor entries meshd does not accept, with the reason.
var refusedEntries = map[string]string{
	"ws-listener":     "websocket links are not supported; use tcp-listener (meshd links are always TLS 1.3)",
	"ws-peer":         "websocket links are not supported; use tcp-peer (meshd links are always TLS 1.3)",
	"cert-init":       "is a command, not configuration; meshd does not implement receptor's certificate commands yet",
	"cert-makereq":    "is a command, not configuration; meshd does not implement receptor's certificate commands yet",
	"cert-signreq":    "is a command, not configuration; meshd does not implement receptor's certificate commands yet",
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
		{key: "firewallrules", set: func(v value) (err error) { n.FirewallRules, err = v.firewallRules(); return },
			note: noteIgnored + " (no firewall rule is enforced)"},
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
	l := ListenerEntry{BindAddr: "0.0.0.0", Cost: 1}
	given, err := d.apply(e, []field{
		{key: "bindaddr", set: func(v value) (err error) { l.BindAddr, err = v.str(); return }},
		{key: "port", set: func(v value) (err error) { l.Port, err = v.port(0); return }},
		{key: "cost", set: func(v value) (err error) { l.Cost, err = v.cost(); return }},
		{key: "nodecost", set: func(v value) (err error) { l.NodeCost, err = v.nodeCost(); return }},
		{key: "allowedpeers", set: func(v value) (err error) { l.AllowedPeers, err = v.nodeIDList(); return }},
		{key: "tls", set: func(v value) (err error) { l.TLS, err = v.str(); return },
			note: noteIgnored + " (meshd links are always TLS 1.3)"},
	})
	if err == nil {
		err = required(e, given, "port")
	}
	if err != nil {
		return err
	}
	if l.Port != 0 {
		if err := d.claimTCP(e, "port", net.JoinHostPort(l.BindAddr, strconv.Itoa(l.Port))); err != nil {
			return err
		}
	}
	d.cfg.TCPListeners = append(d.cfg.TCPListeners, l)
	return nil
}

func (d *decoder) tcpPeer(e *rawEntry) error {
	p := PeerEntry{Cost: 1, Redial: true}
	given, err := d.apply(e, []field{
		{key: "address", set: func(v value) (err error) { p.Address, err = v.dialAddress(); return }},
		{key: "cost", set: func(v value) (err error) { p.Cost, err = v.cost(); return }},
		{key: "redial", set: func(v value) (err error) { p.Redial, err = v.boolean(); return }},
		{key: "allowedpeers", set: func(v value) (err error) { p.AllowedPeers, err = v.nodeIDList(); return }},
		{key: "tls", set: func(v value) (err error) { p.TLS, err = v.str(); return },
			note: noteIgnored + " (meshd links are always TLS 1.3)"},
	})
	if err == nil {
		err = required(e, given, "address")
	}
	if err != nil {
		return err
	}
	d.cfg.TCPPeers = append(d.cfg.TCPPeers, p)
	return nil
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
		{key: "tcptls", set: func(v value) (err error) { c.TCPTLS, err = v.str(); return },
			note: noteIgnored + ": the tcplisten control port serves PLAIN TEXT"},
	})
	if err != nil {
		return err
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
	d.note(e, "", fmt.Sprintf("work type %q accepted, but work units arrive in a later release", w.WorkType))
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
	if n.KeyFile == "" {
		n.KeyFile = filepath.Join(n.DataDir, n.ID, "identity.key")
	}
	return nil
}

// ---------------------------------------------------------------------------
// Values. Scalars are interpreted from their text, so YAML 1.1 files
// (`True`, bare `0660`) mean what they meant to receptor.

func (v value) isNull() bool {
	if v.node == nil {
		return v.text == ""
	}
	return isNullNode(v.node)
}

func (v value) describe() string {
	if v.node == nil {
		return strconv.Quote(clip(v.text))
	}
	return nodeKind(v.node)
}

// scalar returns the text of a single value.
func (v value) scalar() (string, error) {
	if v.node == nil {
		return v.text, nil
	}
	if v.node.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("expected a single value, got %s", nodeKind(v.node))
	}
	return v.node.Value, nil
}

// scalarOrEmpty is scalar for an optional value: nil means "".
func (v *value) scalarOrEmpty() (string, error) {
	if v == nil {
		return "", nil
	}
	return v.scalar()
}

func (v value) str() (string, error) {
	s, err := v.scalar()
	if err == nil && strings.IndexByte(s, 0) >= 0 {
		err = errors.New("contains a NUL byte")
	}
	return s, err
}

func (v value) nonEmpty() (string, error) {
	s, err := v.str()
	if err == nil && s == "" {
		err = errors.New("must not be empty")
	}
	return s, err
}

func (v value) boolean() (bool, error) {
	s, err := v.scalar()
	if err != nil {
		return false, err
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on", "y", "t", "1":
		return true, nil
	case "false", "no", "off", "n", "f", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (true or false)", clip(s))
}

func parseInteger(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 0, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%q is out of range", clip(s))
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", clip(s))
	}
	return n, nil
}

func (v value) port(min int64) (int, error) {
	s, err := v.scalar()
	if err != nil {
		return 0, err
	}
	n, err := parseInteger(s)
	if err != nil {
		return 0, err
	}
	if n < min || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number (%d..65535)", clip(s), min)
	}
	return int(n), nil
}

func parseCost(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%q is not a number", clip(s))
	}
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || f <= 0 {
		return 0, fmt.Errorf("cost %q must be a finite number greater than 0", clip(s))
	}
	return f, nil
}

func (v value) cost() (float64, error) {
	s, err := v.scalar()
	if err != nil {
		return 0, err
	}
	return parseCost(s)
}

func (v value) duration() (time.Duration, error) {
	s, err := v.scalar()
	if err != nil {
		return 0, err
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (like 30s or 2m)", clip(s))
	}
	if dur < 0 {
		return 0, fmt.Errorf("duration %q is negative", clip(s))
	}
	return dur, nil
}

// fileMode reads permissions like strconv.ParseInt(s, 0, 32): `0660` and
// `0o660` are octal, `432` decimal.
func (v value) fileMode() (os.FileMode, error) {
	s, err := v.scalar()
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a file mode (like 0660)", clip(s))
	}
	if n < 0 || n > 0o777 {
		return 0, fmt.Errorf("file mode %q is outside 0..0777", clip(s))
	}
	return os.FileMode(n), nil
}

func (v value) nodeID() (string, error) {
	s, err := v.scalar()
	if err == nil {
		err = checkNodeID(s)
	}
	return s, err
}

func (v value) serviceName() (string, error) {
	s, err := v.scalar()
	if err == nil {
		err = checkName("service name", s, maxServiceLen)
	}
	return s, err
}

func (v value) workType() (string, error) {
	s, err := v.scalar()
	if err == nil {
		err = checkName("work type", s, maxWorkTypeLen)
	}
	return s, err
}

func checkNodeID(s string) error {
	if err := checkName("node ID", s, maxNodeIDLen); err != nil {
		return err
	}
	if strings.EqualFold(s, "localhost") {
		return fmt.Errorf("node ID %q is reserved", s)
	}
	return nil
}

// checkName accepts 1..max bytes of UTF-8 without spaces or control characters.
func checkName(what, s string, max int) error {
	if s == "" {
		return fmt.Errorf("%s must not be empty", what)
	}
	if len(s) > max {
		return fmt.Errorf("%s %q is longer than %d bytes", what, clip(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8", what, clip(s))
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%s %q contains a space or control character", what, clip(s))
		}
	}
	return nil
}

func (v value) socketPath() (string, error) {
	s, err := v.nonEmpty()
	if err == nil && len(s) > maxUnixPathLen {
		err = fmt.Errorf("socket path %q is longer than %d bytes, the limit for Unix sockets", clip(s), maxUnixPathLen)
	}
	return s, err
}

// dialAddress checks a host:port to dial.
func (v value) dialAddress() (string, error) {
	s, err := v.str()
	if err != nil {
		return "", err
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("%q is not host:port", clip(s))
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", fmt.Errorf("%q: port must be a number 1..65535", clip(s))
	}
	return s, nil
}

// tcpListen checks `port` or `host:port` and also returns the address it binds.
func (v value) tcpListen() (string, string, error) {
	s, err := v.str()
	if err != nil {
		return "", "", err
	}
	host, port := "0.0.0.0", s
	if strings.Contains(s, ":") {
		if host, port, err = net.SplitHostPort(s); err != nil {
			return "", "", fmt.Errorf("%q is not a port or host:port", clip(s))
		}
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", "", fmt.Errorf("%q is not a port or host:port", clip(s))
	}
	if n == 0 {
		return s, "", nil
	}
	return s, net.JoinHostPort(host, strconv.FormatUint(n, 10)), nil
}

// compound returns the YAML node of a list or map value: the node itself in a
// file; on the command line, text starting with '[' or '{' parsed as
// JSON/YAML flow syntax, otherwise nil (the caller reads the text).
func (v value) compound() (*yaml.Node, error) {
	if v.node != nil {
		return v.node, nil
	}
	t := strings.TrimSpace(v.text)
	if !strings.HasPrefix(t, "[") && !strings.HasPrefix(t, "{") {
		return nil, nil
	}
	n, err := parseYAML([]byte(t))
	if err == nil && n == nil {
		err = errors.New("empty value")
	}
	return n, err
}

// nodeIDList reads allowedpeers: a YAML list, or a comma-separated string.
func (v value) nodeIDList() ([]string, error) {
	n, err := v.compound()
	if err != nil {
		return nil, err
	}
	var ids []string
	switch {
	case n == nil || n.Kind == yaml.ScalarNode:
		text := v.text
		if n != nil {
			text = n.Value
		}
		ids = strings.Split(text, ",")
		for i := range ids {
			ids[i] = strings.TrimSpace(ids[i])
		}
	case n.Kind == yaml.SequenceNode:
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode || isNullNode(item) {
				return nil, fmt.Errorf("list items must be node IDs, got %s", nodeKind(item))
			}
			ids = append(ids, item.Value)
		}
	default:
		return nil, fmt.Errorf("expected a list of node IDs, got %s", nodeKind(n))
	}
	if len(ids) == 0 {
		return nil, errors.New("empty list would refuse every peer; leave the key out to allow any peer")
	}
	for _, id := range ids {
		if err := checkNodeID(id); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// nodeCost reads a map of node ID to cost: a YAML map, or on the command line
// `n2:2.5,n3:1` or a JSON object.
func (v value) nodeCost() (map[string]float64, error) {
	n, err := v.compound()
	if err != nil {
		return nil, err
	}
	costs := map[string]float64{}
	add := func(id, cost string) error {
		if err := checkNodeID(id); err != nil {
			return err
		}
		if _, dup := costs[id]; dup {
			return fmt.Errorf("node %q given twice", id)
		}
		c, err := parseCost(cost)
		if err != nil {
			return fmt.Errorf("node %q: %v", id, err)
		}
		costs[id] = c
		return nil
	}
	switch {
	case n == nil:
		for _, pair := range strings.Split(v.text, ",") {
			i := strings.LastIndexByte(pair, ':')
			if i < 0 {
				return nil, fmt.Errorf("%q is not node:cost", clip(pair))
			}
			if err := add(strings.TrimSpace(pair[:i]), pair[i+1:]); err != nil {
				return nil, err
			}
		}
	case n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, c := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || c.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("expected node: cost pairs, got %s: %s", nodeKind(k), nodeKind(c))
			}
			if err := add(k.Value, c.Value); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("expected a map of node ID to cost, got %s", nodeKind(n))
	}
	if len(costs) == 0 {
		return nil, nil
	}
	return costs, nil
}

var firewallKeys = map[string]bool{"action": true, "fromnode": true, "tonode": true, "fromservice": true, "toservice": true}

// firewallRules reads receptor's firewall rules: a list of maps with keys
// action (accept, reject or drop), fromnode, tonode, fromservice, toservice;
// a value written /like this/ is an anchored regular expression.
func (v value) firewallRules() ([]map[string]string, error) {
	n, err := v.compound()
	if err != nil {
		return nil, err
	}
	if n == nil {
		return nil, errors.New("expected a JSON list of rules, like [{\"action\":\"reject\",\"tonode\":\"n2\"}]")
	}
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	rules := make([]map[string]string, 0, len(items))
	for i, item := range items {
		if item.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("rule %d: expected a map, got %s", i+1, nodeKind(item))
		}
		rule := map[string]string{}
		for j := 0; j+1 < len(item.Content); j += 2 {
			k, val := item.Content[j], item.Content[j+1]
			key := strings.ToLower(k.Value)
			switch {
			case k.Kind != yaml.ScalarNode || !firewallKeys[key]:
				return nil, fmt.Errorf("rule %d: unknown key %s (known: action, fromnode, tonode, fromservice, toservice)", i+1, nodeKind(k))
			case rule[key] != "":
				return nil, fmt.Errorf("rule %d: key %q given twice", i+1, key)
			case val.Kind != yaml.ScalarNode || isNullNode(val) || val.Value == "":
				return nil, fmt.Errorf("rule %d: key %q: expected a string, got %s", i+1, key, nodeKind(val))
			}
			if err := checkFirewallValue(key, val.Value); err != nil {
				return nil, fmt.Errorf("rule %d: key %q: %v", i+1, key, err)
			}
			rule[key] = val.Value
			if key == "action" {
				rule[key] = strings.ToLower(val.Value)
			}
		}
		if rule["action"] == "" {
			return nil, fmt.Errorf("rule %d: key \"action\" is required", i+1)
		}
		rules = append(rules, rule)
	}
	if len(rules) == 0 {
		return nil, nil
	}
	return rules, nil
}

func checkFirewallValue(key, s string) error {
	if key == "action" {
		switch strings.ToLower(s) {
		case "accept", "reject", "drop":
			return nil
		}
		return fmt.Errorf("%q is not accept, reject or drop", clip(s))
	}
	if !strings.HasPrefix(s, "/") {
		return nil
	}
	if len(s) < 2 || !strings.HasSuffix(s, "/") {
		return fmt.Errorf("%q: a pattern must be written /regexp/", clip(s))
	}
	if _, err := regexp.Compile("^(?:" + s[1:len(s)-1] + ")$"); err != nil {
		return fmt.Errorf("%q: %v", clip(s), err)
	}
	return nil
}
