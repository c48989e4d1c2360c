package cli

// Configuration: receptor's v1 YAML file (a list of single-key maps) and the
// equivalent command-line groups (`--tcp-listener port=2222 ...`) are both
// turned into a list of raw entries, which one decoder turns into a Config.
// The decoder is strict: anything it does not know is an error, and anything
// it accepts without implementing it yet is reported in NotYetSupported.

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Config is a node's whole configuration, in the order it was written.
type Config struct {
	Node             NodeEntry
	LogLevel         string // "error", "warning", "info" or "debug"; default "info"
	LocalOnly        bool
	TCPListeners     []ListenerEntry
	TCPPeers         []PeerEntry
	UDPListeners     []ListenerEntry // receptor's udp-listener: meshd's reliable link over UDP
	UDPPeers         []PeerEntry
	UnixListeners    []UnixListenerEntry
	UnixPeers        []UnixPeerEntry
	ControlServices  []ControlServiceEntry
	WorkCommands     []WorkCommandEntry
	WorkSigning      *WorkSigningEntry
	WorkVerification []WorkVerificationEntry
	WorkKubernetes   []WorkKubernetesEntry // accepted; that work type is listed as unavailable
	Proxies          []ProxyEntry          // tcp-server, tcp-client, udp-server, udp-client, unix-socket-server, unix-socket-client
	TLSServers       []TLSServerEntry      // tls-server: read at start (cli/tls.go)
	TLSClients       []TLSClientEntry      // tls-client
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
	FirewallRules            []map[string]string // receptor key `firewallrules`, checked (keys lower case, action lower case); see mesh.ParseFirewallRules
}

// ListenerEntry is a `tcp-listener` entry.
type ListenerEntry struct {
	BindAddr     string             // default "0.0.0.0"
	Port         int                // required, 0..65535 (0 = pick a free port)
	Cost         float64            // default 1.0, must be > 0
	NodeCost     map[string]float64 // each > 0
	AllowedPeers []string           // nil = anyone
	TLS          string             // tls-server name: certificate trust for this listener's links (tcp-listener only)
}

// PeerEntry is a `tcp-peer` entry.
type PeerEntry struct {
	Address      string  // required, host:port
	Cost         float64 // default 1.0, > 0
	Redial       bool    // default true
	AllowedPeers []string
	TLS          string // tls-client name: certificate trust for this peer's links (tcp-peer only)
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
	TLS         string      // tls-server name (checked to exist); ignored: the mesh service rides TLS 1.3 links
	TCPTLS      string      // tls-server name: TLS on the tcplisten port
}

// WorkCommandEntry is a `work-command` entry.
type WorkCommandEntry struct {
	WorkType           string // required
	Command            string // required
	Params             string
	AllowRuntimeParams bool
	VerifySignature    bool
}

// WorkSigningEntry is the `work-signing` entry: the key this node signs
// remote work with.
type WorkSigningEntry struct {
	PrivateKey      string        // required: Ed25519 or RSA, PEM or OpenSSH format
	TokenExpiration time.Duration // lifetime of a signature; 0 = 5m
	Where           string        // the entry, for errors found when the key is loaded
}

// WorkVerificationEntry is a `work-verification` entry: a key whose
// signatures this node accepts for verifysignature work types.
type WorkVerificationEntry struct {
	PublicKey string // required: Ed25519 or RSA, PEM or OpenSSH format
	Where     string
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
