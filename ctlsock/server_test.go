package ctlsock

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shortTempDir gives a directory whose socket paths fit in sun_path.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestServeAndClose(t *testing.T) {
	c := newChain(t, quietOpts())
	ln, err := ListenUnix(filepath.Join(shortTempDir(t), "n.sock"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- c.n1.Serve(ln) }()

	blocked := make(chan struct{})
	c.n1.Register("block", func(ctx context.Context, _ *Session, _ Request) (any, error) {
		close(blocked)
		<-ctx.Done() // Close must cancel a running command
		return nil, nil
	})
	conn, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "block\n")
	<-blocked

	if err := c.n1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve returned %v", err)
	}
	if got, _ := io.ReadAll(conn); string(got) != greeting1 {
		t.Fatalf("client got %q", got)
	}
	if _, err := net.Dial("unix", ln.Addr().String()); err == nil {
		t.Error("listener still accepts after Close")
	}
	// A server that is closed serves nothing more.
	client, server := net.Pipe()
	c.n1.ServeConn(context.Background(), server)
	if _, err := client.Read(make([]byte, 1)); err == nil {
		t.Error("ServeConn after Close served")
	}
	if err := c.n1.Serve(ln); err != nil {
		t.Errorf("Serve after Close: %v", err)
	}
}

// TestServeReturnsWhenListenerCloses covers a listener closed by its owner.
func TestServeReturnsWhenListenerCloses(t *testing.T) {
	c := newChain(t, quietOpts())
	ln, err := ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- c.n1.Serve(ln) }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if l, _ := bufio.NewReader(conn).ReadString('\n'); l != greeting1 {
		t.Fatalf("greeting %q", l)
	}
	ln.Close()
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func TestListenUnix(t *testing.T) {
	dir := shortTempDir(t)
	path := filepath.Join(dir, "node1.sock")
	// A regular file at the path is refused and kept.
	if err := os.WriteFile(path, []byte("not a socket"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnix(path, 0o660); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Fatalf("listen over a regular file: %v", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "not a socket" {
		t.Fatalf("the file was touched: %q, %v", b, err)
	}
	os.Remove(path)
	// A stale socket (nobody listening) is replaced.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	ln, err := ListenUnix(path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket file: %v, %v", fi.Mode(), err)
	}
	if _, err := ListenUnix(path, 0o600); err == nil ||
		!strings.Contains(err.Error(), "could not acquire lock on socket file") {
		t.Fatalf("second listener on a locked socket: %v", err)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	ln.Close() // idempotent
	ln2, err := ListenUnix(path, 0o600)
	if err != nil {
		t.Fatalf("listen after the lock was released: %v", err)
	}
	ln2.Close()
	if _, err := ListenUnix(filepath.Join(dir, "no", "such", "dir.sock"), 0o600); err == nil {
		t.Error("listening in a missing directory succeeded")
	}
}

func TestListenTCP(t *testing.T) {
	ln, err := ListenTCP("0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if a := ln.Addr().(*net.TCPAddr); !a.IP.IsUnspecified() || a.Port == 0 {
		t.Errorf("port-only spec bound %v", a)
	}
	ln2, err := ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	if a := ln2.Addr().(*net.TCPAddr); !a.IP.IsLoopback() {
		t.Errorf("host:port spec bound %v", a)
	}
	if _, err := ListenTCP("notaport"); err == nil || !strings.Contains(err.Error(), "notaport") {
		t.Errorf("bad spec: %v", err)
	}
}

func TestLogLimiter(t *testing.T) {
	l := logLimiter{every: time.Second}
	now := time.Unix(1000, 0)
	if ok, n := l.allow(now); !ok || n != 0 {
		t.Fatalf("first: %v %d", ok, n)
	}
	for range 5 {
		if ok, _ := l.allow(now.Add(100 * time.Millisecond)); ok {
			t.Fatal("allowed within the interval")
		}
	}
	if ok, n := l.allow(now.Add(time.Second)); !ok || n != 5 {
		t.Fatalf("after the interval: %v %d, want true 5", ok, n)
	}
}

// TestMisbehaviourLogIsRateLimited: a flood of bad commands logs once.
func TestMisbehaviourLogIsRateLimited(t *testing.T) {
	opts, logs := capturingOpts()
	c := newChain(t, opts)
	replies(t, c.n1, strings.Split(strings.Repeat("bogus\n", 50), "\n")...)
	if n := strings.Count(logs.String(), "unknown command"); n != 1 {
		t.Fatalf("%d log lines for 50 unknown commands:\n%s", n, logs)
	}
}
