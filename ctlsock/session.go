package ctlsock

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

const greetingPrefix = "Receptor Control, node "

// ServeConn runs one control session on c and returns when it ends: at the
// client's EOF, after a command that ends the session, on a read or write
// failure, when ctx is canceled or when the server closes. It closes c.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	ok, full := s.startSession()
	if !ok {
		if full {
			s.refuse(c)
		}
		return
	}
	defer s.endSession()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()
	// Closing the connection is what unblocks a session stuck in a read or
	// write when its context ends.
	defer context.AfterFunc(ctx, func() { c.Close() })()
	ss := newSession(s, c)
	defer ss.recoverPanic()
	ss.run(ctx)
}

// refuse turns away a connection beyond MaxSessions.
func (s *Server) refuse(c net.Conn) {
	s.limits.sessions.log(s.log, slog.LevelWarn, "control service: too many sessions; refusing connection",
		"max", s.opts.MaxSessions, "remote", addrString(c.RemoteAddr()))
	c.SetWriteDeadline(time.Now().Add(time.Second))
	io.WriteString(c, errorLine("too many control sessions"))
}

func newSession(s *Server, c net.Conn) *Session {
	rd := &connReader{conn: c, idle: s.opts.IdleTimeout}
	return &Session{
		srv:  s,
		conn: c,
		rd:   rd,
		in:   bufio.NewReader(rd),
		log:  s.log.With("remote", addrString(c.RemoteAddr())),
	}
}

func addrString(a net.Addr) string {
	if a == nil || a.String() == "" {
		return "local"
	}
	return a.String()
}

// recoverPanic is the last resort against a bug triggered by a client: the
// session dies, the daemon does not.
func (ss *Session) recoverPanic() {
	if r := recover(); r != nil {
		ss.srv.limits.panics.log(ss.log, slog.LevelError, "control session panicked; closed it",
			"panic", r, "stack", string(debug.Stack()))
	}
}

func (ss *Session) run(ctx context.Context) {
	if !ss.send([]byte(greetingPrefix + ss.srv.mesh.NodeID() + "\n")) {
		return
	}
	for !ss.ended {
		line, err := ss.readLine()
		if err != nil && !errors.Is(err, io.EOF) {
			ss.readFailed(err)
			return
		}
		if len(line) > 0 {
			ss.execute(ctx, line) // a final line ended by EOF still runs
		}
		if err != nil {
			return
		}
	}
}

// readFailed reports why a session stops reading; only misbehaviour is
// worth a warning.
func (ss *Session) readFailed(err error) {
	switch {
	case errors.Is(err, errLineTooLong):
		ss.srv.limits.client.log(ss.log, slog.LevelWarn, "control session: command line too long; closing",
			"max_bytes", ss.srv.opts.MaxLine)
		if ss.send([]byte(errorLine("line too long"))) {
			ss.closeGently()
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		ss.srv.limits.client.log(ss.log, slog.LevelWarn, "control session: client idle; closing",
			"idle_timeout", ss.srv.opts.IdleTimeout)
	default:
		ss.log.Debug("control session: read failed", "err", err)
	}
}
func (ss *Session) execute(ctx context.Context, line []byte) {
	req, err := ParseRequest(line)
	switch {
	case errors.Is(err, ErrEmptyLine):
		return
	case err != nil:
		// The failed parse leaves an empty command, which receptor then
		// also reports as unknown: two lines.
		ss.srv.limits.input.log(ss.log, slog.LevelDebug, "control session: bad JSON command", "err", err)
		ss.send([]byte(errorLine(err.Error()) + errorLine("Unknown command")))
		return
	}
	h := ss.srv.handler(req.Command)
	if h == nil {
		ss.srv.limits.input.log(ss.log, slog.LevelDebug, "control session: unknown command",
			"command", truncate(req.Command, 64))
		ss.send([]byte(errorLine("Unknown command")))
		return
	}
	reply, err := h(ctx, ss, req)
	ss.sendReply(reply, err)
}

func (ss *Session) sendReply(reply any, err error) {
	if err != nil {
		ss.send([]byte(errorLine(err.Error())))
		return
	}
	if reply == nil {
		return
	}
	b, err := json.Marshal(reply)
	if err != nil {
		ss.send([]byte(errorLine("could not convert response to JSON: " + err.Error())))
		return
	}
	ss.send(append(b, '\n'))
}

// errorLine formats an error reply. A newline inside msg would end the
// reply early and desynchronise the client, so it becomes a space.
func errorLine(msg string) string {
	return "ERROR: " + strings.ReplaceAll(msg, "\n", " ") + "\n"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// send writes b and ends the session if the client cannot take it.
func (ss *Session) send(b []byte) bool {
	if _, err := ss.Write(b); err != nil {
		ss.log.Debug("control session: write failed", "err", err)
		ss.ended = true
		return false
	}
	return true
}
