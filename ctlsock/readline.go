package ctlsock

import (
	"bufio"
	"errors"
	"io"
	"net"
	"time"
)

var errLineTooLong = errors.New("line too long")

const (
	lingerTime  = 500 * time.Millisecond
	lingerBytes = 1 << 20
)

// closeGently half-closes and discards what the client is still sending,
// for a moment: closing with unread input makes the kernel send a reset,
// which can destroy the last reply before the client reads it (net/http
// does the same).
func (ss *Session) closeGently() {
	if hc, ok := ss.conn.(interface{ CloseWrite() error }); ok {
		hc.CloseWrite()
	}
	ss.conn.SetReadDeadline(time.Now().Add(lingerTime))
	io.CopyN(io.Discard, ss.conn, lingerBytes)
}

// readLine returns the next line without its "\n". At EOF it returns the
// unterminated rest of the input (possibly empty) with io.EOF.
func (ss *Session) readLine() ([]byte, error) {
	if cap(ss.line) > 64<<10 {
		ss.line = nil // do not keep a huge buffer after one long line
	}
	ss.line = ss.line[:0]
	for {
		frag, err := ss.in.ReadSlice('\n')
		ss.line = append(ss.line, frag...)
		content := len(ss.line)
		if err == nil {
			content-- // the "\n"
		}
		if content > ss.srv.opts.MaxLine {
			return nil, errLineTooLong
		}
		switch {
		case err == nil:
			return ss.line[:content], nil
		case !errors.Is(err, bufio.ErrBufferFull):
			return ss.line, err
		}
	}
}

// connReader reads the connection with an idle deadline renewed before
// every read (on connections that support deadlines). Its first error,
// EOF included, is final: after a payload read timed out half-way, the
// rest of the payload must not be read as commands.
type connReader struct {
	conn net.Conn
	idle time.Duration // 0 = no deadline
	err  error
}

func (r *connReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.idle > 0 {
		r.conn.SetReadDeadline(time.Now().Add(r.idle))
	}
	n, err := r.conn.Read(p)
	r.err = err
	return n, err
}

// noIdleTimeout lifts the idle limit; call it before another goroutine
// starts reading.
func (r *connReader) noIdleTimeout() {
	r.idle = 0
	r.conn.SetReadDeadline(time.Time{})
}
