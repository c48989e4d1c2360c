package cli

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestManyClientsAndHostileOnes: a real node serves 500 control clients at
// once while one client sends garbage and another connects and says
// nothing; the offenders never stop the others from being served.
func TestManyClientsAndHostileOnes(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "n1.sock")
	cfg, err := ParseArgsConfig([]string{"--node", "id=n1", "datadir=" + dir, "--control-service", "filename=" + sock})
	if err != nil {
		t.Fatal(err)
	}
	r, err := startNode(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	silent, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	garbage, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer garbage.Close()
	go func() {
		junk := []byte("\x00\xff{\"command\":\n\x16\x03\x01 status status\r\n{{{{\n")
		for i := 0; i < 200; i++ {
			if _, err := garbage.Write(junk); err != nil {
				return
			}
		}
	}()

	const clients = 500
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- oneClient(sock, i)
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The garbage sender got ERROR lines, not a crash; the node still serves.
	garbage.SetReadDeadline(time.Now().Add(10 * time.Second))
	gin := bufio.NewReader(garbage)
	line, err := gin.ReadString('\n')
	if err != nil || line != "Receptor Control, node n1\n" {
		t.Fatalf("garbage client greeting %q, %v", line, err)
	}
	if line, err = gin.ReadString('\n'); err != nil || !strings.HasPrefix(line, "ERROR: ") {
		t.Fatalf("garbage got %q, %v; want an ERROR line", line, err)
	}
	if err := oneClient(sock, clients); err != nil {
		t.Fatal(err)
	}
}

// oneClient runs a short receptorctl-like session.
func oneClient(sock string, i int) error {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return fmt.Errorf("client %d: %v", i, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	in := bufio.NewReader(c)
	if g, err := in.ReadString('\n'); err != nil || !strings.HasPrefix(g, "Receptor Control, node n1") {
		return fmt.Errorf("client %d: greeting %q: %v", i, g, err)
	}
	fmt.Fprintf(c, "{\"command\":\"status\",\"requested_fields\":[\"NodeID\"]}\nping localhost\n")
	if l, err := in.ReadString('\n'); err != nil || l != "{\"NodeID\":\"n1\"}\n" {
		return fmt.Errorf("client %d: status %q: %v", i, l, err)
	}
	if l, err := in.ReadString('\n'); err != nil || !strings.Contains(l, `"Success":true`) {
		return fmt.Errorf("client %d: ping %q: %v", i, l, err)
	}
	return nil
}
