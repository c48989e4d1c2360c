package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"meshd/mesh"
)

// Options tune a proxy; the zero value is usable.
type Options struct {
	Logger      *slog.Logger  // default: discard
	DialTimeout time.Duration // per connection, mesh or local; default 30s
	IdleTimeout time.Duration // UDP sessions only; default 2m
	// TLS, if set, makes an Outbound dial its local address with TLS
	// (receptor's tcp-client tlsclient); the handshake is part of the dial.
	TLS *tls.Config
}

const (
	defaultDialTimeout = 30 * time.Second
	defaultIdleTimeout = 2 * time.Minute
)

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = defaultDialTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = defaultIdleTimeout
	}
	return o
}

// StreamDialer opens mesh streams; *mesh.Node is one.
type StreamDialer interface {
	Dial(ctx context.Context, node, service string) (net.Conn, error)
}

// Inbound forwards every connection accepted on a local listener to a
// service on a node of the mesh (receptor's tcp-server and
// unix-socket-server). Node "localhost" is the local node.
type Inbound struct {
	ln      net.Listener
	m       StreamDialer
	node    string
	service string
	o       Options
	conns   connSet
	done    chan struct{}
}

// NewInbound starts serving ln; Close stops it.
func NewInbound(m StreamDialer, ln net.Listener, node, service string, o Options) *Inbound {
	p := &Inbound{ln: ln, m: m, node: node, service: service, o: o.withDefaults(), done: make(chan struct{})}
	p.conns.init()
	go p.acceptLoop()
	return p
}

// Addr is the local listener's address.
func (p *Inbound) Addr() net.Addr { return p.ln.Addr() }

// Close stops accepting, closes every bridged connection and waits for
// their goroutines.
func (p *Inbound) Close() error {
	err := p.ln.Close()
	<-p.done
	p.conns.closeAll()
	return err
}

func (p *Inbound) acceptLoop() {
	defer close(p.done)
	log := p.o.Logger.With("to", p.node+":"+p.service)
	for {
		c, err := acceptRetry(p.ln, log)
		if err != nil {
			return
		}
		if !p.conns.add(c) {
			c.Close()
			return
		}
		go p.forward(c, log)
	}
}

// forward dials the mesh for one client; a failed dial closes only it.
func (p *Inbound) forward(c net.Conn, log *slog.Logger) {
	defer p.conns.done(c)
	ctx, cancel := context.WithTimeout(p.conns.ctx, p.o.DialTimeout)
	if tc, ok := c.(*tls.Conn); ok {
		// A TLS listener: finish the handshake (and the client
		// certificate's check) before opening anything on the mesh.
		if err := tc.HandshakeContext(ctx); err != nil {
			cancel()
			log.Warn("proxy: TLS handshake failed; closing the client", "client", c.RemoteAddr().String(), "err", err)
			c.Close()
			return
		}
	}
	s, err := p.m.Dial(ctx, p.node, p.service)
	cancel()
	if err != nil {
		log.Warn("proxy: mesh dial failed; closing the client", "client", c.RemoteAddr().String(), "err", err)
		resetTCP(c)
		c.Close()
		return
	}
	if !p.conns.add(s) {
		c.Close()
		s.Close()
		return
	}
	defer p.conns.done(s)
	Bridge(c, s)
}

// Outbound registers a mesh stream service and forwards every stream to a
// new local connection (receptor's tcp-client and unix-socket-client).
type Outbound struct {
	ln      *mesh.Listener
	network string
	address string
	o       Options
	conns   connSet
	done    chan struct{}
}

// NewOutbound listens on service (advertised with ad) and dials
// network/address for each incoming stream.
func NewOutbound(m *mesh.Node, service string, ad *mesh.Advert, network, address string, o Options) (*Outbound, error) {
	ln, err := m.ListenStream(service, ad)
	if err != nil {
		return nil, err
	}
	p := &Outbound{ln: ln, network: network, address: address, o: o.withDefaults(), done: make(chan struct{})}
	p.conns.init()
	go p.acceptLoop()
	return p, nil
}

// Close unregisters the service, closes every bridged connection and
// waits for their goroutines.
func (p *Outbound) Close() error {
	err := p.ln.Close()
	<-p.done
	p.conns.closeAll()
	return err
}

func (p *Outbound) acceptLoop() {
	defer close(p.done)
	log := p.o.Logger.With("service", p.ln.Addr().String(), "to", p.network+":"+p.address)
	for {
		s, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.conns.add(s) {
			s.Close()
			return
		}
		go p.forward(s, log)
	}
}

func (p *Outbound) forward(s net.Conn, log *slog.Logger) {
	defer p.conns.done(s)
	d := &net.Dialer{Timeout: p.o.DialTimeout}
	var c net.Conn
	var err error
	if p.o.TLS != nil {
		c, err = (&tls.Dialer{NetDialer: d, Config: p.o.TLS}).DialContext(p.conns.ctx, p.network, p.address)
	} else {
		c, err = d.DialContext(p.conns.ctx, p.network, p.address)
	}
	if err != nil {
		log.Warn("proxy: local dial failed; closing the mesh stream", "from", s.RemoteAddr().String(), "err", err)
		s.Close()
		return
	}
	if !p.conns.add(c) {
		c.Close()
		s.Close()
		return
	}
	defer p.conns.done(c)
	Bridge(s, c)
}

// acceptRetry accepts, backing off on temporary errors (out of file
// descriptors) instead of giving up. It returns an error only when the
// listener is closed or broken.
func acceptRetry(ln net.Listener, log *slog.Logger) (net.Conn, error) {
	delay := 5 * time.Millisecond
	for {
		c, err := ln.Accept()
		if err == nil {
			return c, nil
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() && !isTemporary(err) {
			log.Error("proxy: accept failed; proxy stopped", "err", err)
			return nil, err
		}
		log.Warn("proxy: accept failed; retrying", "err", err, "in", delay)
		time.Sleep(delay)
		delay = min(2*delay, time.Second)
	}
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// connSet tracks a proxy's open connections so Close can end them all.
type connSet struct {
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func (s *connSet) init() {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.conns = map[net.Conn]struct{}{}
}

// add tracks c; false once the set is closed.
func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *connSet) done(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *connSet) closeAll() {
	s.mu.Lock()
	s.closed = true
	s.cancel()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
