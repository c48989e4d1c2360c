package cli

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const configDir = "../testdata/config"

// stubHostname makes os.Hostname return name for the rest of the test.
func stubHostname(tb testing.TB, name string) {
	tb.Helper()
	old := hostname
	hostname = func() (string, error) { return name, nil }
	tb.Cleanup(func() { hostname = old })
}

func loadTestdata(t *testing.T, name string) *Config {
	t.Helper()
	c, err := LoadConfigFile(filepath.Join(configDir, name))
	if err != nil {
		t.Fatalf("LoadConfigFile(%s): %v", name, err)
	}
	return c
}

func notesContaining(c *Config, sub string) int {
	n := 0
	for _, s := range c.NotYetSupported {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

func TestTestdataConfigs(t *testing.T) {
	stubHostname(t, "awx-task-6c9d7f8b5-x2k4q")
	ctl := func(service, filename, tcplisten string, perm os.FileMode) ControlServiceEntry {
		return ControlServiceEntry{Service: service, Filename: filename, TCPListen: tcplisten, Permissions: perm}
	}
	tests := []struct {
		file  string
		check func(t *testing.T, c *Config)
	}{
		{"node1.yaml", func(t *testing.T, c *Config) {
			want := &Config{
				Node:         NodeEntry{ID: "node1", DataDir: "data", KeyFile: filepath.Join("data", "node1", "identity.key")},
				LogLevel:     "info",
				TCPListeners: []ListenerEntry{{BindAddr: "0.0.0.0", Port: 27401, Cost: 1}},
				ControlServices: []ControlServiceEntry{
					ctl("control", "node1.sock", "", 0o600),
					ctl("ctltcp", "", "127.0.0.1:27411", 0o600),
				},
				WorkCommands: []WorkCommandEntry{
					{WorkType: "cat", Command: "cat"},
					{WorkType: "uppercase", Command: "bash", Params: `-c "tr a-z A-Z"`},
					{WorkType: "sleep", Command: "sleep", Params: "300"},
					{WorkType: "echo-args", Command: "echo", AllowRuntimeParams: true},
				},
				NotYetSupported: c.NotYetSupported,
			}
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got  %+v\nwant %+v", c, want)
			}
			if len(c.NotYetSupported) != 0 {
				t.Errorf("notes: %q", c.NotYetSupported)
			}
		}},
		{"node2.yaml", func(t *testing.T, c *Config) {
			want := &Config{
				Node:            NodeEntry{ID: "node2", DataDir: "data", KeyFile: filepath.Join("data", "node2", "identity.key")},
				LogLevel:        "info",
				TCPPeers:        []PeerEntry{{Address: "localhost:27401", Cost: 1, Redial: true}},
				TCPListeners:    []ListenerEntry{{BindAddr: "0.0.0.0", Port: 27402, Cost: 1}},
				ControlServices: []ControlServiceEntry{ctl("control", "node2.sock", "", 0o600)},
			}
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got  %+v\nwant %+v", c, want)
			}
		}},
		{"node3.yaml", func(t *testing.T, c *Config) {
			if c.Node.ID != "node3" || len(c.TCPPeers) != 1 || c.TCPPeers[0].Address != "localhost:27402" ||
				len(c.TCPListeners) != 0 || len(c.WorkCommands) != 4 || c.WorkCommands[3].WorkType != "count" ||
				c.WorkCommands[3].Params != `-c "for i in 1 2 3; do echo line $i; sleep 1; done"` {
				t.Errorf("got %+v", c)
			}
		}},
		{"awx-k8s-control.yaml", func(t *testing.T, c *Config) {
			if c.Node.ID != "awx-task-6c9d7f8b5-x2k4q" || c.Node.DataDir != "/tmp/receptor" ||
				c.Node.KeyFile != "/tmp/receptor/awx-task-6c9d7f8b5-x2k4q/identity.key" {
				t.Errorf("node: %+v", c.Node)
			}
			wantRules := []map[string]string{{"action": "reject", "tonode": "awx-task-6c9d7f8b5-x2k4q", "toservice": "control"}}
			if !reflect.DeepEqual(c.Node.FirewallRules, wantRules) {
				t.Errorf("firewall rules: %v", c.Node.FirewallRules)
			}
			if !c.LocalOnly || c.LogLevel != "info" {
				t.Errorf("local-only %v, log level %q", c.LocalOnly, c.LogLevel)
			}
			if want := []ControlServiceEntry{ctl("control", "/var/run/receptor/receptor.sock", "", 0o660)}; !reflect.DeepEqual(c.ControlServices, want) {
				t.Errorf("control services: %+v", c.ControlServices)
			}
			if want := []WorkCommandEntry{{WorkType: "local", Command: "ansible-runner", Params: "worker", AllowRuntimeParams: true}}; !reflect.DeepEqual(c.WorkCommands, want) {
				t.Errorf("work commands: %+v", c.WorkCommands)
			}
			if want := []WorkKubernetesEntry{{"kubernetes-runtime-auth"}, {"kubernetes-incluster-auth"}}; !reflect.DeepEqual(c.WorkKubernetes, want) {
				t.Errorf("work-kubernetes: %+v", c.WorkKubernetes)
			}
			if want := []PeerEntry{{Address: "exec1.example.com:27199", Cost: 1, Redial: true, TLS: "tlsclient"}}; !reflect.DeepEqual(c.TCPPeers, want) {
				t.Errorf("peers: %+v", c.TCPPeers)
			}
			if notesContaining(c, "firewallrules") != 0 {
				t.Errorf("firewallrules reported as not supported: %q", c.NotYetSupported)
			}
			for _, sub := range []string{
				`entry 6 (work-kubernetes): Kubernetes work is not supported yet: work type "kubernetes-runtime-auth" will be listed as unavailable`,
				`entry 7 (work-kubernetes)`,
			} {
				if notesContaining(c, sub) != 1 {
					t.Errorf("no note %q in %q", sub, c.NotYetSupported)
				}
			}
			if want := (&WorkSigningEntry{PrivateKey: "/etc/receptor/work_private_key.pem", TokenExpiration: time.Minute, Where: c.WorkSigning.Where}); !reflect.DeepEqual(c.WorkSigning, want) {
				t.Errorf("work-signing: %+v", c.WorkSigning)
			}
			if notesContaining(c, `(tcp-peer): key "tls"`) != 0 {
				t.Errorf("a peer's tls reported as not supported: %q", c.NotYetSupported)
			}
			if len(c.NotYetSupported) != 2 {
				t.Errorf("%d notes: %q", len(c.NotYetSupported), c.NotYetSupported)
			}
			if len(c.TLSClients) != 1 || c.TLSClients[0].Name != "tlsclient" || c.TLSClients[0].RootCAs != "/etc/receptor/tls/ca/mesh-CA.crt" {
				t.Errorf("tls-client: %+v", c.TLSClients)
			}
		}},
		{"awx-vm-execution.yaml", func(t *testing.T, c *Config) {
			if c.Node.ID != "exec1.example.com" {
				t.Errorf("node %+v", c.Node)
			}
			want := []ControlServiceEntry{{Service: "control", Filename: "/var/run/receptor/receptor.sock", Permissions: 0o660, TLS: "tls_server"}}
			if !reflect.DeepEqual(c.ControlServices, want) {
				t.Errorf("control services: %+v (bare 0660 must be octal)", c.ControlServices)
			}
			if want := []ListenerEntry{{BindAddr: "0.0.0.0", Port: 27199, Cost: 1, TLS: "tls_server"}}; !reflect.DeepEqual(c.TCPListeners, want) {
				t.Errorf("listeners: %+v", c.TCPListeners)
			}
			if want := []PeerEntry{{Address: "hop1.example.com:27199", Cost: 1, Redial: true, TLS: "tls_client"}}; !reflect.DeepEqual(c.TCPPeers, want) {
				t.Errorf("peers: %+v", c.TCPPeers)
			}
			if want := []WorkCommandEntry{{WorkType: "ansible-runner", Command: "ansible-runner", Params: "worker", AllowRuntimeParams: true, VerifySignature: true}}; !reflect.DeepEqual(c.WorkCommands, want) {
				t.Errorf("work commands: %+v", c.WorkCommands)
			}
			if len(c.WorkVerification) != 1 || c.WorkVerification[0].PublicKey == "" {
				t.Errorf("work-verification: %+v", c.WorkVerification)
			}
			if want := []TLSServerEntry{{Name: "tls_server", Cert: "/etc/receptor/tls/exec1.example.com.crt", Key: "/etc/receptor/tls/exec1.example.com.key",
				ClientCAs: "/etc/receptor/tls/ca/mesh-CA.crt", RequireClientCert: true, Where: c.TLSServers[0].Where}}; !reflect.DeepEqual(c.TLSServers, want) {
				t.Errorf("tls-server: %+v", c.TLSServers)
			}
			if want := []TLSClientEntry{{Name: "tls_client", Cert: "/etc/receptor/tls/exec1.example.com.crt", Key: "/etc/receptor/tls/exec1.example.com.key",
				RootCAs: "/etc/receptor/tls/ca/mesh-CA.crt", Where: c.TLSClients[0].Where}}; !reflect.DeepEqual(c.TLSClients, want) {
				t.Errorf("tls-client: %+v", c.TLSClients)
			}
			if notesContaining(c, "(tls-") != 0 {
				t.Errorf("TLS entries reported as not supported: %q", c.NotYetSupported)
			}
			// The mesh control service's tls is receptor's TLS above
			// the mesh, which meshd's TLS links make moot; the links'
			// tls keys are used.
			for sub, want := range map[string]int{`(control-service): key "tls"`: 1, `(tcp-listener): key "tls"`: 0, `(tcp-peer): key "tls"`: 0} {
				if notesContaining(c, sub) != want {
					t.Errorf("%d notes %q in %q", want, sub, c.NotYetSupported)
				}
			}
		}},
		{"awx-vm-hop.yaml", func(t *testing.T, c *Config) {
			if c.Node.ID != "hop1.example.com" || len(c.TCPListeners) != 1 || len(c.TCPPeers) != 0 ||
				len(c.WorkCommands) != 0 || c.ControlServices[0].Permissions != 0o660 {
				t.Errorf("got %+v", c)
			}
		}},
		{"awx-dev-control.yaml", func(t *testing.T, c *Config) {
			if c.Node.ID != "awx-1" || len(c.Node.FirewallRules) != 1 || c.LogLevel != "info" ||
				len(c.TCPListeners) != 1 || c.TCPListeners[0].Port != 2222 ||
				len(c.WorkCommands) != 1 || c.WorkCommands[0].VerifySignature || len(c.WorkKubernetes) != 2 ||
				c.ControlServices[0].Filename != "/var/run/awx-receptor/receptor.sock" {
				t.Errorf("got %+v", c)
			}
		}},
		{"awx-dev-hop.yaml", func(t *testing.T, c *Config) {
			want := &Config{
				Node:            NodeEntry{ID: "receptor-hop", DataDir: "/tmp/receptor", KeyFile: "/tmp/receptor/receptor-hop/identity.key"},
				LogLevel:        "info",
				TCPPeers:        []PeerEntry{{Address: "awx_1:2222", Cost: 1, Redial: true}},
				TCPListeners:    []ListenerEntry{{BindAddr: "0.0.0.0", Port: 5555, Cost: 1}},
				ControlServices: []ControlServiceEntry{ctl("control", "", "", 0o600)},
			}
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got  %+v\nwant %+v", c, want)
			}
		}},
		{"awx-dev-execution.yaml", func(t *testing.T, c *Config) {
			if c.Node.ID != "receptor-1" || len(c.TCPPeers) != 1 || c.TCPPeers[0].Address != "tools_receptor_hop:5555" ||
				len(c.WorkCommands) != 1 || !c.WorkCommands[0].VerifySignature || len(c.ControlServices) != 1 {
				t.Errorf("got %+v", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			tt.check(t, loadTestdata(t, tt.file))
		})
	}

	// Every file in testdata/config is covered above, or is the ws-peer refusal.
	files, _ := filepath.Glob(filepath.Join(configDir, "*.yaml"))
	if len(files) != len(tests)+1 {
		t.Errorf("%d files in %s, %d tested", len(files), configDir, len(tests)+1)
	}
}

func TestWebsocketPeerRefused(t *testing.T) {
	stubHostname(t, "awx-task-6c9d7f8b5-x2k4q")
	path := filepath.Join(configDir, "awx-k8s-control-wspeer.yaml")
	_, err := LoadConfigFile(path)
	want := path + ": entry 10 (ws-peer): websocket links are not supported; use tcp-peer (meshd links are always TLS 1.3)"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestScalarForms(t *testing.T) {
	stubHostname(t, "host1")
	tests := []struct {
		name, yaml string
		check      func(c *Config) bool
	}{
		{"permissions quoted octal", "- control-service: {filename: a.sock, permissions: '0660'}",
			func(c *Config) bool { return c.ControlServices[0].Permissions == 0o660 }},
		{"permissions bare octal", "- control-service: {filename: a.sock, permissions: 0660}",
			func(c *Config) bool { return c.ControlServices[0].Permissions == 0o660 }},
		{"permissions 0o", "- control-service: {filename: a.sock, permissions: 0o640}",
			func(c *Config) bool { return c.ControlServices[0].Permissions == 0o640 }},
		{"permissions decimal", "- control-service: {filename: a.sock, permissions: 432}",
			func(c *Config) bool { return c.ControlServices[0].Permissions == 0o660 }},
		{"permissions default", "- control-service: {filename: a.sock}",
			func(c *Config) bool {
				return c.ControlServices[0].Permissions == 0o600 && c.ControlServices[0].Service == "control"
			}},
		{"booleans YAML 1.1", "- tcp-peer: {address: 'h:1', redial: False}\n- tcp-peer: {address: 'h:2', redial: no}\n- tcp-peer: {address: 'h:3', redial: OFF}\n- tcp-peer: {address: 'h:4', redial: Yes}",
			func(c *Config) bool {
				return !c.TCPPeers[0].Redial && !c.TCPPeers[1].Redial && !c.TCPPeers[2].Redial && c.TCPPeers[3].Redial
			}},
		{"case-insensitive names and keys", "- Node: {ID: n1, DataDir: /d}\n- WORK-COMMAND: {workType: wt, Command: c, AllowRuntimeParams: True}",
			func(c *Config) bool {
				return c.Node.ID == "n1" && c.Node.DataDir == "/d" && c.WorkCommands[0].WorkType == "wt" && c.WorkCommands[0].AllowRuntimeParams
			}},
		{"log-level scalar", "- log-level: Debug", func(c *Config) bool { return c.LogLevel == "debug" }},
		{"log-level map", "- log-level: {level: WARNING}", func(c *Config) bool { return c.LogLevel == "warning" }},
		{"log-level default", "- node: {id: n1}", func(c *Config) bool { return c.LogLevel == "info" }},
		{"local-only null", "- local-only: null", func(c *Config) bool { return c.LocalOnly }},
		{"local-only empty", "- local-only:", func(c *Config) bool { return c.LocalOnly }},
		{"local-only map", "- local-only: {}", func(c *Config) bool { return c.LocalOnly }},
		{"local-only item", "- local-only", func(c *Config) bool { return c.LocalOnly }},
		{"local-only false", "- local-only: false", func(c *Config) bool { return !c.LocalOnly }},
		{"local-only with peers", "- local-only:\n- tcp-peer: {address: 'h:1'}", func(c *Config) bool { return c.LocalOnly && len(c.TCPPeers) == 1 }},
		{"node id bare", "- node: n7", func(c *Config) bool { return c.Node.ID == "n7" }},
		{"node id default hostname", "- node: {datadir: /var/lib/x}",
			func(c *Config) bool { return c.Node.ID == "host1" && c.Node.KeyFile == "/var/lib/x/host1/identity.key" }},
		{"no node entry", "- tcp-listener: 2222", func(c *Config) bool {
			return c.Node.ID == "host1" && c.Node.DataDir == "/tmp/receptor" && c.TCPListeners[0].Port == 2222
		}},
		{"node extensions", "- node: {id: n1, trustfile: /etc/meshd/trust, keyfile: /etc/meshd/n1.key, maxidleconnectiontimeout: 1m30s}",
			func(c *Config) bool {
				return c.Node.TrustFile == "/etc/meshd/trust" && c.Node.KeyFile == "/etc/meshd/n1.key" &&
					c.Node.MaxIdleConnectionTimeout == 90*time.Second
			}},
		{"listener full", "- tcp-listener: {bindaddr: '::1', port: 0, cost: 2.5, nodecost: {n2: 0.5, n3: 3}, allowedpeers: [n2, n3]}",
			func(c *Config) bool {
				return reflect.DeepEqual(c.TCPListeners, []ListenerEntry{{BindAddr: "::1", Port: 0, Cost: 2.5,
					NodeCost: map[string]float64{"n2": 0.5, "n3": 3}, AllowedPeers: []string{"n2", "n3"}}})
			}},
		{"port 0 twice", "- tcp-listener: {port: 0}\n- tcp-listener: {port: 0}", func(c *Config) bool { return len(c.TCPListeners) == 2 }},
		{"same port other address", "- tcp-listener: {port: 1, bindaddr: 127.0.0.1}\n- tcp-listener: {port: 1, bindaddr: 127.0.0.2}",
			func(c *Config) bool { return len(c.TCPListeners) == 2 }},
		{"allowedpeers comma string", "- tcp-peer: {address: 'h:1', allowedpeers: 'n2, n3'}",
			func(c *Config) bool { return reflect.DeepEqual(c.TCPPeers[0].AllowedPeers, []string{"n2", "n3"}) }},
		{"unix link", "- unix-listener: {filename: /tmp/l.sock, permissions: '0666', cost: 2, nodecost: {n2: 1}}\n- unix-peer: {filename: /tmp/p.sock, redial: false, cost: 3, allowedpeers: [n2]}",
			func(c *Config) bool {
				return reflect.DeepEqual(c.UnixListeners, []UnixListenerEntry{{Filename: "/tmp/l.sock", Permissions: 0o666, Cost: 2, NodeCost: map[string]float64{"n2": 1}}}) &&
					reflect.DeepEqual(c.UnixPeers, []UnixPeerEntry{{Filename: "/tmp/p.sock", Cost: 3, AllowedPeers: []string{"n2"}}})
			}},
		{"unix listener default", "- unix-listener: /tmp/l.sock", func(c *Config) bool {
			return reflect.DeepEqual(c.UnixListeners, []UnixListenerEntry{{Filename: "/tmp/l.sock", Permissions: 0o600, Cost: 1}})
		}},
		{"tcplisten port only", "- control-service: {service: c2, tcplisten: 2299}", func(c *Config) bool { return c.ControlServices[0].TCPListen == "2299" }},
		{"tcptls without tcplisten kept", "- control-service: {filename: /tmp/c.sock, tcptls: srv}\n- tls-server: {name: srv, cert: a.crt, key: a.key}", func(c *Config) bool {
			return c.ControlServices[0].TCPTLS == "srv" && notesContaining(c, `key "tcptls": has no effect without tcplisten`) == 1
		}},
		{"tcptls on tcplisten", "- tls-server: {name: srv, cert: a.crt, key: a.key, mintls13: true, pinnedclientcert: ['AB:CD:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD']}\n- control-service: {tcplisten: 2299, tcptls: srv}", func(c *Config) bool {
			return c.ControlServices[0].TCPTLS == "srv" && c.TLSServers[0].MinTLS13 && len(c.TLSServers[0].PinnedClientCert) == 1 && len(c.NotYetSupported) == 0
		}},
		{"tls-client without cert", "- tls-client: {name: c, insecureskipverify: true, pinnedservercert: [" + strings.Repeat("ab", 32) + "]}", func(c *Config) bool {
			return c.TLSClients[0].InsecureSkipVerify && c.TLSClients[0].Cert == "" && len(c.NotYetSupported) == 0
		}},
		{"null key is unset", "- tcp-listener: {port: 1, tls: , cost: ~}", func(c *Config) bool {
			return c.TCPListeners[0].Cost == 1 && c.TCPListeners[0].TLS == "" && len(c.NotYetSupported) == 0
		}},
		{"document markers", "---\n- node: n1\n...\n", func(c *Config) bool { return c.Node.ID == "n1" }},
		{"anchor without alias", "- node: &n {id: n1}", func(c *Config) bool { return c.Node.ID == "n1" }},
		{"cost formats", "- tcp-peer: {address: 'h:1', cost: 1e-3}\n- tcp-peer: {address: 'h:2', cost: 7}", func(c *Config) bool {
			return c.TCPPeers[0].Cost == 0.001 && c.TCPPeers[1].Cost == 7
		}},
		{"firewall regexp and case", "- node: {id: n1, firewallrules: [{Action: DROP, FromNode: '/(?i)bad.*/', toservice: ctl}]}", func(c *Config) bool {
			return reflect.DeepEqual(c.Node.FirewallRules, []map[string]string{{"action": "drop", "fromnode": "/(?i)bad.*/", "toservice": "ctl"}})
		}},
		{"lenient entries", "- trace",
			func(c *Config) bool {
				return len(c.NotYetSupported) == 1 && notesContaining(c, "not supported yet, ignored") == 1
			}},
		{"udp links", "- udp-listener: 2222\n- udp-listener: {port: 2223, bindaddr: 127.0.0.1, cost: 2, allowedpeers: [n2]}\n- udp-peer: {address: 'h:1', redial: false}\n- tcp-listener: 2222",
			func(c *Config) bool {
				return len(c.UDPListeners) == 2 && c.UDPListeners[0].Port == 2222 && c.UDPListeners[1].Cost == 2 &&
					len(c.UDPPeers) == 1 && !c.UDPPeers[0].Redial && len(c.TCPListeners) == 1 && len(c.NotYetSupported) == 0
			}},
		{"kube node keys", "- node: {id: n1, receptorkubeclientsetqps: '100'}", func(c *Config) bool {
			return notesContaining(c, `entry 1 (node): key "receptorkubeclientsetqps": not supported yet`) == 1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig("t.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	stubHostname(t, "host1")
	big := "- node: n1\n#" + strings.Repeat("x", MaxConfigFileSize) + "\n"
	many := strings.Repeat("- trace\n", MaxConfigEntries+1)
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		// The file as a whole.
		{"empty file", "", []string{"bad.yaml: no configuration entries"}},
		{"only comments", "# nothing\n", []string{"bad.yaml: no configuration entries"}},
		{"empty list", "[]", []string{"bad.yaml: no configuration entries"}},
		{"empty document", "---\n...\n", []string{"bad.yaml: no configuration entries"}},
		{"two documents", "- node: n1\n---\n- node: n2\n", []string{"bad.yaml: more than one YAML document"}},
		{"v2 format", "version: 2\nnode: {id: n1}\n", []string{"bad.yaml: expected a YAML list", "v2"}},
		{"scalar file", "hello", []string{"bad.yaml: expected a YAML list", `"hello"`}},
		{"syntax error", "- node: {id: n1\n", []string{"bad.yaml: invalid YAML"}},
		{"tab indentation", "- node:\n\tid: n1\n", []string{"bad.yaml: invalid YAML"}},
		{"too big", big, []string{"bad.yaml: file is larger than"}},
		{"too many entries", many, []string{"bad.yaml: 10001 entries; the limit is 10000"}},
		{"alias", "- node: &a {id: n1}\n- tcp-listener: *a\n", []string{"bad.yaml: YAML aliases (*a) are not supported (line 2)"}},
		{"merge key", "- node: &a {id: n1}\n- node: {<<: *a}\n", []string{"bad.yaml: YAML aliases"}},
		{"deep nesting", strings.Repeat("[", 20000), []string{"bad.yaml: invalid YAML", "depth"}},

		// Entry shape.
		{"two keys in one item", "- tcp-listener:\n  port: 2222\n", []string{"bad.yaml: entry 1: a list item must hold exactly one entry", `"tcp-listener", "port"`, "indented"}},
		{"item is a list", "- [node]\n", []string{"bad.yaml: entry 1: expected `- name:", "a list"}},
		{"item is empty", "- node: n1\n-\n", []string{"bad.yaml: entry 2: expected", "an empty value"}},
		{"entry value is a list", "- node: [n1]\n", []string{"bad.yaml: entry 1 (node): expected a map of keys, got a list"}},
		{"bare value not allowed", "- control-service: ctl\n", []string{"bad.yaml: entry 1 (control-service): expected a map of keys, got \"ctl\""}},
		{"entry name not a word", "- {[a]: b}\n", []string{"bad.yaml: entry 1: the entry name must be a plain word"}},
		{"key not a word", "- node: {[a]: b}\n", []string{"bad.yaml: entry 1 (node): keys must be plain words"}},
		{"unknown entry", "- node: n1\n- tcp-lisener: {port: 1}\n", []string{"bad.yaml: entry 2 (tcp-lisener): unknown entry (line 2)"}},
		{"tcptls undefined", "- control-service: {tcplisten: 2299, tcptls: srv}", []string{`bad.yaml: entry 1 (control-service): key "tcptls": no tls-server entry is named "srv"`}},
		{"tcptls names a tls-client", "- tls-client: {name: c}\n- control-service: {tcplisten: 2299, tcptls: c}", []string{`bad.yaml: entry 2 (control-service): key "tcptls": needs a tls-server, but "c" is a tls-client (bad.yaml: entry 1 (tls-client))`}},
		{"peer tls undefined", "- tcp-peer: {address: 'h:1', tls: nope}", []string{`bad.yaml: entry 1 (tcp-peer): key "tls": no tls-client entry is named "nope"`}},
		{"listener tls undefined", "- tcp-listener: {port: 1, tls: nope}", []string{`bad.yaml: entry 1 (tcp-listener): key "tls": no tls-server entry is named "nope"`}},
		{"tls-server without name", "- tls-server: {cert: a, key: b}", []string{`bad.yaml: entry 1 (tls-server): key "name": is required`}},
		{"tls-server without key", "- tls-server: {name: s, cert: a}", []string{`bad.yaml: entry 1 (tls-server): key "key": is required`}},
		{"tls-server name twice", "- tls-server: {name: s, cert: a, key: b}\n- tls-server: {name: s, cert: a, key: b}", []string{`bad.yaml: entry 2 (tls-server): key "name": tls-server "s" is already defined by bad.yaml: entry 1 (tls-server)`}},
		{"tls-client cert without key", "- tls-client: {name: c, cert: a}", []string{`bad.yaml: entry 1 (tls-client): key "key": is required with cert`}},
		{"tls-client key without cert", "- tls-client: {name: c, key: a}", []string{`bad.yaml: entry 1 (tls-client): key "cert": is required with key`}},
		{"tls-client bad pin", "- tls-client: {name: c, pinnedservercert: [zz]}", []string{`bad.yaml: entry 1 (tls-client): key "pinnedservercert": fingerprint "zz" is not hex`}},
		{"tls-server short pin", "- tls-server: {name: s, cert: a, key: b, pinnedclientcert: abcd}", []string{`key "pinnedclientcert": fingerprint "abcd" is 2 bytes`}},
		{"tls-client unknown key", "- tls-client: {name: c, clientcas: x}", []string{`bad.yaml: entry 1 (tls-client): key "clientcas": unknown key`}},
		{"unknown key", "- tcp-listener: {port: 1, prot: 2}", []string{`bad.yaml: entry 1 (tcp-listener): key "prot": unknown key (known: bindaddr, port, cost, nodecost, allowedpeers, tls)`}},
		{"duplicate key", "- tcp-listener: {port: 1, Port: 2}", []string{`bad.yaml: entry 1 (tcp-listener): key "Port": given twice`}},
		{"ws-listener", "- node: n1\n- ws-listener: {port: 443}", []string{"bad.yaml: entry 2 (ws-listener): websocket links are not supported; use tcp-listener (meshd links are always TLS 1.3)"}},
		{"ws-peer", "- ws-peer: {address: 'wss://h:443/'}", []string{"bad.yaml: entry 1 (ws-peer): websocket links are not supported; use tcp-peer"}},
		{"cert-init", "- cert-init: {commonname: ca, outcert: ca.crt, outkey: ca.key}", []string{"bad.yaml: entry 1 (cert-init): is a command, not configuration"}},
		{"cert-makereq", "- cert-makereq: {}", []string{"bad.yaml: entry 1 (cert-makereq): is a command"}},
		{"cert-signreq", "- cert-signreq: {}", []string{"bad.yaml: entry 1 (cert-signreq): is a command"}},
		{"ip-router", "- ip-router: {networkname: x}", []string{"bad.yaml: entry 1 (ip-router): is not supported by meshd"}},
		{"command-runner", "- command-runner: {}", []string{"bad.yaml: entry 1 (command-runner): is not supported by meshd"}},
		{"command-service", "- command-service: {}", []string{"bad.yaml: entry 1 (command-service): is not supported by meshd"}},
		{"bash-completion", "- bash-completion", []string{"bad.yaml: entry 1 (bash-completion): is not supported by meshd"}},
		{"lenient entry with list", "- tls-server: [a]", []string{"bad.yaml: entry 1 (tls-server): expected a map of keys, got a list"}},
		{"proxy tlsserver undefined", "- tcp-server: {port: 1, remotenode: n2, remoteservice: s, tlsserver: srv}", []string{`bad.yaml: entry 1 (tcp-server): key "tlsserver": no tls-server entry is named "srv"`}},
		{"proxy tlsclient undefined", "- tcp-client: {service: s, address: 'h:1', tlsclient: cli}", []string{`bad.yaml: entry 1 (tcp-client): key "tlsclient": no tls-client entry is named "cli"`}},
		{"unix proxy tls undefined", "- unix-socket-client: {service: s, filename: /tmp/x, tls: srv}", []string{`bad.yaml: entry 1 (unix-socket-client): key "tls": no tls-server entry is named "srv"`}},

		// node
		{"two nodes", "- node: n1\n- node: n2", []string{"bad.yaml: entry 2 (node): only one node entry is allowed (the first is bad.yaml: entry 1 (node))"}},
		{"node localhost", "- node: {id: LocalHost}", []string{`bad.yaml: entry 1 (node): key "id": node ID "LocalHost" is reserved`}},
		{"node id space", "- node: {id: 'a b'}", []string{`bad.yaml: entry 1 (node): key "id": node ID "a b" contains a space`}},
		{"node id control", "- node: {id: \"a\\tb\"}", []string{`bad.yaml: entry 1 (node): key "id"`, "control character"}},
		{"node id too long", "- node: {id: " + strings.Repeat("n", 65) + "}", []string{`bad.yaml: entry 1 (node): key "id"`, "longer than 64 bytes"}},
		{"node id empty", "- node: {id: ''}", []string{`bad.yaml: entry 1 (node): key "id": node ID must not be empty`}},
		{"node id map", "- node: {id: {a: b}}", []string{`bad.yaml: entry 1 (node): key "id": expected a single value, got a map`}},
		{"node bad duration", "- node: {id: n1, maxidleconnectiontimeout: 30}", []string{`bad.yaml: entry 1 (node): key "maxidleconnectiontimeout": "30" is not a duration`}},
		{"node negative duration", "- node: {id: n1, maxidleconnectiontimeout: -5s}", []string{`key "maxidleconnectiontimeout": duration "-5s" is negative`}},
		{"node empty datadir", "- node: {id: n1, datadir: ''}", []string{`bad.yaml: entry 1 (node): key "datadir": must not be empty`}},
		{"node NUL", "- node: {id: n1, datadir: \"a\\0b\"}", []string{`bad.yaml: entry 1 (node): key "datadir": contains a NUL byte`}},
		{"firewall not a list of maps", "- node: {firewallrules: [reject]}", []string{`bad.yaml: entry 1 (node): key "firewallrules": rule 1: expected a map, got "reject"`}},
		{"firewall bad action", "- node: {firewallrules: [{action: deny}]}", []string{`key "firewallrules": rule 1: key "action": "deny" is not accept, reject or drop`}},
		{"firewall no action", "- node: {firewallrules: [{tonode: n2}]}", []string{`key "firewallrules": rule 1: key "action" is required`}},
		{"firewall unknown key", "- node: {firewallrules: [{action: drop, port: 22}]}", []string{`key "firewallrules": rule 1: unknown key "port"`}},
		{"firewall slash", "- node: {firewallrules: [{action: drop, tonode: /}]}", []string{`key "firewallrules": rule 1: key "tonode": "/": a pattern must be written /regexp/`}},
		{"firewall bad regexp", "- node: {firewallrules: [{action: drop, tonode: /a(b/}]}", []string{`key "firewallrules": rule 1: key "tonode": "/a(b/"`}},
		{"firewall value map", "- node: {firewallrules: [{action: drop, tonode: {a: b}}]}", []string{`rule 1: key "tonode": expected a string, got a map`}},

		// log-level, local-only
		{"log-level bad", "- log-level: verbose", []string{`bad.yaml: entry 1 (log-level): key "level": "verbose" is not a log level (error, warning, info or debug)`}},
		{"log-level bad key", "- log-level: {lvl: debug}", []string{`bad.yaml: entry 1 (log-level): key "lvl": unknown key`}},
		{"log-level empty", "- log-level: {}", []string{`bad.yaml: entry 1 (log-level): key "level": is required`}},
		{"two log-levels", "- log-level: info\n- log-level: debug", []string{"bad.yaml: entry 2 (log-level): only one log-level entry is allowed"}},
		{"local-only bad", "- local-only: maybe", []string{`bad.yaml: entry 1 (local-only): "maybe" is not a boolean`}},
		{"local-only key", "- local-only: {x: 1}", []string{`bad.yaml: entry 1 (local-only): key "x": unknown key`}},

		// tcp-listener
		{"port not integer", "- node: n1\n- log-level: info\n- tcp-listener: {port: abc}", []string{`bad.yaml: entry 3 (tcp-listener): key "port": "abc" is not an integer (line 3)`}},
		{"port too big", "- tcp-listener: {port: 65536}", []string{`bad.yaml: entry 1 (tcp-listener): key "port": "65536" is not a port number (0..65535)`}},
		{"port negative", "- tcp-listener: {port: -1}", []string{`key "port": "-1" is not a port number`}},
		{"port huge", "- tcp-listener: {port: 99999999999999999999999}", []string{`key "port": "99999999999999999999999" is out of range`}},
		{"port float", "- tcp-listener: {port: 22.5}", []string{`key "port": "22.5" is not an integer`}},
		{"port missing", "- tcp-listener: {cost: 2}", []string{`bad.yaml: entry 1 (tcp-listener): key "port": is required`}},
		{"port null", "- tcp-listener: {port: }", []string{`bad.yaml: entry 1 (tcp-listener): key "port": is required`}},
		{"cost zero", "- tcp-listener: {port: 1, cost: 0}", []string{`bad.yaml: entry 1 (tcp-listener): key "cost": cost "0" must be a finite number greater than 0`}},
		{"cost negative", "- tcp-listener: {port: 1, cost: -2}", []string{`key "cost": cost "-2" must be`}},
		{"cost text", "- tcp-listener: {port: 1, cost: cheap}", []string{`key "cost": "cheap" is not a number`}},
		{"cost inf", "- tcp-listener: {port: 1, cost: 1e999}", []string{`key "cost": cost "1e999" must be a finite number`}},
		{"cost Inf", "- tcp-listener: {port: 1, cost: Inf}", []string{`key "cost": cost "Inf" must be a finite number`}},
		{"cost NaN", "- tcp-listener: {port: 1, cost: NaN}", []string{`key "cost": cost "NaN" must be a finite number`}},
		{"nodecost zero", "- tcp-listener: {port: 1, nodecost: {n2: 0}}", []string{`bad.yaml: entry 1 (tcp-listener): key "nodecost": node "n2": cost "0" must be`}},
		{"nodecost list", "- tcp-listener: {port: 1, nodecost: [n2]}", []string{`key "nodecost": expected a map of node ID to cost, got a list`}},
		{"nodecost bad node", "- tcp-listener: {port: 1, nodecost: {localhost: 1}}", []string{`key "nodecost": node ID "localhost" is reserved`}},
		{"allowedpeers empty", "- tcp-listener: {port: 1, allowedpeers: []}", []string{`bad.yaml: entry 1 (tcp-listener): key "allowedpeers": empty list would refuse every peer`}},
		{"allowedpeers map", "- tcp-listener: {port: 1, allowedpeers: {a: b}}", []string{`key "allowedpeers": expected a list of node IDs, got a map`}},
		{"allowedpeers nested", "- tcp-listener: {port: 1, allowedpeers: [[a]]}", []string{`key "allowedpeers": list items must be node IDs, got a list`}},
		{"allowedpeers empty item", "- tcp-listener: {port: 1, allowedpeers: 'a,,b'}", []string{`key "allowedpeers": node ID must not be empty`}},
		{"same listener twice", "- tcp-listener: {port: 2222}\n- tcp-listener: 2222", []string{`bad.yaml: entry 2 (tcp-listener): key "port": 0.0.0.0:2222 is already used by bad.yaml: entry 1 (tcp-listener)`}},
		{"listener vs control tcplisten", "- tcp-listener: {port: 2222}\n- control-service: {tcplisten: 2222}", []string{`bad.yaml: entry 2 (control-service): key "tcplisten": 0.0.0.0:2222 is already used by bad.yaml: entry 1 (tcp-listener)`}},

		// tcp-peer
		{"peer no address", "- tcp-peer: {cost: 1}", []string{`bad.yaml: entry 1 (tcp-peer): key "address": is required`}},
		{"peer no port", "- tcp-peer: {address: example.com}", []string{`bad.yaml: entry 1 (tcp-peer): key "address": "example.com" is not host:port`}},
		{"peer port 0", "- tcp-peer: {address: 'h:0'}", []string{`key "address": "h:0": port must be a number 1..65535`}},
		{"peer port name", "- tcp-peer: {address: 'h:http'}", []string{`key "address": "h:http": port must be a number`}},
		{"peer bad redial", "- tcp-peer: {address: 'h:1', redial: sometimes}", []string{`bad.yaml: entry 1 (tcp-peer): key "redial": "sometimes" is not a boolean`}},
		{"peer nodecost", "- tcp-peer: {address: 'h:1', nodecost: {n2: 1}}", []string{`bad.yaml: entry 1 (tcp-peer): key "nodecost": unknown key`}},

		// unix links
		{"unix listener no file", "- unix-listener: {permissions: 0600}", []string{`bad.yaml: entry 1 (unix-listener): key "filename": is required`}},
		{"unix path too long", "- unix-peer: {filename: /" + strings.Repeat("d", 120) + "}", []string{`bad.yaml: entry 1 (unix-peer): key "filename": socket path`, "longer than 107 bytes"}},
		{"unix socket twice", "- unix-listener: /tmp/a.sock\n- control-service: {filename: /tmp/./a.sock}", []string{`bad.yaml: entry 2 (control-service): key "filename": socket /tmp/./a.sock is already used by bad.yaml: entry 1 (unix-listener)`}},

		// control-service
		{"permissions not octal", "- control-service: {filename: a.sock, permissions: 0999}", []string{`bad.yaml: entry 1 (control-service): key "permissions": "0999" is not a file mode`}},
		{"permissions too big", "- control-service: {filename: a.sock, permissions: 01777}", []string{`key "permissions": file mode "01777" is outside 0..0777`}},
		{"permissions text", "- control-service: {filename: a.sock, permissions: rw}", []string{`key "permissions": "rw" is not a file mode`}},
		{"duplicate service", "- control-service: {filename: a.sock}\n- control-service: {service: control, filename: b.sock}",
			[]string{`bad.yaml: entry 2 (control-service): key "service": service "control" is already used by bad.yaml: entry 1 (control-service)`}},
		{"service too long", "- control-service: {service: controlsvc}", []string{`bad.yaml: entry 1 (control-service): key "service": service name "controlsvc" is longer than 8 bytes`}},
		{"tcplisten bad", "- control-service: {tcplisten: 'a:b:c'}", []string{`bad.yaml: entry 1 (control-service): key "tcplisten": "a:b:c" is not a port or host:port`}},
		{"tcplisten port too big", "- control-service: {tcplisten: 70000}", []string{`key "tcplisten": "70000" is not a port or host:port`}},

		// work
		{"work-command no command", "- work-command: {worktype: cat}", []string{`bad.yaml: entry 1 (work-command): key "command": is required`}},
		{"work-command no worktype", "- work-command: {command: cat}", []string{`bad.yaml: entry 1 (work-command): key "worktype": is required`}},
		{"work-command bad bool", "- work-command: {worktype: cat, command: cat, allowruntimeparams: sure}", []string{`bad.yaml: entry 1 (work-command): key "allowruntimeparams": "sure" is not a boolean`}},
		{"work-command unknown key", "- work-command: {worktype: cat, command: cat, timeout: 5}", []string{`bad.yaml: entry 1 (work-command): key "timeout": unknown key`}},
		{"work-command params list", "- work-command: {worktype: cat, command: cat, params: [a, b]}", []string{`key "params": expected a single value, got a list`}},
		{"work type twice", "- work-command: {worktype: cat, command: cat}\n- work-kubernetes: {worktype: cat}",
			[]string{`bad.yaml: entry 2 (work-kubernetes): key "worktype": work type "cat" is already defined by bad.yaml: entry 1 (work-command)`}},
		{"work-kubernetes no worktype", "- work-kubernetes: {authmethod: incluster}", []string{`bad.yaml: entry 1 (work-kubernetes): key "worktype": is required`}},
		{"work type with space", "- work-command: {worktype: 'my type', command: cat}", []string{`key "worktype": work type "my type" contains a space`}},
		{"two work-signing", "- work-signing: {privatekey: a}\n- work-signing: {privatekey: b}", []string{"bad.yaml: entry 2 (work-signing): only one work-signing entry is allowed"}},
		{"work-signing no key", "- work-signing: {tokenexpiration: 1m}", []string{`bad.yaml: entry 1 (work-signing): key "privatekey": is required`}},
		{"work-signing bad duration", "- work-signing: {privatekey: k, tokenexpiration: soon}", []string{`bad.yaml: entry 1 (work-signing): key "tokenexpiration"`}},
		{"work-verification no key", "- work-verification: {}", []string{`bad.yaml: entry 1 (work-verification): key "publickey": is required`}},
		{"verifysignature without key", "- work-command: {worktype: cat, command: cat, verifysignature: true}",
			[]string{`bad.yaml: entry 1 (work-command): key "verifysignature": work type "cat" verifies signatures, but there is no work-verification entry`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig("bad.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestHostnameDefault(t *testing.T) {
	for _, tt := range []struct{ host, want string }{
		{"localhost", `host name is "localhost", which cannot be a node ID`},
		{"LOCALHOST.localdomain", `host name is "LOCALHOST.localdomain"`},
		{"", "node ID must not be empty"},
		{"bad host", "contains a space"},
	} {
		stubHostname(t, tt.host)
		_, err := ParseConfig("h.yaml", []byte("- tcp-listener: 1"))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "node id=NAME") {
			t.Errorf("host %q: got %v, want %q", tt.host, err, tt.want)
		}
	}
	hostname = func() (string, error) { return "", errors.New("no uts") }
	if _, err := ParseConfig("h.yaml", []byte("- tcp-listener: 1")); err == nil || !strings.Contains(err.Error(), "no uts") {
		t.Errorf("hostname failure: got %v", err)
	}
	// An explicit id never consults the host name.
	if c, err := ParseConfig("h.yaml", []byte("- node: n1")); err != nil || c.Node.ID != "n1" {
		t.Errorf("explicit id: %v %+v", err, c)
	}
}

func TestBoundedInput(t *testing.T) {
	stubHostname(t, "host1")
	var laughs strings.Builder
	laughs.WriteString("- work-kubernetes: {worktype: a, x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]}\n")
	for i := 1; i < 12; i++ {
		laughs.WriteString("- work-kubernetes: {worktype: w" + string(rune('a'+i)) + ", x: &a" + string(rune('a'+i)) + " [")
		for j := 0; j < 9; j++ {
			if j > 0 {
				laughs.WriteString(", ")
			}
			if i == 1 {
				laughs.WriteString("*a0")
			} else {
				laughs.WriteString("*a" + string(rune('a'+i-1)))
			}
		}
		laughs.WriteString("]}\n")
	}
	inputs := map[string]string{
		"billion laughs": laughs.String(),
		"deep flow":      strings.Repeat("[", MaxConfigFileSize-1),
		"deep maps":      strings.Repeat("{a: ", 200000),
		"wide list":      "- node: {firewallrules: [" + strings.Repeat("{action: drop},", MaxConfigFileSize/16-10) + "]}",
		"many keys":      "- work-kubernetes: {" + strings.Repeat("k: v, ", 10) + "}",
		"deep chunks":    strings.Repeat("- node: "+strings.Repeat("[", 9990)+strings.Repeat("]", 9990)+"\n", 52),
		"long scalar":    "- node: {id: " + strings.Repeat("x", MaxConfigFileSize-100) + "}",
	}
	// No time limit here (timings belong in benchmarks): a parser that
	// blew up on these would run into the test binary's timeout.
	for name, in := range inputs {
		start := time.Now()
		_, err := ParseConfig(name, []byte(in))
		t.Logf("%s: %v", name, time.Since(start))
		if err == nil && name != "wide list" {
			t.Errorf("%s: no error", name)
		}
		if err != nil && len(err.Error()) > 400 {
			t.Errorf("%s: error of %d bytes: %.100s...", name, len(err.Error()), err)
		}
	}
}

func TestLoadConfigFile(t *testing.T) {
	stubHostname(t, "host1")
	dir := t.TempDir()
	if _, err := LoadConfigFile(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := LoadConfigFile(dir); err == nil {
		t.Errorf("directory: no error")
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("- node: n1\n#"+strings.Repeat("x", MaxConfigFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfigFile(big); err == nil || !strings.Contains(err.Error(), big+": file is larger than") {
		t.Errorf("big file: %v", err)
	}
}

// stripSources drops the "source: entry N (name)" prefix of notes, which
// differs between a file and the command line by design.
func stripSources(c *Config) []string {
	var out []string
	for _, n := range c.NotYetSupported {
		i := strings.Index(n, "): ")
		out = append(out, n[i+3:])
	}
	c.NotYetSupported = nil
	if c.WorkSigning != nil {
		c.WorkSigning.Where = ""
	}
	for i := range c.WorkVerification {
		c.WorkVerification[i].Where = ""
	}
	for i := range c.TLSServers {
		c.TLSServers[i].Where = ""
	}
	for i := range c.TLSClients {
		c.TLSClients[i].Where = ""
	}
	for i := range c.Proxies {
		c.Proxies[i].Where = ""
	}
	return out
}

func TestFlagsEqualYAML(t *testing.T) {
	stubHostname(t, "host1")
	node1, err := os.ReadFile(filepath.Join(configDir, "node1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		yaml string
		args string // split on spaces
	}{
		{"brief example",
			"- node: {id: n1}\n- tcp-listener: {port: 2222}\n- tcp-peer: {address: '127.0.0.1:2223'}\n- control-service: {filename: /tmp/n1.sock}\n- local-only:\n",
			"--node id=n1 --tcp-listener port=2222 --tcp-peer address=127.0.0.1:2223 --control-service filename=/tmp/n1.sock --local-only"},
		{"node1.yaml", string(node1),
			"--node id=node1 datadir=data --log-level level=info --tcp-listener port=27401 " +
				"--control-service service=control filename=node1.sock --control-service service=ctltcp tcplisten=127.0.0.1:27411 " +
				"--work-command worktype=cat command=cat --work-command worktype=uppercase command=bash params=-c\x00\"tr\x00a-z\x00A-Z\" " +
				"--work-command worktype=sleep command=sleep params=300 --work-command worktype=echo-args command=echo allowruntimeparams=true"},
		{"every key",
			`- node: {id: n1, datadir: /var/lib/meshd, trustfile: /etc/meshd/trust, keyfile: /etc/meshd/key, maxidleconnectiontimeout: 45s,
    firewallrules: [{action: reject, tonode: n1, toservice: control}, {action: drop, fromnode: '/n[0-9]+/'}]}
- log-level: {level: debug}
- local-only: false
- tcp-listener: {bindaddr: 127.0.0.1, port: 2222, cost: 2.5, nodecost: {n2: 1.5, n3: 4}, allowedpeers: [n2, n3], tls: srv}
- tcp-peer: {address: '127.0.0.1:2223', cost: 1.5, redial: no, allowedpeers: [n4], tls: cli}
- unix-listener: {filename: /tmp/n1.link, permissions: 0660, cost: 3, nodecost: {n5: 2}, allowedpeers: [n5]}
- unix-peer: {filename: /tmp/n2.link, redial: off, cost: 2, allowedpeers: [n6]}
- control-service: {service: control, filename: /tmp/n1.sock, permissions: '0640', tls: srv}
- control-service: {service: ctltcp, tcplisten: "127.0.0.1:27411"}
- work-command: {worktype: wt, command: /bin/echo, params: hello, allowruntimeparams: yes, verifysignature: true}
- work-kubernetes: {worktype: kube, authmethod: incluster, allowruntimepod: true}
- tls-server: {name: srv, cert: a.crt, key: a.key}
- tls-client: {name: cli, rootcas: ca.crt, pinnedservercert: ['` + strings.Repeat("AB:", 31) + `AB', ` + strings.Repeat("cd", 32) + `], mintls13: true}
- work-signing: {privatekey: k.pem, tokenexpiration: 1m}
- work-verification: {publickey: k.pub}
`,
			"--node id=n1 datadir=/var/lib/meshd trustfile=/etc/meshd/trust keyfile=/etc/meshd/key maxidleconnectiontimeout=45s " +
				`firewallrules=[{"action":"reject","tonode":"n1","toservice":"control"},{"action":"drop","fromnode":"/n[0-9]+/"}] ` +
				"--log-level debug --local-only false " +
				"--tcp-listener bindaddr=127.0.0.1 port=2222 cost=2.5 nodecost=n2:1.5,n3:4 allowedpeers=n2,n3 tls=srv " +
				"--tcp-peer address=127.0.0.1:2223 cost=1.5 redial=no allowedpeers=n4 tls=cli " +
				`--unix-listener filename=/tmp/n1.link permissions=0660 cost=3 nodecost={"n5":2} allowedpeers=["n5"] ` +
				"--unix-peer /tmp/n2.link redial=off cost=2 allowedpeers=n6 " +
				"--control-service service=control filename=/tmp/n1.sock permissions=0640 tls=srv " +
				"--control-service service=ctltcp tcplisten=127.0.0.1:27411 " +
				"--work-command worktype=wt command=/bin/echo params=hello allowruntimeparams=yes verifysignature=true " +
				"--work-kubernetes worktype=kube authmethod=incluster allowruntimepod=true " +
				"--tls-server name=srv cert=a.crt key=a.key --tls-client name=cli rootcas=ca.crt pinnedservercert=" + strings.Repeat("AB:", 31) + "AB," + strings.Repeat("cd", 32) + " mintls13=true --work-signing privatekey=k.pem tokenexpiration=1m --work-verification publickey=k.pub"},
		{"bare values", "- node: n1\n- log-level: warning\n- tcp-listener: 2222\n- tcp-peer: 'h:1'\n- unix-listener: /tmp/x\n- unix-peer: /tmp/y\n",
			"--node n1 --log-level=warning --tcp-listener 2222 --tcp-peer=h:1 --unix-listener /tmp/x --unix-peer filename=/tmp/y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fromFile, err := ParseConfig("f.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			var args []string
			for _, a := range strings.Fields(tt.args) {
				args = append(args, strings.ReplaceAll(a, "\x00", " "))
			}
			fromFlags, err := ParseArgsConfig(args)
			if err != nil {
				t.Fatal(err)
			}
			fileNotes, flagNotes := stripSources(fromFile), stripSources(fromFlags)
			if !reflect.DeepEqual(fromFile, fromFlags) {
				t.Errorf("file  %+v\nflags %+v", fromFile, fromFlags)
			}
			if !reflect.DeepEqual(fileNotes, flagNotes) {
				t.Errorf("notes differ:\nfile  %q\nflags %q", fileNotes, flagNotes)
			}
		})
	}
}

func TestParseArgsConfig(t *testing.T) {
	stubHostname(t, "host1")
	dir := t.TempDir()
	n2 := filepath.Join(dir, "n2.yaml")
	extra := filepath.Join(dir, "extra.yaml")
	if err := os.WriteFile(n2, []byte("- node: {id: n2}\n- tcp-peer: {address: 'h:1'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(extra, []byte("- tcp-peer: {address: 'h:2'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	peers := func(c *Config) string {
		var s []string
		for _, p := range c.TCPPeers {
			s = append(s, p.Address)
		}
		return strings.Join(s, " ")
	}
	for _, tt := range []struct {
		args      []string
		wantPeers string
	}{
		{[]string{"-c", n2}, "h:1"},
		{[]string{"--config", n2}, "h:1"},
		{[]string{"--config=" + n2}, "h:1"},
		{[]string{"-c=" + n2}, "h:1"},
		// Flag entries come after all file entries, wherever they are written.
		{[]string{"--tcp-peer", "address=h:9", "-c", n2, "--tcp-peer", "h:8", "-c", extra}, "h:1 h:2 h:9 h:8"},
	} {
		c, err := ParseArgsConfig(tt.args)
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if c.Node.ID != "n2" || peers(c) != tt.wantPeers {
			t.Errorf("%q: node %q, peers %q; want n2, %q", tt.args, c.Node.ID, peers(c), tt.wantPeers)
		}
	}

	if _, err := ParseArgsConfig([]string{"--help"}); !errors.Is(err, ErrHelp) {
		t.Errorf("--help: %v", err)
	}
	if _, err := ParseArgsConfig([]string{"-h"}); !errors.Is(err, ErrHelp) {
		t.Errorf("-h: %v", err)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "no configuration: use -c FILE or --node id=... entries"},
		{[]string{}, "no configuration: use -c FILE or --node id=... entries"},
		{[]string{"n1"}, `command line: "n1": expected -c FILE or a --entry flag first`},
		{[]string{"--frobnicate", "x=1"}, "command line: entry 1 (--frobnicate): unknown flag"},
		{[]string{"--node", "n1", "--ws-peer", "address=h:1"}, "command line: entry 2 (--ws-peer): websocket links are not supported; use tcp-peer"},
		{[]string{"--tcp-listener", "port=abc"}, `command line: entry 1 (--tcp-listener): key "port": "abc" is not an integer`},
		{[]string{"--control-service", "ctl"}, `command line: entry 1 (--control-service): "ctl" is not key=value`},
		{[]string{"--work-command", "worktype=a", "cat"}, `command line: entry 1 (--work-command): "cat" is not key=value`},
		{[]string{"--node", "n1", "n2"}, `command line: entry 1 (--node): "n2" is not key=value`},
		{[]string{"--node", "n1", "id=n2"}, `command line: entry 1 (--node): key "id": given twice`},
		{[]string{"--tcp-listener", "=5"}, `command line: entry 1 (--tcp-listener): "=5" is not key=value`},
		{[]string{"--tcp-listener", "port=1", "nodecost=n2"}, `command line: entry 1 (--tcp-listener): key "nodecost": "n2" is not node:cost`},
		{[]string{"--tcp-listener", "port=1", "nodecost={bad"}, `command line: entry 1 (--tcp-listener): key "nodecost": invalid YAML`},
		{[]string{"--tcp-listener", "port=1", "allowedpeers=[*a]"}, `command line: entry 1 (--tcp-listener): key "allowedpeers": invalid YAML`},
		{[]string{"--node", "firewallrules=reject"}, `command line: entry 1 (--node): key "firewallrules": expected a JSON list of rules`},
		{[]string{"--tcp-listener"}, `command line: entry 1 (--tcp-listener): key "port": is required`},
		{[]string{"--tcp-listener", "port="}, `command line: entry 1 (--tcp-listener): key "port": is required`},
		{[]string{"--local-only", "maybe"}, `command line: entry 1 (--local-only): "maybe" is not a boolean`},
		{[]string{"--local-only", "a=b"}, `command line: entry 1 (--local-only): key "a": unknown key`},
		{[]string{"--node", "n1", "--node", "n2"}, "command line: entry 2 (--node): only one node entry is allowed (the first is command line: entry 1 (--node))"},
		{[]string{"-c"}, "command line: -c needs a file name"},
		{[]string{"-c", "--node", "n1"}, "command line: -c needs a file name"},
		{[]string{"--config="}, "command line: --config= needs a file name"},
		{[]string{"--", "x"}, `command line: "--" is not a flag`},
		{[]string{"-c", filepath.Join(dir, "missing.yaml")}, "missing.yaml"},
		{[]string{"-c", n2, "--node", "n3"}, "command line: entry 1 (--node): only one node entry is allowed (the first is " + n2 + ": entry 1 (node))"},
		{[]string{"--cert-init", "commonname=ca"}, "command line: entry 1 (--cert-init): is a command, not configuration"},
		{[]string{"--ip-router", "networkname=x"}, "command line: entry 1 (--ip-router): is not supported by meshd"},
		{[]string{"--config", n2, "--config", extra, "--config", n2}, n2 + ": entry 1 (node): only one node entry is allowed"},
	} {
		_, err := ParseArgsConfig(tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q:\n got %v\nwant %s", tt.args, err, tt.want)
		}
	}
}

func TestLocalOnlyForms(t *testing.T) {
	stubHostname(t, "host1")
	for in, want := range map[string]bool{
		"- local-only": true, "- local-only:": true, "- local-only: null": true, "- local-only: ~": true,
		"- local-only: {}": true, "- local-only: ''": true, "- local-only: true": true, "- local-only: Yes": true,
		"- local-only: false": false, "- local-only: off": false, "- local-only: NO": false,
	} {
		c, err := ParseConfig("l.yaml", []byte(in))
		if err != nil || c.LocalOnly != want {
			t.Errorf("%q: %v, %+v; want LocalOnly %v", in, err, c, want)
		}
	}
	for args, want := range map[string]bool{"--local-only": true, "--local-only true": true, "--local-only false": false, "--local-only=no": false} {
		c, err := ParseArgsConfig(strings.Fields(args))
		if err != nil || c.LocalOnly != want {
			t.Errorf("%q: %v, %+v; want LocalOnly %v", args, err, c, want)
		}
	}
}

func TestHostnameErrorNamesNodeEntry(t *testing.T) {
	stubHostname(t, "localhost")
	_, err := ParseConfig("k8s.yaml", []byte("- log-level: info\n- node: {datadir: /d}\n"))
	want := `k8s.yaml: entry 2 (node): no id given and the host name is "localhost", which cannot be a node ID`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v\nwant %s", err, want)
	}
}
