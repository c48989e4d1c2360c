package transcript

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// socketPair returns two connected unix stream sockets (they can half-close).
func socketPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]net.Conn, 2)
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

// mirror plays the server side of c: it expects the C bytes and sends the
// S bytes, in record order. corrupt, if >= 0, flips a byte of that record.
func mirror(conn net.Conn, c Conn, corrupt int) error {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	for i, r := range c.Records {
		var err error
		switch {
		case r.Side == Server && r.EOF:
			err = conn.(interface{ CloseWrite() error }).CloseWrite()
		case r.Side == Server:
			data := bytes.Clone(r.Data)
			if i == corrupt {
				data[0] ^= 0x20
			}
			_, err = conn.Write(data)
		case r.EOF:
			var rest []byte
			rest, err = io.ReadAll(conn)
			if err == nil && len(rest) > 0 {
				err = fmt.Errorf("extra client bytes %q", rest)
			}
		default:
			got := make([]byte, len(r.Data))
			if _, err = io.ReadFull(conn, got); err == nil && !bytes.Equal(got, r.Data) {
				err = fmt.Errorf("client sent %q, want %q", got, r.Data)
			}
		}
		if err != nil {
			return fmt.Errorf("mirror line %d: %w", r.Line, err)
		}
	}
	return nil
}

func dialMirror(t *testing.T, c Conn, corrupt int, errc chan<- error) func() (net.Conn, error) {
	return func() (net.Conn, error) {
		client, server := socketPair(t)
		go func() { errc <- mirror(server, c, corrupt) }()
		return client, nil
	}
}

// TestReplayAgainstMirror replays every connection of every transcript
// against a server that sends exactly the recorded bytes.
func TestReplayAgainstMirror(t *testing.T) {
	for _, path := range allFiles(t) {
		tr, err := ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range tr.Conns {
			errc := make(chan error, 1)
			if err := Replay(c, dialMirror(t, c, -1, errc), ReplayOptions{}); err != nil {
				t.Errorf("%s: %v", tr.Name, err)
			}
			if err := <-errc; err != nil {
				t.Errorf("%s: %v", tr.Name, err)
			}
		}
	}
}

func TestReplayDetectsDifference(t *testing.T) {
	tr, err := ParseFile(dir + "/unknown-command.transcript")
	if err != nil {
		t.Fatal(err)
	}
	c := tr.Conns[0]
	errc := make(chan error, 1)
	err = Replay(c, dialMirror(t, c, 2, errc), ReplayOptions{Timeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "server bytes differ") {
		t.Fatalf("Replay of a corrupted reply: %v", err)
	}
	<-errc
}
