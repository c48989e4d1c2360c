package ctlclient

import (
	"bufio"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// fakeServer accepts one connection on a Unix socket in t.TempDir(),
// writes greeting, then runs script. The test waits for script to end.
func fakeServer(t *testing.T, greeting string, script func(conn *net.UnixConn, rd *bufio.Reader)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer ln.Close()
		conn, err := ln.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, greeting); err != nil {
			return
		}
		if script != nil {
			script(conn.(*net.UnixConn), bufio.NewReader(conn))
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return path
}

// readCmd reads one command line as the server does, failing the test on
// anything but want.
func readCmd(t *testing.T, rd *bufio.Reader, want string) bool {
	t.Helper()
	line, err := rd.ReadString('\n')
	if err != nil || line != want+"\n" {
		t.Errorf("server got %q (%v), want %q", line, err, want+"\n")
		return false
	}
	return true
}

func dialT(t *testing.T, addr string) *Client {
	t.Helper()
	c, err := Dial(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.Conn().SetDeadline(time.Now().Add(10 * time.Second))
	return c
}
