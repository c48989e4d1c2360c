package wire

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sockDir returns a short temporary directory: Unix socket paths are
// limited to about 108 bytes.
func sockDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wire")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestListenUnixRegularFile(t *testing.T) {
	path := filepath.Join(sockDir(t), "sock")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("unix", path, 0o600)
	if err == nil {
		ln.Close()
		t.Fatal("Listen took over a regular file")
	}
	if !strings.Contains(err.Error(), "is not a socket") {
		t.Fatalf("error %q", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Fatal("the regular file was changed")
	}
}

func TestListenUnixStaleSocket(t *testing.T) {
	path := filepath.Join(sockDir(t), "sock")
	old, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	// A process that died leaves its socket file behind.
	old.(*net.UnixListener).SetUnlinkOnClose(false)
	old.Close()
	if st, err := os.Lstat(path); err != nil || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("no stale socket to test with: %v", err)
	}
	ln, err := Listen("unix", path, 0)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	defer ln.Close()
	checkEcho(t, ln, "unix", path)
}

func TestListenUnixLive(t *testing.T) {
	path := filepath.Join(sockDir(t), "sock")
	live, err := Listen("unix", path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	// Listen's liveness probe completes in the listen backlog; nobody needs
	// to accept it.
	ln, err := Listen("unix", path, 0)
	if err == nil {
		ln.Close()
		t.Fatal("Listen took over a live socket")
	}
	if !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("error %q", err)
	}
	// The live listener still works (after the probe, which it accepts
	// first and which is already closed).
	if c, err := live.Accept(); err == nil {
		c.Close()
	}
	checkEcho(t, live, "unix", path)
}

func TestListenUnixPerm(t *testing.T) {
	for _, perm := range []os.FileMode{0o600, 0o660, 0o666} {
		path := filepath.Join(sockDir(t), "sock")
		ln, err := Listen("unix", path, perm)
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		ln.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != perm {
			t.Errorf("socket mode %v, want %v", st.Mode().Perm(), perm)
		}
	}
}

func TestListenUnixMissingDir(t *testing.T) {
	if ln, err := Listen("unix", filepath.Join(sockDir(t), "no", "such", "dir", "sock"), 0); err == nil {
		ln.Close()
		t.Fatal("Listen in a missing directory succeeded")
	}
}

func TestListenDialTCP(t *testing.T) {
	ln, err := Listen("tcp", "127.0.0.1:0", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	checkEcho(t, ln, "tcp", ln.Addr().String())
}

func TestDialRefused(t *testing.T) {
	path := filepath.Join(sockDir(t), "nobody")
	if c, err := Dial(context.Background(), "unix", path); err == nil {
		c.Close()
		t.Fatal("Dial to a missing socket succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if c, err := Dial(ctx, "tcp", "127.0.0.1:1"); err == nil {
		c.Close()
		t.Fatal("Dial with a cancelled context succeeded")
	}
}

// checkEcho dials ln through Dial and bounces one message off it.
func checkEcho(t *testing.T, ln net.Listener, network, addr string) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_, err = io.CopyN(c, c, 4)
		done <- err
	}()
	c, err := Dial(context.Background(), network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q %v", buf, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
