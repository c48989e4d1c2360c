package mesh

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"sync"
)

// maxStreams bounds the streams a node keeps at once.
const maxStreams = 16384

// streamKey names a stream on this node: the remote node and the ID this
// end writes on its frames. The opener writes the bare ID, the acceptor
// the ID with wire.StreamAcceptorBit, so both ends may open streams with
// the same number.
type streamKey struct {
	node string
	id   uint32
}

type streamTable struct {
	mu     sync.Mutex
	m      map[streamKey]*Stream
	nextID uint32
}

func (t *streamTable) init() {
	t.m = map[streamKey]*Stream{}
	var b [4]byte
	_, _ = rand.Read(b[:])
	// A random start keeps a restarted node from reusing the IDs of its
	// previous life while stale state may still exist at peers.
	t.nextID = binary.BigEndian.Uint32(b[:]) &^ acceptorBit
}

const acceptorBit = 1 << 31

// allocID picks a free opener ID for a stream to node.
func (t *streamTable) allocID(node string) (uint32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= maxStreams {
		return 0, errors.New("too many streams")
	}
	for {
		t.nextID = (t.nextID + 1) &^ acceptorBit
		if t.nextID == 0 {
			continue
		}
		if _, used := t.m[streamKey{node, t.nextID}]; !used {
			return t.nextID, nil
		}
	}
}

func (t *streamTable) add(s *Stream) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= maxStreams {
		return errors.New("too many streams")
	}
	if _, dup := t.m[s.key]; dup {
		return errors.New("duplicate stream")
	}
	t.m[s.key] = s
	return nil
}

// lookupRecv finds the stream a received frame belongs to: the sender wrote
// its own ID, which differs from ours in the acceptor bit.
func (t *streamTable) lookupRecv(src string, wireID uint32) *Stream {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[streamKey{src, wireID ^ acceptorBit}]
}

func (t *streamTable) remove(s *Stream) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m[s.key] == s {
		delete(t.m, s.key)
	}
}

func (t *streamTable) snapshot(match func(*Stream) bool) []*Stream {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*Stream
	for _, s := range t.m {
		if match(s) {
			out = append(out, s)
		}
	}
	return out
}

// resetNode kills every stream to node (it became unreachable).
func (t *streamTable) resetNode(node, reason string) {
	for _, s := range t.snapshot(func(s *Stream) bool { return s.key.node == node }) {
		s.reset(reason, false)
	}
}

// unreachable kills the stream whose frame could not be delivered.
func (t *streamTable) unreachable(node string, wireID uint32, reason string) {
	t.mu.Lock()
	s := t.m[streamKey{node, wireID}]
	t.mu.Unlock()
	if s != nil {
		s.reset(reason, false)
	}
}

func (t *streamTable) resetAll(err error) {
	for _, s := range t.snapshot(func(*Stream) bool { return true }) {
		s.reset(err.Error(), false)
	}
}

// StreamCount returns the number of live streams (for tests and status).
func (n *Node) StreamCount() int {
	n.streams.mu.Lock()
	defer n.streams.mu.Unlock()
	return len(n.streams.m)
}
