package mesh

import (
	"bufio"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"meshd/wire"
)

// link is one established, authenticated connection to a neighbour.
type link struct {
	n       *Node
	peer    string
	peerKey ed25519.PublicKey
	cost    float64
	dialer  string // node ID of the side that dialed; decides duplicates
	// verified: the peer's certificate was verified and names it (CA
	// mode), so its key is one a certificate vouches for.
	verified bool
	conn     net.Conn // the TLS connection
	// raw is the transport under TLS, closed directly so that a dead peer
	// cannot stall a close on TLS's close-notify write.
	raw   net.Conn
	fr    *wire.FrameReader
	flush func() error // sends the records TLS batched below itself
	q     *linkQueue

	lastRecv  atomic.Int64 // UnixNano of the last frame received
	lastSend  atomic.Int64 // UnixNano of the last flush
	closeOnce sync.Once
	done      chan struct{}
	err       error // why the link closed; set before done is closed
}

func newLink(n *Node, p *wire.Peer, dialer string, verified bool) *link {
	l := &link{
		n: n, peer: p.NodeID, peerKey: p.Key, cost: p.Cost, dialer: dialer, verified: verified,
		conn: p.Conn, raw: p.Conn.NetConn(), fr: p.Reader, flush: p.Flush, q: newLinkQueue(), done: make(chan struct{}),
	}
	now := time.Now().UnixNano()
	l.lastRecv.Store(now)
	l.lastSend.Store(now)
	return l
}

// send queues a complete frame on the link, taking ownership of it.
func (l *link) send(frame *wire.Buf, ctrl bool) bool {
	if !l.q.push(frame, ctrl) {
		if !ctrl {
			l.n.stats.queueFull.Add(1)
		}
		return false
	}
	return true
}

// sendBytes queues a copy of a control frame body.
func (l *link) sendBytes(typ byte, body []byte) {
	f := wire.GetBuf(wire.FrameHeaderLen + len(body))
	b := wire.AppendFrameHeader(f.B[:0], typ, len(body))
	f.B = append(b, body...)
	l.send(f, true)
}

// close tears the link down once; err says why.
func (l *link) close(err error) {
	l.closeOnce.Do(func() {
		l.err = err
		l.q.close()
		l.raw.Close()
		close(l.done)
	})
}

// run starts the link's reader and writer and blocks until it closes.
func (l *link) run() {
	go l.writeLoop()
	err := l.readLoop()
	l.close(err)
	<-l.done
}

// readLoop reads frames until an error and dispatches them.
func (l *link) readLoop() error {
	for {
		typ, frame, err := l.fr.ReadRawFrame()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return errors.New("link closed by peer")
			}
			return err
		}
		l.lastRecv.Store(time.Now().UnixNano())
		if err := l.n.handleFrame(l, typ, frame); err != nil {
			return err
		}
	}
}

// writeLoop batches queued frames into large writes and sends keepalives
// on a quiet link.
func (l *link) writeLoop() {
	bw := bufio.NewWriterSize(l.conn, 64<<10)
	ka := time.NewTicker(l.n.cfg.KeepaliveInterval)
	defer ka.Stop()
	batch := make([]*wire.Buf, 0, 64)
	keepalive := wire.AppendFrameHeader(nil, wire.FrameKeepalive, 0)
	for {
		select {
		case <-l.done:
			return
		case <-l.q.signal:
		case now := <-ka.C:
			if now.UnixNano()-l.lastSend.Load() < int64(l.n.cfg.KeepaliveInterval)/2 {
				continue
			}
			if _, err := bw.Write(keepalive); err != nil {
				l.close(fmt.Errorf("write: %w", err))
				return
			}
		}
		for {
			batch = l.q.drain(batch[:0])
			if len(batch) == 0 {
				break
			}
			var err error
			for i, f := range batch {
				if err == nil {
					_, err = bw.Write(f.B)
				}
				wire.PutBuf(f)
				batch[i] = nil
			}
			if err != nil {
				l.close(fmt.Errorf("write: %w", err))
				return
			}
		}
		err := bw.Flush()
		if err == nil {
			err = l.flush()
		}
		if err != nil {
			l.close(fmt.Errorf("write: %w", err))
			return
		}
		l.lastSend.Store(time.Now().UnixNano())
	}
}

// checkIdleLinks drops links that have been silent for IdleTimeout: the
// peer vanished without closing (cable cut, host frozen).
func (n *Node) checkIdleLinks(now time.Time) {
	n.mu.Lock()
	var idle []*link
	for _, l := range n.links {
		if now.UnixNano()-l.lastRecv.Load() > int64(n.cfg.IdleTimeout) {
			idle = append(idle, l)
		}
	}
	n.mu.Unlock()
	for _, l := range idle {
		l.close(fmt.Errorf("no traffic for %v", n.cfg.IdleTimeout))
	}
}
