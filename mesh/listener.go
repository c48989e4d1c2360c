package mesh

import (
	"net"
	"sync"
)

// Listener accepts streams for one service. It implements net.Listener.
type Listener struct {
	n         *Node
	svc       string
	backlog   chan *Stream
	closed    chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex // orders enqueue against Close's drain
}

// ListenStream opens a stream service; ad != nil advertises it to the mesh.
func (n *Node) ListenStream(name string, ad *Advert) (*Listener, error) {
	sl := &Listener{n: n, svc: name, backlog: make(chan *Stream, acceptBacklog), closed: make(chan struct{})}
	if err := n.register(&service{name: name, ad: ad, sl: sl}); err != nil {
		return nil, err
	}
	return sl, nil
}

// enqueue offers a new stream to Accept; false if the backlog is full or
// the listener closed.
func (l *Listener) enqueue(s *Stream) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.closed:
		return false
	default:
	}
	select {
	case l.backlog <- s:
		return true
	default:
		return false
	}
}

// Accept waits for the next stream.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case s := <-l.backlog:
		return s, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops the service and refuses streams not yet accepted.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		close(l.closed)
		l.mu.Unlock()
		l.n.unregister(l.svc)
		for {
			select {
			case s := <-l.backlog:
				s.reset("service closed", true)
			default:
				return
			}
		}
	})
	return nil
}

// Addr implements net.Listener.
func (l *Listener) Addr() net.Addr { return Addr{l.n.id, l.svc} }
