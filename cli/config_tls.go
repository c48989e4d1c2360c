package cli

// Decoding receptor's tls-server and tls-client entries, and checking
// that every reference to one (control-service tcptls, the proxies' TLS
// keys, the tls key of listeners and peers) names a defined entry of the
// right kind. The files they name are read at start (cli/tls.go), not
// here.

import (
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"meshd/certs"
)

// TLSServerEntry is a `tls-server` entry (receptor's keys).
type TLSServerEntry struct {
	Name                   string   // required, unique among tls-server entries
	Cert                   string   // required: PEM certificate (and intermediates)
	Key                    string   // required: its private key
	RequireClientCert      bool     // clients must present a certificate
	ClientCAs              string   // PEM bundle client certificates must chain to (implies requireclientcert)
	PinnedClientCert       []string // SHA-256/SHA-512 fingerprints one of which the client's certificate must have
	SkipReceptorNamesCheck bool     // do not require a receptor node ID in client certificates
	MinTLS13               bool     // minimum TLS 1.3 instead of 1.2
	Where                  string   // the entry, for errors found at start
}

// TLSClientEntry is a `tls-client` entry (receptor's keys).
type TLSClientEntry struct {
	Name                   string // required, unique among tls-client entries
	Cert                   string // client certificate, with Key (both or neither)
	Key                    string
	RootCAs                string   // PEM bundle the server's certificate must chain to; default the system roots
	InsecureSkipVerify     bool     // do not verify the server's chain or name
	SkipReceptorNamesCheck bool     // accepted (proxies check DNS names, not receptor node IDs)
	PinnedServerCert       []string // fingerprints one of which the server's certificate must have
	MinTLS13               bool
	Where                  string
}

// tlsRef is a key of some entry that names a tls-server or tls-client.
type tlsRef struct {
	e    *rawEntry
	key  string // as written
	kind string // "tls-server" or "tls-client"
	name string
}

// refTLS records a reference, checked in checkTLSRefs once every entry is
// read (a reference may come before the entry it names).
func (d *decoder) refTLS(e *rawEntry, key, kind, name string) {
	if name == "" {
		return
	}
	label := key
	for _, k := range e.keys {
		if k.name == key {
			label = k.label
		}
	}
	d.tlsRefs = append(d.tlsRefs, tlsRef{e: e, key: label, kind: kind, name: name})
}

func (d *decoder) tlsServer(e *rawEntry) error {
	t := TLSServerEntry{Where: e.where()}
	var pins []string
	given, err := d.apply(e, []field{
		{key: "name", set: func(v value) (err error) { t.Name, err = v.nonEmpty(); return }},
		{key: "cert", set: func(v value) (err error) { t.Cert, err = v.nonEmpty(); return }},
		{key: "key", set: func(v value) (err error) { t.Key, err = v.nonEmpty(); return }},
		{key: "requireclientcert", set: func(v value) (err error) { t.RequireClientCert, err = v.boolean(); return }},
		{key: "clientcas", set: func(v value) (err error) { t.ClientCAs, err = v.nonEmpty(); return }},
		{key: "pinnedclientcert", set: func(v value) (err error) { pins, err = v.fingerprints(); return }},
		{key: "skipreceptornamescheck", set: func(v value) (err error) { t.SkipReceptorNamesCheck, err = v.boolean(); return }},
		{key: "mintls13", set: func(v value) (err error) { t.MinTLS13, err = v.boolean(); return }},
	})
	if err == nil {
		err = required(e, given, "name", "cert", "key")
	}
	if err == nil {
		err = d.claimTLSName(e, d.tlsServers, t.Name)
	}
	if err != nil {
		return err
	}
	t.PinnedClientCert = pins
	d.cfg.TLSServers = append(d.cfg.TLSServers, t)
	return nil
}

func (d *decoder) tlsClient(e *rawEntry) error {
	t := TLSClientEntry{Where: e.where()}
	var pins []string
	given, err := d.apply(e, []field{
		{key: "name", set: func(v value) (err error) { t.Name, err = v.nonEmpty(); return }},
		{key: "cert", set: func(v value) (err error) { t.Cert, err = v.nonEmpty(); return }},
		{key: "key", set: func(v value) (err error) { t.Key, err = v.nonEmpty(); return }},
		{key: "rootcas", set: func(v value) (err error) { t.RootCAs, err = v.nonEmpty(); return }},
		{key: "insecureskipverify", set: func(v value) (err error) { t.InsecureSkipVerify, err = v.boolean(); return }},
		{key: "skipreceptornamescheck", set: func(v value) (err error) { t.SkipReceptorNamesCheck, err = v.boolean(); return }},
		{key: "pinnedservercert", set: func(v value) (err error) { pins, err = v.fingerprints(); return }},
		{key: "mintls13", set: func(v value) (err error) { t.MinTLS13, err = v.boolean(); return }},
	})
	if err == nil {
		err = required(e, given, "name")
	}
	if err == nil && given["cert"] != given["key"] {
		missing := "key"
		if !given["cert"] {
			missing = "cert"
		}
		err = e.errorf(missing, "is required with %s (a client certificate needs both cert and key)", map[string]string{"key": "cert", "cert": "key"}[missing])
	}
	if err == nil {
		err = d.claimTLSName(e, d.tlsClients, t.Name)
	}
	if err != nil {
		return err
	}
	t.PinnedServerCert = pins
	d.cfg.TLSClients = append(d.cfg.TLSClients, t)
	return nil
}

func (d *decoder) claimTLSName(e *rawEntry, names map[string]*rawEntry, name string) error {
	if first := names[name]; first != nil {
		return e.errorf("name", "%s %q is already defined by %s", e.name, name, first.where())
	}
	names[name] = e
	return nil
}

// checkTLSRefs refuses a reference to a tls-server or tls-client that is
// not defined, naming the referring entry and, when there is one, the
// entry of the other kind with that name.
func (d *decoder) checkTLSRefs() error {
	for _, r := range d.tlsRefs {
		names, other, otherKind := d.tlsServers, d.tlsClients, "tls-client"
		if r.kind == "tls-client" {
			names, other, otherKind = d.tlsClients, d.tlsServers, "tls-server"
		}
		if names[r.name] != nil {
			continue
		}
		if o := other[r.name]; o != nil {
			return r.e.errorf(r.key, "needs a %s, but %q is a %s (%s)", r.kind, clip(r.name), otherKind, o.where())
		}
		return r.e.errorf(r.key, "no %s entry is named %q", r.kind, clip(r.name))
	}
	return nil
}

// fingerprints reads pinnedservercert / pinnedclientcert: a list of hex
// fingerprints (a YAML list, or on the command line a comma-separated
// string or a JSON list), each checked as receptor decodes them.
func (v value) fingerprints() ([]string, error) {
	n, err := v.compound()
	if err != nil {
		return nil, err
	}
	var out []string
	switch {
	case n == nil || n.Kind == yaml.ScalarNode:
		text := v.text
		if n != nil {
			text = n.Value
		}
		for _, s := range strings.Split(text, ",") {
			out = append(out, strings.TrimSpace(s))
		}
	case n.Kind == yaml.SequenceNode:
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode || isNullNode(item) {
				return nil, fmt.Errorf("list items must be fingerprints, got %s", nodeKind(item))
			}
			out = append(out, item.Value)
		}
	default:
		return nil, fmt.Errorf("expected a list of fingerprints, got %s", nodeKind(n))
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	if _, err := certs.ParsePins(out); err != nil {
		return nil, err
	}
	return out, nil
}

// tlsServerByName and tlsClientByName find an entry checked to exist.
func (c *Config) tlsServerByName(name string) *TLSServerEntry {
	for i := range c.TLSServers {
		if c.TLSServers[i].Name == name {
			return &c.TLSServers[i]
		}
	}
	return nil
}

func (c *Config) tlsClientByName(name string) *TLSClientEntry {
	for i := range c.TLSClients {
		if c.TLSClients[i].Name == name {
			return &c.TLSClients[i]
		}
	}
	return nil
}

// settings describe an entry (nil for none) by its keys, not by where it
// is written: what reload compares.
func (t *TLSServerEntry) settings() string {
	if t == nil {
		return "no tls-server"
	}
	c := *t
	c.Where = ""
	return fmt.Sprintf("%+v", c)
}

func (t *TLSClientEntry) settings() string {
	if t == nil {
		return "no tls-client"
	}
	c := *t
	c.Where = ""
	return fmt.Sprintf("%+v", c)
}
