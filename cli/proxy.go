package cli

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"meshd/ctlsock"
	"meshd/mesh"
	"meshd/proxy"
)

// startProxies starts every service proxy entry. An error names the
// entry; proxies already started are closed with the node.
func (r *runningNode) startProxies(entries []ProxyEntry, logger *slog.Logger) error {
	for _, e := range entries {
		log := logger.With("proxy", e.Kind)
		o := proxy.Options{Logger: log}
		closer, addr, err := startProxy(r.mesh, e, o)
		if err != nil {
			return fmt.Errorf("%s: %w", e.Where, err)
		}
		r.closer = append(r.closer, func() { closer.Close() })
		if e.Server() {
			log.Info("proxy listening", "address", addr, "to", e.RemoteNode+":"+e.RemoteService)
		} else {
			log.Info("proxy serving", "service", e.Service, "to", addr)
		}
	}
	return nil
}

type closer interface{ Close() error }

// startProxy starts one proxy and returns it with its local address.
func startProxy(m *mesh.Node, e ProxyEntry, o proxy.Options) (closer, string, error) {
	hostPort := net.JoinHostPort(e.BindAddr, strconv.Itoa(e.Port))
	switch e.Kind {
	case "tcp-server":
		ln, err := net.Listen("tcp", hostPort)
		if err != nil {
			return nil, "", fmt.Errorf("key \"port\": %w", err)
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
