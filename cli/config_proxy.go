package cli

// Decoding the service proxy entries: tcp-server, tcp-client, udp-server,
// udp-client, unix-socket-server and unix-socket-client, with receptor's
// keys.

import (
	"net"
	"os"
	"strconv"
)

// ProxyEntry is one service proxy entry. The *-server entries listen
// locally (BindAddr:Port, or Filename) and forward to RemoteNode's
// RemoteService; the *-client entries register Service on the mesh and
// forward to Address (or Filename).
type ProxyEntry struct {
	Kind          string      // the entry name, e.g. "tcp-server"
	Where         string      // the entry, for errors found at start
	BindAddr      string      // tcp-server, udp-server; default "0.0.0.0"
	Port          int         // tcp-server, udp-server; 0 picks a free port
	Filename      string      // unix-socket-server: socket to create; unix-socket-client: socket to dial
	Permissions   os.FileMode // unix-socket-server; default 0600
	RemoteNode    string      // *-server; "localhost" is this node
	RemoteService string      // *-server
	Service       string      // *-client: the mesh service to register
	Address       string      // tcp-client, udp-client: host:port to dial
	TLSServer     string      // tcp-server: tls-server name; TLS on the listening port
	TLSClient     string      // tcp-client: tls-client name; TLS to Address
}

// Server reports whether the entry listens locally (a *-server entry).
func (p ProxyEntry) Server() bool {
	return p.Kind == "tcp-server" || p.Kind == "udp-server" || p.Kind == "unix-socket-server"
}

// noteMeshTLS is the note for a proxy's TLS on the mesh side: streams
// already cross meshd's TLS 1.3 links (hop by hop, not end to end).
const noteMeshTLS = noteIgnored + " (the proxy's mesh streams are carried by meshd's TLS 1.3 links)"

func (d *decoder) tcpServer(e *rawEntry) error {
	p := ProxyEntry{Kind: e.name, Where: e.where(), BindAddr: "0.0.0.0"}
	var meshTLS string
	fields := append(serverFields(&p),
		field{key: "port", set: func(v value) (err error) { p.Port, err = v.port(0); return }},
		field{key: "bindaddr", set: func(v value) (err error) { p.BindAddr, err = v.str(); return }},
		field{key: "tlsserver", set: func(v value) (err error) { p.TLSServer, err = v.str(); return }},
		field{key: "tlsclient", set: func(v value) (err error) { meshTLS, err = v.str(); return }, note: noteMeshTLS},
	)
	given, err := d.apply(e, fields)
	if err == nil {
		err = required(e, given, "port", "remotenode", "remoteservice")
	}
	if err != nil {
		return err
	}
	d.refTLS(e, "tlsserver", "tls-server", p.TLSServer)
	d.refTLS(e, "tlsclient", "tls-client", meshTLS)
	if p.Port != 0 {
		if err := d.claimTCP(e, "port", net.JoinHostPort(p.BindAddr, strconv.Itoa(p.Port))); err != nil {
			return err
		}
	}
	d.cfg.Proxies = append(d.cfg.Proxies, p)
	return nil
}

func (d *decoder) tcpClient(e *rawEntry) error {
	p := ProxyEntry{Kind: e.name, Where: e.where()}
	var meshTLS string
	fields := append(clientFields(&p),
		field{key: "address", set: func(v value) (err error) { p.Address, err = v.dialAddress(); return }},
		field{key: "tlsclient", set: func(v value) (err error) { p.TLSClient, err = v.str(); return }},
		field{key: "tlsserver", set: func(v value) (err error) { meshTLS, err = v.str(); return }, note: noteMeshTLS},
	)
	given, err := d.apply(e, fields)
	if err == nil {
		err = required(e, given, "service", "address")
	}
	if err != nil {
		return err
	}
	d.refTLS(e, "tlsclient", "tls-client", p.TLSClient)
	d.refTLS(e, "tlsserver", "tls-server", meshTLS)
	return d.addClientProxy(e, p)
}

func (d *decoder) udpServer(e *rawEntry) error {
	p := ProxyEntry{Kind: e.name, Where: e.where(), BindAddr: "0.0.0.0"}
	fields := append(serverFields(&p),
		field{key: "port", set: func(v value) (err error) { p.Port, err = v.port(0); return }},
		field{key: "bindaddr", set: func(v value) (err error) { p.BindAddr, err = v.str(); return }},
	)
	given, err := d.apply(e, fields)
	if err == nil {
		err = required(e, given, "port", "remotenode", "remoteservice")
	}
	if err != nil {
		return err
	}
	d.cfg.Proxies = append(d.cfg.Proxies, p)
	return nil
}

func (d *decoder) udpClient(e *rawEntry) error {
	p := ProxyEntry{Kind: e.name, Where: e.where()}
	fields := append(clientFields(&p),
		field{key: "address", set: func(v value) (err error) { p.Address, err = v.dialAddress(); return }},
	)
	given, err := d.apply(e, fields)
	if err == nil {
		err = required(e, given, "service", "address")
	}
	if err != nil {
		return err
	}
	return d.addClientProxy(e, p)
}

func (d *decoder) unixSocketServer(e *rawEntry) error {
	p := ProxyEntry{Kind: e.name, Where: e.where(), Permissions: defaultSockPerms}
	var meshTLS string
	fields := append(serverFields(&p),
		field{key: "filename", set: func(v value) (err error) { p.Filename, err = v.socketPath(); return }},
		field{key: "permissions", set: func(v value) (err error) { p.Permissions, err = v.fileMode(); return }},
		field{key: "tls", set: func(v value) (err error) { meshTLS, err = v.str(); return }, note: noteMeshTLS},
	)
	given, err := d.apply(e, fields)
	d.refTLS(e, "tls", "tls-client", meshTLS)
	if err == nil {
		err = required(e, given, "filename", "remotenode", "remoteservice")
	}
	if err == nil {
		err = d.claimSocket(e, "filename", p.Filename)
	}
	if err != nil {
		return err
	}
	d.cfg.Proxies = append(d.cfg.Proxies, p)
	return nil
}

func (d *decoder) unixSocketClient(e *rawEntry) error {
	p := ProxyEntry{Kind: e.name, Where: e.where()}
	var meshTLS string
	fields := append(clientFields(&p),
		field{key: "filename", set: func(v value) (err error) { p.Filename, err = v.socketPath(); return }},
		field{key: "tls", set: func(v value) (err error) { meshTLS, err = v.str(); return }, note: noteMeshTLS},
	)
	given, err := d.apply(e, fields)
	d.refTLS(e, "tls", "tls-server", meshTLS)
	if err == nil {
		err = required(e, given, "service", "filename")
	}
	if err != nil {
		return err
	}
	return d.addClientProxy(e, p)
}

// serverFields are the keys naming where a *-server entry forwards to.
func serverFields(p *ProxyEntry) []field {
	return []field{
		{key: "remotenode", set: func(v value) (err error) { p.RemoteNode, err = v.remoteNode(); return }},
		{key: "remoteservice", set: func(v value) (err error) { p.RemoteService, err = v.serviceName(); return }},
	}
}

// clientFields are the keys naming the service a *-client entry registers.
func clientFields(p *ProxyEntry) []field {
	return []field{
		{key: "service", set: func(v value) (err error) { p.Service, err = v.serviceName(); return }},
	}
}

// addClientProxy claims the entry's mesh service name, shared with
// control services, and keeps the entry.
func (d *decoder) addClientProxy(e *rawEntry, p ProxyEntry) error {
	if first := d.services[p.Service]; first != nil {
		return e.errorf("service", "service %q is already used by %s", p.Service, first.where())
	}
	d.services[p.Service] = e
	d.cfg.Proxies = append(d.cfg.Proxies, p)
	return nil
}

// remoteNode reads a node ID to reach; unlike this node's own ID it may
// be "localhost" (any case), meaning this node.
func (v value) remoteNode() (string, error) {
	s, err := v.scalar()
	if err == nil {
		err = checkName("node ID", s, maxNodeIDLen)
	}
	return s, err
}

// proxyDecoders are the proxy entry kinds, registered in entryKinds.
var proxyDecoders = map[string]func(*decoder, *rawEntry) error{
	"tcp-server":         (*decoder).tcpServer,
	"tcp-client":         (*decoder).tcpClient,
	"udp-server":         (*decoder).udpServer,
	"udp-client":         (*decoder).udpClient,
	"unix-socket-server": (*decoder).unixSocketServer,
	"unix-socket-client": (*decoder).unixSocketClient,
}
