package ctlclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The seed corpus of FuzzServer is in testdata/fuzz/FuzzServer: what
// control services send (greetings, status and error replies, a whole
// submit, a results stream), CRLF line ends, bad and overlong greetings,
// lines cut off by the close, mismatched unit IDs and binary garbage.
// Fuzz it with
//
//	go test -run '^$' -fuzz '^FuzzServer$' -fuzztime 20s ./ctlclient/

// fuzzUnitID is the unit FuzzServer asks for results of.
const fuzzUnitID = "Ab12Cd34"

// fuzzDeadline is set on the client's connection. The fake server sends
// its bytes and half-closes, so no call may need it: a call that ends in
// a timeout waited for bytes that could never come.
const fuzzDeadline = 10 * time.Second

// FuzzServer plays a misbehaving control service: it sends the fuzzed
// bytes, half-closes, and reads whatever the client sends. Against it,
// New followed by Command("status"), by Submit and by Results (read to the
// end) must not panic, must return without waiting for a deadline, must
// enforce the greeting's length bound, and whatever they accept must be
// what the bytes say.
func FuzzServer(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, nlines := splitServerLines(data)

		fuzzSession(t, data, func(c *Client) error {
			reply, err := c.Command("status")
			if err != nil {
				return checkReplyError(t, lines, 1, err)
			}
			if want := lines[1]; nlines < 2 || !bytes.Equal(reply, want) || !json.Valid(reply) {
				t.Fatalf("status reply %q, the server sent %q", reply, want)
			}
			return nil
		})

		fuzzSession(t, data, func(c *Client) error {
			req := map[string]string{"command": "work", "subcommand": "submit", "node": "n2", "worktype": "echo"}
			reply, err := c.Submit(req, strings.NewReader("payload\n"))
			if reply.UnitID != "" {
				id, ok := parseCreated(string(lines[1]))
				if !ok || id != reply.UnitID {
					t.Fatalf("submit reply %+v, the server said %q", reply, lines[1])
				}
			}
			if err != nil {
				if reply.Result != "" {
					t.Fatalf("submit failed (%v) with result %q", err, reply.Result)
				}
				return err
			}
			var final struct {
				Result string `json:"result"`
			}
			if reply.UnitID == "" || nlines < 3 || json.Unmarshal(lines[2], &final) != nil || final.Result != reply.Result || final.Result == "" {
				t.Fatalf("submit reply %+v from %q", reply, data)
			}
			return nil
		})

		fuzzSession(t, data, func(c *Client) error {
			r, err := c.Results(fuzzUnitID, 0, "")
			if err != nil {
				return err
			}
			got, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			// The stream is everything after the header line.
			_, rest, _ := bytes.Cut(data, []byte("\n"))
			_, want, _ := bytes.Cut(rest, []byte("\n"))
			if !bytes.Equal(got, want) {
				t.Fatalf("results stream %q, the server sent %q after the header", got, want)
			}
			return nil
		})
	})
}

// splitServerLines splits data into lines as the client reads them (no
// "\n", one trailing "\r" dropped); the unterminated rest is no line. It
// returns how many lines there are, and at least three, empty ones added,
// so that callers can index the first three.
func splitServerLines(data []byte) ([][]byte, int) {
	var lines [][]byte
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if !bytes.HasSuffix(l, []byte("\n")) {
			break
		}
		lines = append(lines, bytes.TrimSuffix(bytes.TrimSuffix(l, []byte("\n")), []byte("\r")))
	}
	n := len(lines)
	for len(lines) < 3 {
		lines = append(lines, nil)
	}
	return lines, n
}

// checkReplyError checks an error for the reply on line i: an ERROR line
// is a *RemoteError with the rest of that line; the message never spans
// lines.
func checkReplyError(t *testing.T, lines [][]byte, i int, err error) error {
	t.Helper()
	var remote *RemoteError
	if errors.As(err, &remote) {
		if !bytes.HasPrefix(lines[i], []byte("ERROR")) || strings.Contains(remote.Msg, "\n") {
			t.Fatalf("RemoteError %q from line %q", remote.Msg, lines[i])
		}
	}
	return err
}

// fuzzSession runs New and then use against a server that sends data and
// half-closes. The client runs in the test goroutine, bounded by the
// deadline on its connection, which no call may reach.
func fuzzSession(t *testing.T, data []byte, use func(c *Client) error) {
	t.Helper()
	client, server := fuzzSocketPair(t)
	served := make(chan struct{})
	go func() {
		defer close(served)
		defer server.Close()
		drained := make(chan struct{})
		go func() { // read what the client sends, so that it never blocks
			io.Copy(io.Discard, server)
			close(drained)
		}()
		server.Write(data) // the client may have closed already: fine
		server.(*net.UnixConn).CloseWrite()
		<-drained
	}()
	defer func() {
		client.Close() // ends the server's read
		<-served
	}()
	client.SetDeadline(time.Now().Add(fuzzDeadline))
	c, err := New(client)
	if err != nil {
		err = checkGreetingError(t, data, err)
	} else {
		checkGreeting(t, data, c)
		err = use(c)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("waited for the deadline on %q: %v", data, err)
	}
}

// checkGreeting: an accepted greeting is a bounded line that starts with
// the prefix and names the node New reports.
func checkGreeting(t *testing.T, data []byte, c *Client) {
	t.Helper()
	line, _, ok := bytes.Cut(data, []byte("\n"))
	if !ok || len(line) > maxGreeting {
		t.Fatalf("greeting accepted from %q", data[:min(len(data), 300)])
	}
	line = bytes.TrimSuffix(line, []byte("\r"))
	node, ok := bytes.CutPrefix(line, []byte(greetingPrefix))
	if !ok || c.Node() == "" || c.Node() != strings.TrimSpace(string(node)) {
		t.Fatalf("greeting %q gave node %q", line, c.Node())
	}
}

// checkGreetingError: a greeting line longer than maxGreeting is
// refused as too long, before the rest of it is read.
func checkGreetingError(t *testing.T, data []byte, err error) error {
	t.Helper()
	line, _, _ := bytes.Cut(data, []byte("\n"))
	if len(line) > maxGreeting && !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("greeting of %d bytes: %v, want ErrLineTooLong", len(line), err)
	}
	if errors.Is(err, ErrLineTooLong) && len(line) <= maxGreeting {
		t.Fatalf("greeting of %d bytes refused as too long", len(line))
	}
	return err
}

// fuzzSocketPair is a connected pair of Unix stream sockets, which can
// half-close (Submit needs that; net.Pipe cannot).
func fuzzSocketPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), fmt.Sprintf("socketpair-%d", i))
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	return conns[0], conns[1]
}
