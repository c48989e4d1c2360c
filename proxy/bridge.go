package proxy

import (
	"io"
	"net"
	"sync"
)

// copyBufSize is the buffer of each copy direction: large enough that a
// bulk transfer costs few system calls per mesh stream chunk.
const copyBufSize = 256 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// closeWriter is a connection that can half-close (TCP, Unix, mesh streams).
type closeWriter interface{ CloseWrite() error }

// Bridge copies a to b and b to a until both directions end, then closes
// both. The end of one direction (EOF) half-closes the other side's write
// half, so a client's shutdown(SHUT_WR) reaches the server and the
// server's answer still comes back. An error in either direction closes
// both connections at once (a TCP side is reset, so it does not mistake a
// broken transfer for a complete one).
func Bridge(a, b net.Conn) {
	var wg sync.WaitGroup
	var once sync.Once
	abort := func() {
		once.Do(func() {
			resetTCP(a)
			resetTCP(b)
			a.Close()
			b.Close()
		})
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		copyHalf(b, a, abort)
	}()
	copyHalf(a, b, abort)
	wg.Wait()
	a.Close()
	b.Close()
}

// copyHalf copies src to dst; at EOF it half-closes dst, on error it aborts.
func copyHalf(dst, src net.Conn, abort func()) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	// writerOnly/readerOnly keep io.CopyBuffer from taking a
	// ReaderFrom/WriterTo path with a small internal buffer.
	_, err := io.CopyBuffer(writerOnly{dst}, readerOnly{src}, *bp)
	if err != nil {
		abort()
		return
	}
	if cw, ok := dst.(closeWriter); ok && cw.CloseWrite() == nil {
		return
	}
	// No half-close: the only way to pass EOF on is to close.
	dst.Close()
}

// resetTCP makes the next Close of a TCP connection send RST.
func resetTCP(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}

type writerOnly struct{ io.Writer }
type readerOnly struct{ io.Reader }
