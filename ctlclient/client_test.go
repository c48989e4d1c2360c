package ctlclient

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestGreeting(t *testing.T) {
	for _, prefix := range []string{"", "unix:", "unix://"} {
		addr := fakeServer(t, "Receptor Control, node n1\n", nil)
		c := dialT(t, prefix+addr)
		if c.Node() != "n1" {
			t.Errorf("%sNode() = %q, want n1", prefix, c.Node())
		}
	}
}

func TestGreetingOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			io.WriteString(conn, "Receptor Control, node tcp-node\r\n")
			io.Copy(io.Discard, conn)
			conn.Close()
		}
	}()
	c := dialT(t, "tcp:"+ln.Addr().String())
	if c.Node() != "tcp-node" {
		t.Errorf("Node() = %q", c.Node())
	}
}

func TestGreetingMismatch(t *testing.T) {
	for _, greeting := range []string{
		"Hello\n",
		"Receptor Control, node \n",
		"Receptor Control, node n1", // closed before the newline
		"",                          // closed at once
		"Receptor Control, node " + strings.Repeat("x", maxGreeting) + "\n",
	} {
		addr := fakeServer(t, greeting, nil)
		_, err := Dial(t.Context(), addr)
		if err == nil {
			t.Errorf("greeting %.40q: Dial succeeded", greeting)
		}
	}
}

func TestDialContextEndsSilentGreeting(t *testing.T) {
	addr := fakeServer(t, "", func(conn *net.UnixConn, rd *bufio.Reader) { rd.ReadByte() })
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, addr)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Dial took %v", d)
	}
}

func TestSplitAddr(t *testing.T) {
	for addr, want := range map[string]string{
		"/tmp/x.sock":      "unix /tmp/x.sock",
		"unix:/tmp/x.sock": "unix /tmp/x.sock",
		"unix:///tmp/x":    "unix /tmp/x",
		"tcp:127.0.0.1:80": "tcp 127.0.0.1:80",
		"tcp://host:8080":  "tcp host:8080",
		"rel/path.sock":    "unix rel/path.sock",
		"tls://host:1":     "error",
		"":                 "error",
		"tcp:":             "error",
	} {
		network, address, err := splitAddr(addr)
		got := network + " " + address
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("splitAddr(%q) = %q, want %q", addr, got, want)
		}
	}
}

func TestCommandReplies(t *testing.T) {
	addr := fakeServer(t, "Receptor Control, node n1\n", func(conn *net.UnixConn, rd *bufio.Reader) {
		if readCmd(t, rd, "status") {
			io.WriteString(conn, `{"NodeID":"n1"}`+"\n")
		}
		if readCmd(t, rd, "work status nope") {
			io.WriteString(conn, "ERROR: unknown work unit nope\n")
		}
		if readCmd(t, rd, `{"command":"ping","target":"n2"}`) {
			io.WriteString(conn, `{"Success":true}`+"\n")
		}
		if readCmd(t, rd, "connect n2 control") {
			io.WriteString(conn, "Connecting\n")
		}
	})
	c := dialT(t, addr)
	reply, err := c.Command("status")
	if err != nil || string(reply) != `{"NodeID":"n1"}` {
		t.Errorf("status = %q, %v", reply, err)
	}
	_, err = c.Command("work status nope")
	var re *RemoteError
	if !errors.As(err, &re) || re.Msg != "unknown work unit nope" || err.Error() != "unknown work unit nope" {
		t.Errorf("ERROR reply = %#v", err)
	}
	reply, err = c.CommandJSON(map[string]string{"target": "n2", "command": "ping"})
	if err != nil || string(reply) != `{"Success":true}` {
		t.Errorf("ping = %q, %v", reply, err)
	}
	// A reply that is neither JSON nor ERROR ends the session.
	if _, err := c.Command("connect n2 control"); err == nil || errors.As(err, &re) {
		t.Errorf("non-JSON reply: err = %v", err)
	}
	if _, err := c.Command("status"); err == nil {
		t.Error("command after a broken session succeeded")
	}
}

func TestCommandRejectsLineBreaks(t *testing.T) {
	addr := fakeServer(t, "Receptor Control, node n1\n", func(conn *net.UnixConn, rd *bufio.Reader) {
		if readCmd(t, rd, "status") {
			io.WriteString(conn, "{}\n")
		}
	})
	c := dialT(t, addr)
	for _, line := range []string{"status\nping n1", "status\r", "{bad json"} {
		if _, err := c.Command(line); err == nil {
			t.Errorf("Command(%q) succeeded", line)
		}
	}
	if reply, err := c.Command("status"); err != nil || string(reply) != "{}" {
		t.Errorf("status after refused lines = %q, %v", reply, err)
	}
}

func TestOverlongLine(t *testing.T) {
	exact := `"` + strings.Repeat("a", MaxLine-2) + `"`
	addr := fakeServer(t, "Receptor Control, node n1\n", func(conn *net.UnixConn, rd *bufio.Reader) {
		if readCmd(t, rd, "a") {
			io.WriteString(conn, exact+"\n")
		}
		if readCmd(t, rd, "b") {
			io.WriteString(conn, exact+" \n")
		}
	})
	c := dialT(t, addr)
	reply, err := c.Command("a")
	if err != nil || len(reply) != MaxLine {
		t.Fatalf("line of MaxLine bytes: len %d, %v", len(reply), err)
	}
	if _, err := c.Command("b"); !errors.Is(err, ErrLineTooLong) {
		t.Errorf("line of MaxLine+1 bytes: %v, want ErrLineTooLong", err)
	}
	if _, err := c.Command("a"); !errors.Is(err, ErrLineTooLong) {
		t.Errorf("command after an overlong line: %v, want the same error", err)
	}
}

func TestServerClosesMidReply(t *testing.T) {
	addr := fakeServer(t, "Receptor Control, node n1\n", func(conn *net.UnixConn, rd *bufio.Reader) {
		if readCmd(t, rd, "status") {
			io.WriteString(conn, `{"NodeID"`)
		}
	})
	c := dialT(t, addr)
	if _, err := c.Command("status"); err == nil || !strings.Contains(err.Error(), "middle of a line") {
		t.Errorf("truncated reply: %v", err)
	}
}
