package ctlsock

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"time"
)

// Handler runs one command of a session and returns its reply:
//   - err != nil: the line "ERROR: <err>" is sent;
//   - reply != nil: reply is sent as one compact JSON line (encoding/json,
//     map keys sorted, HTML-escaped, as receptor does);
//   - both nil: nothing more is sent (the handler wrote its own bytes).
//
// The session then reads the next command, unless the handler called
// Session.End. ctx is canceled when the session ends or the server closes.
type Handler func(ctx context.Context, s *Session, req Request) (reply any, err error)

// Session is one control connection. Handlers use it to read a payload,
// write their own bytes and end the session; it is not safe for use by
// several goroutines except as documented on Write.
type Session struct {
	srv   *Server
	conn  net.Conn
	rd    *connReader
	in    *bufio.Reader // buffers rd; holds bytes read past the current line
	log   *slog.Logger
	line  []byte // reused line buffer
	ended bool
}

// Reader returns the client's bytes that follow the current command line,
// starting with any the session has already buffered. It reports io.EOF
// when the client half-closes; the session then ends after the handler
// returns. A client silent for IdleTimeout makes Read fail.
func (ss *Session) Reader() io.Reader { return ss.in }

// Write sends raw bytes to the client. Each call must complete within
// IdleTimeout, so a client that stops reading cannot hold the session.
// One goroutine may Write while the session goroutine reads.
func (ss *Session) Write(p []byte) (int, error) {
	ss.conn.SetWriteDeadline(time.Now().Add(ss.srv.opts.IdleTimeout))
	return ss.conn.Write(p)
}

// End makes the session close the connection when the current handler
// returns, as receptor does after streaming work results.
func (ss *Session) End() { ss.ended = true }

// RemoteAddr is the client's address. Its Network() is "unix" for Unix
// sockets, where receptor skips work signature checks.
func (ss *Session) RemoteAddr() net.Addr { return ss.conn.RemoteAddr() }

// Logger returns the session's logger (it carries the client address).
func (ss *Session) Logger() *slog.Logger { return ss.log }
