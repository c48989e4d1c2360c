package proxy

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"meshd/mesh"
)

// maxSessions bounds the UDP sessions of one proxy, so a flood of source
// addresses cannot exhaust mesh services or sockets. Datagrams of a new
// peer beyond it are dropped.
const maxSessions = 4096

// udpBufSize holds any UDP datagram.
const udpBufSize = 64 << 10

// UDPInbound forwards datagrams received on a local UDP socket to a
// service on a node of the mesh (receptor's udp-server). Each client
// address gets its own mesh endpoint, so replies go back to the client
// that caused them; a session idle for Options.IdleTimeout is closed.
type UDPInbound struct {
	uc     *net.UDPConn
	m      *mesh.Node
	target mesh.Addr
	o      Options
	log    *slog.Logger

	mu       sync.Mutex
	sessions map[string]*udpSession // by client address
	closed   bool
	stop     chan struct{} // closed by Close: ends expireLoop
	wg       sync.WaitGroup
}

type udpSession struct {
	pc   *mesh.PacketConn // UDPInbound: this client's mesh endpoint
	uc   *net.UDPConn     // UDPOutbound: this mesh peer's local socket
	last time.Time        // guarded by the proxy's mu
}

// NewUDPInbound serves uc, forwarding to service on node ("localhost" is
// this node).
func NewUDPInbound(m *mesh.Node, uc *net.UDPConn, node, service string, o Options) *UDPInbound {
	if strings.EqualFold(node, "localhost") {
		node = m.NodeID()
	}
	p := &UDPInbound{uc: uc, m: m, target: mesh.Addr{Node: node, Service: service}, o: o.withDefaults(),
		sessions: map[string]*udpSession{}, stop: make(chan struct{})}
	p.log = p.o.Logger.With("to", p.target.String())
	p.wg.Add(2)
	go p.readLoop()
	go p.expireLoop()
	return p
}

// Addr is the local UDP address.
func (p *UDPInbound) Addr() net.Addr { return p.uc.LocalAddr() }

// Close stops the proxy and every session.
func (p *UDPInbound) Close() error {
	p.mu.Lock()
	if !p.closed {
		close(p.stop)
	}
	p.closed = true
	for k, s := range p.sessions {
		s.pc.Close()
		delete(p.sessions, k)
	}
	p.mu.Unlock()
	err := p.uc.Close()
	p.wg.Wait()
	return err
}

func (p *UDPInbound) readLoop() {
	defer p.wg.Done()
	buf := make([]byte, udpBufSize)
	for {
		n, from, err := p.uc.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			p.log.Debug("proxy: UDP read failed", "err", err)
			continue
		}
		s := p.session(from)
		if s == nil {
			continue
		}
		if _, err := s.pc.WriteTo(buf[:n], p.target); err != nil {
			p.log.Debug("proxy: mesh send failed; datagram dropped", "client", from.String(), "err", err)
		}
	}
}

// session finds or opens the session of a client.
func (p *UDPInbound) session(from *net.UDPAddr) *udpSession {
	key := from.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	if s := p.sessions[key]; s != nil {
		s.last = time.Now()
		return s
	}
	if len(p.sessions) >= maxSessions {
		p.log.Debug("proxy: too many UDP sessions; datagram dropped", "client", key)
		return nil
	}
	pc, err := listenEphemeral(p.m)
	if err != nil {
		p.log.Warn("proxy: cannot open a mesh endpoint; datagram dropped", "err", err)
		return nil
	}
	s := &udpSession{pc: pc, last: time.Now()}
	p.sessions[key] = s
	p.wg.Add(1)
	go p.replyLoop(s, from)
	return s
}

// replyLoop sends what the target answers back to the client.
func (p *UDPInbound) replyLoop(s *udpSession, client *net.UDPAddr) {
	defer p.wg.Done()
	buf := make([]byte, udpBufSize)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			p.log.Debug("proxy: mesh endpoint error", "client", client.String(), "err", err)
			continue
		}
		if from != p.target {
			continue
		}
		p.touch(client.String())
		if _, err := p.uc.WriteToUDP(buf[:n], client); err != nil && errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

func (p *UDPInbound) touch(key string) {
	p.mu.Lock()
	if s := p.sessions[key]; s != nil {
		s.last = time.Now()
	}
	p.mu.Unlock()
}

func (p *UDPInbound) expireLoop() {
	defer p.wg.Done()
	expireSessions(&p.mu, p.sessions, p.stop, p.o.IdleTimeout, func(s *udpSession) { s.pc.Close() })
}

// UDPOutbound registers a mesh datagram service and forwards what it
// receives to a local UDP address (receptor's udp-client). Each mesh
// peer address gets its own local socket, so the server's replies go
// back to the mesh peer that caused them.
type UDPOutbound struct {
	pc      *mesh.PacketConn
	address *net.UDPAddr
	o       Options
	log     *slog.Logger

	mu       sync.Mutex
	sessions map[string]*udpSession // by mesh peer address
	closed   bool
	stop     chan struct{} // closed by Close: ends expireLoop
	wg       sync.WaitGroup
}

// NewUDPOutbound listens on service (advertised with ad) and forwards to
// address.
func NewUDPOutbound(m *mesh.Node, service string, ad *mesh.Advert, address string, o Options) (*UDPOutbound, error) {
	ua, err := net.ResolveUDPAddr("udp", address)
	if err != nil {
		return nil, fmt.Errorf("address %s: %w", address, err)
	}
	pc, err := m.ListenPacket(service, ad)
	if err != nil {
		return nil, fmt.Errorf("mesh service: %w", err)
	}
	p := &UDPOutbound{pc: pc, address: ua, o: o.withDefaults(), sessions: map[string]*udpSession{}, stop: make(chan struct{})}
	p.log = p.o.Logger.With("service", pc.LocalAddr().String(), "to", address)
	p.wg.Add(2)
	go p.readLoop()
	go p.expireLoop()
	return p, nil
}

// Close unregisters the service and closes every session.
func (p *UDPOutbound) Close() error {
	p.mu.Lock()
	if !p.closed {
		close(p.stop)
	}
	p.closed = true
	for k, s := range p.sessions {
		s.uc.Close()
		delete(p.sessions, k)
	}
	p.mu.Unlock()
	err := p.pc.Close()
	p.wg.Wait()
	return err
}

func (p *UDPOutbound) readLoop() {
	defer p.wg.Done()
	buf := make([]byte, udpBufSize)
	for {
		n, from, err := p.pc.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			p.log.Debug("proxy: mesh endpoint error", "err", err)
			continue
		}
		s := p.session(from.(mesh.Addr))
		if s == nil {
			continue
		}
		if _, err := s.uc.Write(buf[:n]); err != nil {
			p.log.Debug("proxy: UDP send failed; datagram dropped", "from", from.String(), "err", err)
		}
	}
}

func (p *UDPOutbound) session(from mesh.Addr) *udpSession {
	key := from.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	if s := p.sessions[key]; s != nil {
		s.last = time.Now()
		return s
	}
	if len(p.sessions) >= maxSessions {
		p.log.Debug("proxy: too many UDP sessions; datagram dropped", "from", key)
		return nil
	}
	uc, err := net.DialUDP("udp", nil, p.address)
	if err != nil {
		p.log.Warn("proxy: cannot open a UDP socket; datagram dropped", "err", err)
		return nil
	}
	s := &udpSession{uc: uc, last: time.Now()}
	p.sessions[key] = s
	p.wg.Add(1)
	go p.replyLoop(s, from)
	return s
}

func (p *UDPOutbound) replyLoop(s *udpSession, to mesh.Addr) {
	defer p.wg.Done()
	buf := make([]byte, udpBufSize)
	for {
		n, err := s.uc.Read(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // e.g. ECONNREFUSED from an earlier send: keep the session
			continue
		}
		p.touch(to.String())
		if _, err := p.pc.WriteTo(buf[:n], to); err != nil {
			p.log.Debug("proxy: mesh send failed; datagram dropped", "to", to.String(), "err", err)
		}
	}
}

func (p *UDPOutbound) touch(key string) {
	p.mu.Lock()
	if s := p.sessions[key]; s != nil {
		s.last = time.Now()
	}
	p.mu.Unlock()
}

func (p *UDPOutbound) expireLoop() {
	defer p.wg.Done()
	expireSessions(&p.mu, p.sessions, p.stop, p.o.IdleTimeout, func(s *udpSession) { s.uc.Close() })
}

// expireSessions closes sessions idle for longer than idle, checking
// several times per idle period, until stop is closed.
func expireSessions(mu *sync.Mutex, sessions map[string]*udpSession, stop <-chan struct{}, idle time.Duration, end func(*udpSession)) {
	tick := time.NewTicker(max(idle/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		mu.Lock()
		now := time.Now()
		for k, s := range sessions {
			if now.Sub(s.last) > idle {
				end(s)
				delete(sessions, k)
			}
		}
		mu.Unlock()
	}
}

// listenEphemeral opens an unadvertised datagram endpoint under a random
// service name, like a source port.
func listenEphemeral(m *mesh.Node) (*mesh.PacketConn, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var err error
	for range 8 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		var pc *mesh.PacketConn
		if pc, err = m.ListenPacket(string(b[:]), nil); err == nil {
			return pc, nil
		}
	}
	return nil, err
}

// Sessions is the number of open client sessions.
func (p *UDPInbound) Sessions() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sessions)
}

// Sessions is the number of open mesh peer sessions.
func (p *UDPOutbound) Sessions() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sessions)
}
