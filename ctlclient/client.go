// Package ctlclient is a client of receptor's control protocol
// (receptor-control.md §1–3): one session per connection, past the
// greeting, with commands sent as lines and answered by one reply line.
// meshd's remote-work code uses it over mesh streams to another node's
// `control` service, and `meshd ctl` over Unix and TCP sockets.
//
// It only speaks the protocol: it does not retry, reconnect or set
// deadlines of its own once a session is open (callers set them on the
// connection). A Client is not safe for concurrent use, except Close,
// which aborts whatever the session is doing.
package ctlclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// MaxLine bounds a reply line, without its "\n". A longer line is an error
// (ErrLineTooLong) that ends the session.
const MaxLine = 16 << 20

// maxGreeting bounds the greeting line; node IDs are short.
const maxGreeting = 4096

// greetingPrefix starts the line a control service sends first (§1.2).
const greetingPrefix = "Receptor Control, node "

// ErrLineTooLong is returned when a reply line exceeds MaxLine.
var ErrLineTooLong = errors.New("reply line too long")

// errSessionOver is the sticky error after Submit or Results, which hand
// the rest of the connection to the work unit.
var errSessionOver = errors.New("control session already used by a submit or results stream")

// RemoteError is an "ERROR: <Msg>" reply from the control service. The
// session goes on after it.
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return e.Msg }

// Client is one control session past its greeting
// ("Receptor Control, node <ID>\n").
type Client struct {
	conn net.Conn
	rd   *bufio.Reader
	node string
	err  error // permanent: once set, every later command returns it
}

// New reads the greeting from conn and returns the session. The caller
// sets deadlines on conn. On error conn is left open for the caller.
func New(conn net.Conn) (*Client, error) {
	c := &Client{conn: conn, rd: bufio.NewReader(conn)}
	line, err := c.readLine(maxGreeting)
	if err != nil {
		return nil, fmt.Errorf("reading the greeting: %w", err)
	}
	node, ok := strings.CutPrefix(string(line), greetingPrefix)
	if !ok || strings.TrimSpace(node) == "" {
		return nil, fmt.Errorf("not a control service: greeting %q, want %q", clip(line), greetingPrefix+"<node>")
	}
	c.node = strings.TrimSpace(node)
	return c, nil
}

// Dial connects to a control service and reads its greeting. addr is a
// Unix socket path, "unix:PATH" (or "unix://PATH"), or "tcp:HOST:PORT"
// (or "tcp://HOST:PORT"). ctx bounds the dial and the greeting only.
func Dial(ctx context.Context, addr string) (*Client, error) {
	network, address, err := splitAddr(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	// ctx ending interrupts the greeting (and then ctx.Err() is set).
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	c, err := New(conn)
	if stop() && err == nil {
		conn.SetDeadline(time.Time{})
		return c, nil
	}
	// Failed, or ctx ended during the greeting (its deadline may still
	// land on conn).
	conn.Close()
	switch {
	case ctx.Err() != nil && err != nil:
		return nil, fmt.Errorf("%s: %w (%v)", addr, ctx.Err(), err)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%s: %w", addr, ctx.Err())
	}
	return nil, fmt.Errorf("%s: %w", addr, err)
}

// splitAddr maps receptorctl-style addresses to a network and address.
func splitAddr(addr string) (network, address string, err error) {
	switch {
	case strings.HasPrefix(addr, "tcp:"):
		network, address = "tcp", strings.TrimPrefix(strings.TrimPrefix(addr, "tcp:"), "//")
	case strings.HasPrefix(addr, "unix:"):
		network, address = "unix", strings.TrimPrefix(strings.TrimPrefix(addr, "unix:"), "//")
	case strings.HasPrefix(addr, "tls:"):
		return "", "", fmt.Errorf("%s: TLS control connections are not supported", addr)
	default:
		network, address = "unix", addr
	}
	if address == "" {
		return "", "", fmt.Errorf("%q: empty control socket address", addr)
	}
	return network, address, nil
}

// Node is the node ID named by the greeting.
func (c *Client) Node() string { return c.node }

// Conn is the underlying connection (to set deadlines, or to close it).
func (c *Client) Conn() net.Conn { return c.conn }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Command sends one command line, text or JSON form ("\n" is appended),
// and reads the one reply line; a line starting with "{" must be valid
// JSON. An "ERROR: msg" reply is a *RemoteError;
// any other reply must be JSON and is returned without its "\n".
func (c *Client) Command(line string) ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	if strings.ContainsAny(line, "\n\r") {
		return nil, fmt.Errorf("command %q: contains a line break", clip([]byte(line)))
	}
	if strings.HasPrefix(line, "{") && !json.Valid([]byte(line)) {
		// The server would answer with two ERROR lines (§1.4).
		return nil, fmt.Errorf("command %q: not valid JSON", clip([]byte(line)))
	}
	if err := c.send(line); err != nil {
		return nil, err
	}
	reply, err := c.readReply()
	if err != nil {
		return nil, err
	}
	if !json.Valid(reply) {
		return nil, c.fail(fmt.Errorf("unexpected reply %q", clip(reply)))
	}
	return reply, nil
}

// CommandJSON marshals v with encoding/json (compact; map keys sorted) and
// sends it as one command line, as Command does.
func (c *Client) CommandJSON(v any) ([]byte, error) {
	line, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the command: %w", err)
	}
	return c.Command(string(line))
}

// send writes one command line.
func (c *Client) send(line string) error {
	if _, err := c.conn.Write([]byte(line + "\n")); err != nil {
		return c.fail(fmt.Errorf("sending the command: %w", err))
	}
	return nil
}

// readReply reads one reply line and turns "ERROR..." into *RemoteError.
func (c *Client) readReply() ([]byte, error) {
	line, err := c.readLine(MaxLine)
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("the control service closed the connection (%w)", err)
	}
	if err != nil {
		return nil, c.fail(fmt.Errorf("reading the reply: %w", err))
	}
	if rest, ok := bytes.CutPrefix(line, []byte("ERROR")); ok {
		rest = bytes.TrimPrefix(rest, []byte(":"))
		return nil, &RemoteError{Msg: string(bytes.TrimPrefix(rest, []byte(" ")))}
	}
	return line, nil
}

// readLine reads one line of at most limit bytes (without "\n"), drops a
// trailing "\r", and returns a copy of it.
func (c *Client) readLine(limit int) ([]byte, error) {
	var line []byte
	for {
		frag, err := c.rd.ReadSlice('\n')
		content := len(line) + len(frag)
		if err == nil {
			content-- // the "\n"
		}
		if content > limit {
			return nil, fmt.Errorf("%w (more than %d bytes)", ErrLineTooLong, limit)
		}
		line = append(line, frag...)
		switch {
		case err == nil:
			line = line[:len(line)-1]
			return bytes.TrimSuffix(line, []byte("\r")), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return nil, fmt.Errorf("connection closed in the middle of a line %q", clip(line))
		default:
			return nil, err
		}
	}
}

// fail records a permanent error: the session can no longer be trusted.
func (c *Client) fail(err error) error {
	if c.err == nil {
		c.err = err
	}
	return err
}

// clip shortens a line quoted in an error message.
func clip(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
