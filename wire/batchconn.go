package wire

import (
	"bufio"
	"net"
	"sync"
)

// batchConn sits between TLS and the transport. TLS writes each record
// (at most 16 KiB) with its own Write; once a link is up, batchConn
// collects those records until the link writer calls Flush at the end of
// a batch, so a burst of frames costs one system call instead of one per
// record. During the handshake it writes through.
type batchConn struct {
	net.Conn
	mu sync.Mutex
	w  *bufio.Writer // nil while writing through
}

const batchBufferSize = 256 << 10

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.w == nil {
		return c.Conn.Write(p)
	}
	return c.w.Write(p)
}

// startBatching switches from writing through to batching.
func (c *batchConn) startBatching() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w = bufio.NewWriterSize(c.Conn, batchBufferSize)
}

// Flush writes out what TLS has written since the last Flush.
func (c *batchConn) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.w == nil {
		return nil
	}
	return c.w.Flush()
}
