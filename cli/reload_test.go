package cli

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"meshd/ctlsock"
)

// TestReloadListeners: a new listener opens; one that cannot be opened
// fails the reload with nothing changed; a removed one closes.
func TestReloadListeners(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "n.yaml")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()
	write := func(extra string) {
		t.Helper()
		conf := "- node: {id: r1, datadir: " + dir + "}\n" + extra
		if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	listener := func(addr string) string {
		host, port, _ := net.SplitHostPort(addr)
		return "- tcp-listener: {bindaddr: " + host + ", port: " + port + "}\n"
	}
	write("")
	args := []string{"-c", file}
	cfg, err := ParseArgsConfig(args)
	if err != nil {
		t.Fatal(err)
	}
	r, err := startNode(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.setReloadArgs(args)

	write(listener(freeAddr))
	if err := r.reload(); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", freeAddr)
	if err != nil {
		t.Fatalf("new listener not open: %v", err)
	}
	c.Close()

	// A second, busy address fails the reload; the first stays as it was.
	write(listener(freeAddr) + listener(busy.Addr().String()))
	err = r.reload()
	if err == nil || !strings.Contains(err.Error(), "tcp-listener 2") {
		t.Fatalf("reload with a busy port: %v", err)
	}
	if len(r.listeners) != 1 {
		t.Errorf("%d listeners after a failed reload, want 1", len(r.listeners))
	}

	write("")
	if err := r.reload(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", freeAddr); err == nil {
		c.Close()
		t.Error("removed listener still open")
	}

	write("- log-level: debug\n")
	var re *ctlsock.ReloadError
	if err := r.reload(); !errors.As(err, &re) || re.Code != ctlsock.ReloadCodeNotReloadable {
		t.Errorf("log-level change: %v, want ERRORCODE 3", err)
	}
}
