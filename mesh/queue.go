package mesh

import (
	"sync"

	"meshd/wire"
)

// Queue limits per link. Control frames (routing, stream control) are
// small and few; bulk frames (stream data, datagrams) are bounded in bytes.
// Datagrams are dropped beyond maxBulkBytes, and local stream writers wait
// there. Forwarded stream data must not be dropped (it would kill the
// stream): it is already bounded end to end by each stream's window, so
// many busy streams crossing one link may fill the queue up to
// maxStreamBulkBytes, which only a peer ignoring its windows could reach.
const (
	maxCtrlFrames      = 4096
	maxBulkBytes       = 8 << 20
	maxStreamBulkBytes = 128 << 20
	maxBatchBytes      = 256 << 10
)

// bulkLimit is the queue size up to which a bulk frame is taken: stream
// frames may use the room above maxBulkBytes, datagrams may not.
func bulkLimit(frame *wire.Buf) int {
	const kindAt = wire.FrameHeaderLen + wire.RoutedHopOffset + 1
	if len(frame.B) > kindAt && frame.B[kindAt] == wire.KindDatagram {
		return maxBulkBytes
	}
	return maxStreamBulkBytes
}

// linkQueue is a link's outgoing frames in two priority classes. The
// writer goroutine drains control frames before bulk ones, so routing and
// credit updates are never stuck behind bulk data.
type linkQueue struct {
	mu        sync.Mutex
	ctrl      []*wire.Buf
	bulk      []*wire.Buf
	bulkHead  int
	bulkBytes int
	closed    bool
	signal    chan struct{} // wakes the writer; capacity 1
	space     chan struct{} // closed and replaced when bulk space frees up
}

func newLinkQueue() *linkQueue {
	return &linkQueue{signal: make(chan struct{}, 1), space: make(chan struct{})}
}

// push queues frame; it takes ownership and frees the frame when it cannot
// be queued (closed link or full queue), reporting false.
func (q *linkQueue) push(frame *wire.Buf, ctrl bool) bool {
	q.mu.Lock()
	ok := !q.closed
	if ok && ctrl {
		ok = len(q.ctrl) < maxCtrlFrames
		if ok {
			q.ctrl = append(q.ctrl, frame)
		}
	} else if ok {
		ok = q.bulkBytes < bulkLimit(frame)
		if ok {
			q.bulk = append(q.bulk, frame)
			q.bulkBytes += len(frame.B)
		}
	}
	q.mu.Unlock()
	if !ok {
		wire.PutBuf(frame)
		return false
	}
	select {
	case q.signal <- struct{}{}:
	default:
	}
	return true
}

// waitSpace returns a channel that is closed once bulk space may be
// available, or nil if there is space now. Local stream writers use it to
// block instead of dropping.
func (q *linkQueue) waitSpace() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || q.bulkBytes < maxBulkBytes {
		return nil
	}
	return q.space
}

// drain moves up to maxBatchBytes of frames into batch, control first.
func (q *linkQueue) drain(batch []*wire.Buf) []*wire.Buf {
	q.mu.Lock()
	defer q.mu.Unlock()
	size := 0
	batch = append(batch, q.ctrl...)
	for _, f := range q.ctrl {
		size += len(f.B)
	}
	clear(q.ctrl)
	q.ctrl = q.ctrl[:0]
	freed := false
	for q.bulkHead < len(q.bulk) && size < maxBatchBytes {
		f := q.bulk[q.bulkHead]
		q.bulk[q.bulkHead] = nil
		q.bulkHead++
		q.bulkBytes -= len(f.B)
		size += len(f.B)
		batch = append(batch, f)
		freed = true
	}
	if q.bulkHead == len(q.bulk) {
		q.bulk, q.bulkHead = q.bulk[:0], 0
	} else if q.bulkHead > 1024 && q.bulkHead*2 > len(q.bulk) {
		n := copy(q.bulk, q.bulk[q.bulkHead:])
		clear(q.bulk[n:])
		q.bulk, q.bulkHead = q.bulk[:n], 0
	}
	if freed {
		close(q.space)
		q.space = make(chan struct{})
	}
	return batch
}

// close discards everything queued and refuses further frames.
func (q *linkQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.closed = true
	for _, f := range q.ctrl {
		wire.PutBuf(f)
	}
	for _, f := range q.bulk[q.bulkHead:] {
		wire.PutBuf(f)
	}
	q.ctrl, q.bulk, q.bulkBytes = nil, nil, 0
	close(q.space)
}
