package cli

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"

	"meshd/ctlsock"
	"meshd/mesh"
	"meshd/proxy"
)

// applyProxies makes the running proxies those of entries: new ones are
// started first (if one fails, those are closed again and nothing has
// changed), then the ones no longer configured are closed. An error names
// the entry. At start r.proxies is empty, so every entry starts.
func (r *runningNode) applyProxies(cfg *Config) error {
	want := map[string]ProxyEntry{}
	for _, e := range cfg.Proxies {
		want[proxyKey(cfg, e)] = e
	}
	var started []string
	for k, e := range want {
		if _, ok := r.proxies[k]; ok {
			continue
		}
		log := r.log.With("proxy", e.Kind)
		closer, addr, err := startProxy(r.mesh, cfg, e, proxy.Options{Logger: log})
		if err != nil {
			for _, s := range started {
				r.proxies[s].Close()
				delete(r.proxies, s)
			}
			return fmt.Errorf("%s: %w", e.Where, err)
		}
		r.proxies[k] = closer
		started = append(started, k)
		if e.Server() {
			log.Info("proxy listening", "address", addr, "to", e.RemoteNode+":"+e.RemoteService)
		} else {
			log.Info("proxy serving", "service", e.Service, "to", addr)
		}
	}
	for k, c := range r.proxies {
		if _, ok := want[k]; !ok {
			c.Close()
			delete(r.proxies, k)
		}
	}
	return nil
}

// proxyKey identifies a proxy entry by all its settings, including those
// of the TLS entries it uses, not by where it was written.
func proxyKey(cfg *Config, e ProxyEntry) string {
	e.Where = ""
	return fmt.Sprintf("%+v %s %s", e, cfg.tlsServerByName(e.TLSServer).settings(), cfg.tlsClientByName(e.TLSClient).settings())
}

type closer interface{ Close() error }

// startProxy starts one proxy and returns it with its local address.
func startProxy(m *mesh.Node, cfg *Config, e ProxyEntry, o proxy.Options) (closer, string, error) {
	hostPort := net.JoinHostPort(e.BindAddr, strconv.Itoa(e.Port))
	switch e.Kind {
	case "tcp-server":
		var tc *tls.Config
		if e.TLSServer != "" {
			var err error
			if tc, err = serverTLSConfig(cfg.tlsServerByName(e.TLSServer)); err != nil {
				return nil, "", fmt.Errorf("key \"tlsserver\": %w", err)
			}
		}
		ln, err := net.Listen("tcp", hostPort)
		if err != nil {
			return nil, "", fmt.Errorf("key \"port\": %w", err)
		}
		if tc != nil {
			ln = tls.NewListener(ln, tc)
		}
		return proxy.NewInbound(m, ln, e.RemoteNode, e.RemoteService, o), ln.Addr().String(), nil
	case "unix-socket-server":
		ln, err := ctlsock.ListenUnix(e.Filename, e.Permissions)
		if err != nil {
			return nil, "", fmt.Errorf("key \"filename\": %s: %w", e.Filename, err)
		}
		return proxy.NewInbound(m, ln, e.RemoteNode, e.RemoteService, o), e.Filename, nil
	case "udp-server":
		ua, err := net.ResolveUDPAddr("udp", hostPort)
		if err != nil {
			return nil, "", fmt.Errorf("key \"bindaddr\": %w", err)
		}
		uc, err := net.ListenUDP("udp", ua)
		if err != nil {
			return nil, "", fmt.Errorf("key \"port\": %w", err)
		}
		return proxy.NewUDPInbound(m, uc, e.RemoteNode, e.RemoteService, o), uc.LocalAddr().String(), nil
	case "tcp-client":
		if e.TLSClient != "" {
			tc, err := clientTLSConfig(cfg.tlsClientByName(e.TLSClient), e.Address)
			if err != nil {
				return nil, "", fmt.Errorf("key \"tlsclient\": %w", err)
			}
			o.TLS = tc
		}
		ad := proxyAdvert(mesh.ConnTypeStream, "TCP Proxy", "address", e.Address)
		p, err := proxy.NewOutbound(m, e.Service, ad, "tcp", e.Address, o)
		if err != nil {
			return nil, "", fmt.Errorf("key \"service\": %w", err)
		}
		return p, e.Address, nil
	case "unix-socket-client":
		ad := proxyAdvert(mesh.ConnTypeStream, "Unix Proxy", "filename", e.Filename)
		p, err := proxy.NewOutbound(m, e.Service, ad, "unix", e.Filename, o)
		if err != nil {
			return nil, "", fmt.Errorf("key \"service\": %w", err)
		}
		return p, e.Filename, nil
	case "udp-client":
		ad := proxyAdvert(mesh.ConnTypeDatagram, "UDP Proxy", "address", e.Address)
		p, err := proxy.NewUDPOutbound(m, e.Service, ad, e.Address, o)
		if err != nil {
			return nil, "", err
		}
		return p, e.Address, nil
	}
	return nil, "", fmt.Errorf("unknown proxy kind %q", e.Kind)
}

// proxyAdvert is the advertisement receptor gives its proxies' services.
func proxyAdvert(connType int, typ, key, val string) *mesh.Advert {
	return &mesh.Advert{ConnType: connType, Tags: map[string]string{"type": typ, key: val}}
}
