// Package lossy is a UDP relay for tests: it forwards datagrams between
// clients and one target address, and on a seeded schedule drops, delays
// (with jitter), reorders and duplicates them — the faults tc netem would
// inject, which these kernels lack. Every queue is bounded; Close stops it.
// It is test harness only: nothing in meshd's binary uses it.
package lossy

import (
	"container/heap"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Config is the fault schedule. Probabilities are in [0, 1].
type Config struct {
	Seed      uint64
	Loss      float64       // drop a datagram
	Duplicate float64       // send a datagram twice (each copy delayed on its own)
	Reorder   float64       // hold a datagram back by an extra Delay
	Delay     time.Duration // base one-way delay
	Jitter    time.Duration // uniform in [-Jitter, +Jitter] added to Delay
	MaxQueue  int           // datagrams held at once (default 8192); beyond it, drop
	MaxPeers  int           // client addresses served (default 64)
}

// Stats counts what the relay did.
type Stats struct {
	Forwarded, Dropped, Duplicated, Reordered, Overflow, Blackholed uint64
}

// Relay forwards between its own address (clients send here) and target.
type Relay struct {
	cfg    Config
	front  *net.UDPConn
	target netip.AddrPort

	mu      sync.Mutex
	rng     *rand.Rand
	queue   pending
	wake    chan struct{}
	peers   map[netip.AddrPort]*net.UDPConn // client → socket facing target
	closed  bool
	blocked atomic.Bool

	forwarded, dropped, duplicated, reordered, overflow, blackholed atomic.Uint64
	wg                                                              sync.WaitGroup
}

// New starts a relay on 127.0.0.1 forwarding to target.
func New(target string, cfg Config) (*Relay, error) {
	ta, err := netip.ParseAddrPort(target)
	if err != nil {
		ua, rerr := net.ResolveUDPAddr("udp", target)
		if rerr != nil {
			return nil, rerr
		}
		ta = ua.AddrPort()
	}
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 8192
	}
	if cfg.MaxPeers <= 0 {
		cfg.MaxPeers = 64
	}
	_ = front.SetReadBuffer(4 << 20)
	r := &Relay{cfg: cfg, front: front, target: ta, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		wake: make(chan struct{}, 1), peers: make(map[netip.AddrPort]*net.UDPConn)}
	r.wg.Add(2)
	go r.readFront()
	go r.deliver()
	return r, nil
}

// Addr is where clients send.
func (r *Relay) Addr() string { return r.front.LocalAddr().String() }

// SetBlackhole makes the relay drop everything (true) or forward again.
func (r *Relay) SetBlackhole(on bool) { r.blocked.Store(on) }

// Stats returns the counters.
func (r *Relay) Stats() Stats {
	return Stats{r.forwarded.Load(), r.dropped.Load(), r.duplicated.Load(), r.reordered.Load(), r.overflow.Load(), r.blackholed.Load()}
}

// Close stops the relay and waits for its goroutines.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return errors.New("lossy: relay already closed")
	}
	r.closed = true
	r.front.Close()
	for _, pc := range r.peers {
		pc.Close()
	}
	r.queue = nil
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	r.wg.Wait()
	return nil
}

func (r *Relay) readFront() {
	defer r.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := r.front.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		back := r.backFor(from)
		if back == nil {
			r.dropped.Add(1)
			continue
		}
		r.schedule(buf[:n], func(b []byte) { _, _ = back.Write(b) })
	}
}

// backFor returns (opening if need be) the socket facing the target for a
// client, and starts copying the target's replies back to that client.
func (r *Relay) backFor(client netip.AddrPort) *net.UDPConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	if pc := r.peers[client]; pc != nil || r.closed {
		return pc
	}
	if len(r.peers) >= r.cfg.MaxPeers {
		return nil
	}
	pc, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(r.target))
	if err != nil {
		return nil
	}
	_ = pc.SetReadBuffer(4 << 20)
	r.peers[client] = pc
	r.wg.Add(1)
	go r.readBack(pc, client)
	return pc
}

func (r *Relay) readBack(pc *net.UDPConn, client netip.AddrPort) {
	defer r.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, err := pc.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		r.schedule(buf[:n], func(b []byte) { _, _ = r.front.WriteToUDPAddrPort(b, client) })
	}
}

// schedule applies the fault schedule to one datagram.
func (r *Relay) schedule(b []byte, send func([]byte)) {
	if r.blocked.Load() {
		r.blackholed.Add(1)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if r.rng.Float64() < r.cfg.Loss {
		r.dropped.Add(1)
		return
	}
	copies := 1
	if r.rng.Float64() < r.cfg.Duplicate {
		copies = 2
		r.duplicated.Add(1)
	}
	for range copies {
		d := r.cfg.Delay
		if r.cfg.Jitter > 0 {
			d += time.Duration(r.rng.Int64N(int64(2*r.cfg.Jitter)+1)) - r.cfg.Jitter
		}
		if r.rng.Float64() < r.cfg.Reorder {
			d += r.cfg.Delay + r.cfg.Jitter
			r.reordered.Add(1)
		}
		if len(r.queue) >= r.cfg.MaxQueue {
			r.overflow.Add(1)
			return
		}
		heap.Push(&r.queue, &item{due: time.Now().Add(max(d, 0)), data: append([]byte(nil), b...), send: send})
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// deliver sends each held datagram when it falls due.
func (r *Relay) deliver() {
	defer r.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return
		}
		now := time.Now()
		var due []*item
		for len(r.queue) > 0 && !r.queue[0].due.After(now) {
			due = append(due, heap.Pop(&r.queue).(*item))
		}
		wait := time.Hour
		if len(r.queue) > 0 {
			wait = r.queue[0].due.Sub(now)
		}
		r.mu.Unlock()
		for _, it := range due {
			if r.blocked.Load() {
				r.blackholed.Add(1)
				continue
			}
			it.send(it.data)
			r.forwarded.Add(1)
		}
		if len(due) > 0 {
			continue
		}
		t.Reset(wait)
		select {
		case <-t.C:
		case <-r.wake:
		}
	}
}

type item struct {
	due  time.Time
	data []byte
	send func([]byte)
}

// pending is a min-heap of held datagrams by due time.
type pending []*item

func (p pending) Len() int           { return len(p) }
func (p pending) Less(i, j int) bool { return p[i].due.Before(p[j].due) }
func (p pending) Swap(i, j int)      { p[i], p[j] = p[j], p[i] }
func (p *pending) Push(x any)        { *p = append(*p, x.(*item)) }
func (p *pending) Pop() any {
	old := *p
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*p = old[:len(old)-1]
	return it
}
