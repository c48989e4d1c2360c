package cli

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestProxyEntries(t *testing.T) {
	stubHostname(t, "host1")
	yaml := `
- node: n1
- tcp-server: {port: 8080, remotenode: localhost, remoteservice: control}
- tcp-client: {service: web, address: 'db.example.com:5432', tlsserver: srv}
- udp-server: {port: 5353, bindaddr: 127.0.0.1, remotenode: n4, remoteservice: dns}
- udp-client: {service: dns, address: '127.0.0.1:53'}
- unix-socket-server: {filename: /tmp/p.sock, permissions: 0660, remotenode: n2, remoteservice: web}
- unix-socket-client: {service: usock, filename: /run/app.sock}
- tls-server: {name: srv, cert: a.crt, key: a.key}
- tls-client: {name: srv}
- tcp-server: {port: 8443, remotenode: n2, remoteservice: web, tlsserver: srv}
- tcp-client: {service: web2, address: 'db.example.com:5433', tlsclient: srv}
`
	c, err := ParseConfig("p.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	want := []ProxyEntry{
		{Kind: "tcp-server", Where: "p.yaml: entry 2 (tcp-server)", BindAddr: "0.0.0.0", Port: 8080, RemoteNode: "localhost", RemoteService: "control"},
		{Kind: "tcp-client", Where: "p.yaml: entry 3 (tcp-client)", Service: "web", Address: "db.example.com:5432"},
		{Kind: "udp-server", Where: "p.yaml: entry 4 (udp-server)", BindAddr: "127.0.0.1", Port: 5353, RemoteNode: "n4", RemoteService: "dns"},
		{Kind: "udp-client", Where: "p.yaml: entry 5 (udp-client)", Service: "dns", Address: "127.0.0.1:53"},
		{Kind: "unix-socket-server", Where: "p.yaml: entry 6 (unix-socket-server)", Filename: "/tmp/p.sock", Permissions: os.FileMode(0o660), RemoteNode: "n2", RemoteService: "web"},
		{Kind: "unix-socket-client", Where: "p.yaml: entry 7 (unix-socket-client)", Service: "usock", Filename: "/run/app.sock"},
		{Kind: "tcp-server", Where: "p.yaml: entry 10 (tcp-server)", BindAddr: "0.0.0.0", Port: 8443, RemoteNode: "n2", RemoteService: "web", TLSServer: "srv"},
		{Kind: "tcp-client", Where: "p.yaml: entry 11 (tcp-client)", Service: "web2", Address: "db.example.com:5433", TLSClient: "srv"},
	}
	if !reflect.DeepEqual(c.Proxies, want) {
		t.Fatalf("got %+v\nwant %+v", c.Proxies, want)
	}
	// Only the mesh-side TLS key is reported; nothing else is "not yet".
	if len(c.NotYetSupported) != 1 || notesContaining(c, `entry 3 (tcp-client): key "tlsserver": not supported yet`) != 1 {
		t.Fatalf("notes: %q", c.NotYetSupported)
	}
	// The same from flags.
	c, err = ParseArgsConfig([]string{"--node", "n1", "--tcp-server", "port=0", "remotenode=n2", "remoteservice=s",
		"--unix-socket-server", "filename=/tmp/x.sock", "remotenode=n2", "remoteservice=s"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Proxies) != 2 || c.Proxies[1].Permissions != 0o600 || c.Proxies[0].BindAddr != "0.0.0.0" {
		t.Fatalf("flags: %+v", c.Proxies)
	}
}

func TestProxyEntryErrors(t *testing.T) {
	stubHostname(t, "host1")
	tests := []struct{ name, yaml, want string }{
		{"tcp-server without remotenode", "- tcp-server: {port: 1, remoteservice: s}", `entry 1 (tcp-server): key "remotenode": is required`},
		{"tcp-server without port", "- tcp-server: {remotenode: n2, remoteservice: s}", `key "port": is required`},
		{"tcp-server bad port", "- tcp-server: {port: 70000, remotenode: n2, remoteservice: s}", `key "port"`},
		{"tcp-server tlsserver undefined", "- tcp-server: {port: 1, remotenode: n2, remoteservice: s, tlsserver: srv}", `key "tlsserver": no tls-server entry is named "srv"`},
		{"tcp-server tlsserver is a client", "- tls-client: {name: c}\n- tcp-server: {port: 1, remotenode: n2, remoteservice: s, tlsserver: c}", `entry 2 (tcp-server): key "tlsserver": needs a tls-server, but "c" is a tls-client (p.yaml: entry 1 (tls-client))`},
		{"tcp-client tlsclient undefined", "- tcp-client: {service: s, address: 'h:1', tlsclient: cli}", `key "tlsclient": no tls-client entry is named "cli"`},
		{"tcp-client bad address", "- tcp-client: {service: s, address: nowhere}", `key "address": "nowhere" is not host:port`},
		{"tcp-client unknown key", "- tcp-client: {service: s, address: 'h:1', tls: x}", `key "tls": unknown key (known: service, address, tlsclient, tlsserver)`},
		{"service name too long", "- udp-client: {service: abcdefghi, address: 'h:1'}", `key "service": service name "abcdefghi" is longer than 8 bytes`},
		{"service used twice", "- control-service: {service: ctl}\n- tcp-client: {service: ctl, address: 'h:1'}", `entry 2 (tcp-client): key "service": service "ctl" is already used by p.yaml: entry 1 (control-service)`},
		{"port used twice", "- tcp-listener: {port: 2222}\n- tcp-server: {port: 2222, remotenode: n2, remoteservice: s}", `entry 2 (tcp-server): key "port": 0.0.0.0:2222 is already used`},
		{"socket used twice", "- control-service: {filename: /tmp/a.sock}\n- unix-socket-server: {filename: /tmp/a.sock, remotenode: n2, remoteservice: s}", `key "filename": socket /tmp/a.sock is already used`},
		{"unix-socket-client without filename", "- unix-socket-client: {service: s}", `key "filename": is required`},
		{"udp-server no keys", "- udp-server: {}", `key "port": is required`},
		{"bare value", "- tcp-server: 8080", `expected a map of keys`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("p.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestProxyStartErrors: a port in use or a socket that cannot be made
// stops the node at start with an error naming the entry and key.
func TestProxyStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"port in use", []string{"--tcp-server", "port=" + port, "bindaddr=127.0.0.1", "remotenode=n2", "remoteservice=s"},
			`command line: entry 2 (--tcp-server): key "port": listen tcp 127.0.0.1:` + port},
		{"socket directory missing", []string{"--unix-socket-server", "filename=" + filepath.Join(dir, "no/such/dir.sock"), "remotenode=n2", "remoteservice=s"},
			`command line: entry 2 (--unix-socket-server): key "filename": `},
		{"reserved service", []string{"--tcp-client", "service=ping", "address=127.0.0.1:1"},
			`command line: entry 2 (--tcp-client): key "service": service name "ping" is reserved`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--node", "id=n1", "datadir=" + dir}, tt.args...)
			cfg, err := ParseArgsConfig(args)
			if err != nil {
				t.Fatal(err)
			}
			r, err := startNode(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil {
				r.Close()
				t.Fatal("the node started")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}
