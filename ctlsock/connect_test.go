package ctlsock

import (
	"bufio"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// serviceMesh is node1 whose Dial hands out one end of a stream and the
// other end to the test, playing the remote service.
func serviceMesh(t *testing.T, pipe bool) (*Server, <-chan net.Conn) {
	far := make(chan net.Conn, 1)
	m := node1Mesh()
	m.dial = func(ctx context.Context, node, service string) (net.Conn, error) {
		var local, remote net.Conn
		if pipe {
			local, remote = net.Pipe() // no CloseWrite
		} else {
			local, remote = socketPair(t)
		}
		far <- remote
		return local, nil
	}
	srv := NewServer(m, quietOpts())
	t.Cleanup(func() { srv.Close() })
	return srv, far
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %q, %v", line, err)
	}
	return line
}

// TestBridgeClientHalfClose: the client's half-close reaches the service
// as EOF while the service can still answer; the service's EOF closes the
// client connection.
func TestBridgeClientHalfClose(t *testing.T) {
	for _, pipe := range []bool{false, true} {
		srv, far := serviceMesh(t, pipe)
		conn, _ := dialer(t, srv)()
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, "connect node2 svc\nbuffered ")
		r := bufio.NewReader(conn)
		if l := readLine(t, r); l != greeting1 {
			t.Fatal(l)
		}
		if l := readLine(t, r); l != "Connecting\n" {
			t.Fatal(l)
		}
		svc := <-far
		svc.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, "and live\n")
		conn.(*net.UnixConn).CloseWrite()
		got, err := io.ReadAll(svc)
		if string(got) != "buffered and live\n" || err != nil {
			t.Fatalf("pipe=%v: service got %q, %v", pipe, got, err)
		}
		if !pipe { // without CloseWrite the stream is closed fully
			io.WriteString(svc, "answer after EOF\n")
		}
		svc.Close()
		rest, err := io.ReadAll(r)
		if want := map[bool]string{false: "answer after EOF\n", true: ""}[pipe]; string(rest) != want || err != nil {
			t.Fatalf("pipe=%v: client got %q, %v; want %q", pipe, rest, err, want)
		}
		waitNoSessions(t, srv)
	}
}

// TestBridgeServiceEOF: when the service finishes first, the client
// connection is closed fully even though the client never half-closed.
func TestBridgeServiceEOF(t *testing.T) {
	srv, far := serviceMesh(t, false)
	conn, _ := dialer(t, srv)()
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, `{"command":"connect","node":"node2","service":"svc","tls":""}`+"\n")
	svc := <-far
	io.WriteString(svc, "bye\n")
	svc.Close()
	got, err := io.ReadAll(conn)
	if string(got) != greeting1+"Connecting\nbye\n" || err != nil {
		t.Fatalf("got %q, %v", got, err)
	}
	waitNoSessions(t, srv)
}

// TestBridgeEndsOnClose: closing the server tears down a live bridge.
func TestBridgeEndsOnClose(t *testing.T) {
	srv, far := serviceMesh(t, false)
	conn, _ := dialer(t, srv)()
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "connect node2 svc \n")
	svc := <-far
	svc.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	readLine(t, r)
	readLine(t, r)
	srv.Close()
	if _, err := io.ReadAll(svc); err != nil {
		t.Fatalf("service side: %v", err)
	}
	if rest, err := io.ReadAll(r); len(rest) != 0 {
		t.Fatalf("client got %q, %v", rest, err)
	}
}
