package ctlsock

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSendFile: on a kernel socket SendFile sends the asked range of a
// file, more than a socket buffer holds, and 0 at its end; on a
// connection that is not one (net.Pipe standing for TLS or a mesh
// stream) it sends nothing and says so.
func TestSendFile(t *testing.T) {
	data := make([]byte, 3<<20)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "stdout")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	type result struct {
		n       int
		handled bool
		err     error
	}
	results := make(chan []result, 1)
	c := newChain(t, quietOpts())
	c.n1.Register("send", func(_ context.Context, ss *Session, req Request) (any, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		ss.End()
		var got []result
		for _, off := range []int64{1000, int64(len(data))} {
			n, handled, err := ss.SendFile(f, off, len(data))
			got = append(got, result{n, handled, err})
		}
		results <- got
		return nil, nil
	})

	client, server := socketPair(t)
	go c.n1.ServeConn(context.Background(), server)
	client.SetDeadline(time.Now().Add(10 * time.Second))
	cr := bufio.NewReader(client)
	readLine(t, cr) // greeting
	io.WriteString(client, "send\n")
	got, err := io.ReadAll(cr)
	if err != nil {
		t.Fatal(err)
	}
	r := <-results
	if r[0] != (result{len(data) - 1000, true, nil}) || r[1] != (result{0, true, nil}) {
		t.Errorf("SendFile from 1000, then at the end: %+v", r)
	}
	if !bytes.Equal(got, data[1000:]) {
		t.Errorf("client got %d bytes, want the %d from offset 1000", len(got), len(data)-1000)
	}

	pc, ps := net.Pipe()
	go c.n1.ServeConn(context.Background(), ps)
	pc.SetDeadline(time.Now().Add(10 * time.Second))
	readLine(t, bufio.NewReader(pc))
	io.WriteString(pc, "send\n")
	io.ReadAll(pc)
	if r := <-results; r[0].handled || r[0].n != 0 {
		t.Errorf("SendFile on net.Pipe: %+v, want not handled", r[0])
	}
}
