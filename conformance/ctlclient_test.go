package conformance

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// greetingPrefix starts the line a control service sends first
// (receptor-control.md §1.2).
const greetingPrefix = "Receptor Control, node "

// ctlConn is a client session with a control service, past its greeting.
type ctlConn struct {
	conn net.Conn
	rd   *bufio.Reader
	node string // the node ID the greeting named
}

// dialCtl connects to a control service and reads its greeting. addr is a
// Unix socket path, or "tcp:HOST:PORT" for a tcplisten service. Every read
// and write of the session must finish by deadline.
func dialCtl(addr string, deadline time.Time) (*ctlConn, error) {
	network, address := "unix", addr
	if rest, ok := strings.CutPrefix(addr, "tcp:"); ok {
		network, address = "tcp", rest
	}
	d := net.Dialer{Deadline: deadline}
	conn, err := d.Dial(network, address)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(deadline)
	c := &ctlConn{conn: conn, rd: bufio.NewReader(conn)}
	line, err := c.rd.ReadString('\n')
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: reading the greeting: %v (got %q)", addr, err, line)
	}
	node, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), greetingPrefix)
	if !ok || node == "" || !strings.HasSuffix(line, "\n") {
		conn.Close()
		return nil, fmt.Errorf("%s: bad greeting %q, want %q", addr, line, greetingPrefix+"<node>\\n")
	}
	c.node = node
	return c, nil
}

// command sends one command line and returns the one reply line, without
// its newline.
func (c *ctlConn) command(line string) (string, error) {
	if _, err := io.WriteString(c.conn, line+"\n"); err != nil {
		return "", fmt.Errorf("sending %q: %v", line, err)
	}
	reply, err := c.rd.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("reply to %q: %v (got %q)", line, err, reply)
	}
	return strings.TrimSuffix(reply, "\n"), nil
}

func (c *ctlConn) Close() error { return c.conn.Close() }

// ctlOnce runs one command in a fresh session.
func ctlOnce(addr, line string, deadline time.Time) (string, error) {
	c, err := dialCtl(addr, deadline)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.command(line)
}

// ctlRaw connects, sends data as is, half-closes and returns every byte
// the server sends (greeting included) until it closes the connection.
func ctlRaw(addr string, data []byte, deadline time.Time) (string, error) {
	network, address := "unix", addr
	if rest, ok := strings.CutPrefix(addr, "tcp:"); ok {
		network, address = "tcp", rest
	}
	d := net.Dialer{Deadline: deadline}
	conn, err := d.Dial(network, address)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	// Write concurrently: a server that answers while we still send must
	// not deadlock us on full socket buffers.
	sent := make(chan error, 1)
	go func() {
		_, err := conn.Write(data)
		if err == nil {
			err = conn.(interface{ CloseWrite() error }).CloseWrite()
		}
		sent <- err
	}()
	out, err := io.ReadAll(conn)
	if werr := <-sent; werr != nil && err == nil {
		err = fmt.Errorf("sending: %v", werr)
	}
	if err != nil {
		return string(out), fmt.Errorf("%v (received so far: %q)", err, out)
	}
	return string(out), nil
}
