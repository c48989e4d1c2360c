package ctlsock

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects log output safely from many goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func capturingOpts() (Options, *logBuffer) {
	lb := &logBuffer{}
	return Options{Logger: slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))}, lb
}

func TestGreetingBeforeAnyInput(t *testing.T) {
	c := newChain(t, quietOpts())
	conn, _ := dialer(t, c.n1)()
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || line != greeting1 {
		t.Fatalf("got %q, %v", line, err)
	}
}

func TestFinalCommandEndedByEOF(t *testing.T) {
	c := newChain(t, quietOpts())
	got := converse(t, c.n1, "\r\n\nping node2")
	want := greeting1 + `{"From":"node2","Success":true,"Time":874000,"TimeStr":"874µs"}` + "\n"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestGarbage: binary and malformed input gets ERROR lines, and the
// session goes on to serve a valid command.
func TestGarbage(t *testing.T) {
	c := newChain(t, quietOpts())
	garbage := []string{"\x00\xff\xfe", "{\x00}", "\x7fELF\x02\x01", "{\"command\":\"status\",\"requested_fields\":[1e999]}",
		"{{{{", "}", " status", "\xc3\x28 \xa0\xa1", `{"command":"ping","target":"\u0000"}`}
	got := replies(t, c.n1, append(garbage, "ping node2")...)
	last := got[len(got)-1]
	if last != `{"From":"node2","Success":true,"Time":874000,"TimeStr":"874µs"}` {
		t.Errorf("last reply %q", last)
	}
	for _, r := range got[:len(got)-1] {
		if !strings.HasPrefix(r, "ERROR: ") && !strings.HasPrefix(r, `{"Error":"no route to node"`) {
			t.Errorf("reply to garbage: %q", r)
		}
	}
}

func TestLineTooLong(t *testing.T) {
	opts, logs := capturingOpts()
	opts.MaxLine = 16
	c := newChain(t, opts)
	got := converse(t, c.n1, "ping 12345678901\n"+strings.Repeat("x", 17)+"\nping node2\n")
	want := greeting1 + `{"Error":"no route to node","Success":false}` + "\n" + "ERROR: line too long\n"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !strings.Contains(logs.String(), "too long") {
		t.Errorf("not logged: %s", logs)
	}
}

// TestLineTooLongWithoutNewline: a client streaming an endless line is cut
// off once it passes MaxLine, without waiting for its newline.
func TestLineTooLongWithoutNewline(t *testing.T) {
	opts := quietOpts()
	opts.MaxLine = 1000
	c := newChain(t, opts)
	conn, _ := dialer(t, c.n1)()
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	go func() {
		chunk := bytes.Repeat([]byte("a"), 4096)
		for {
			if _, err := conn.Write(chunk); err != nil {
				return
			}
		}
	}()
	// The server may end with a reset once it stops draining our endless
	// line; the error line must have arrived before it.
	got, err := io.ReadAll(conn)
	if string(got) != greeting1+"ERROR: line too long\n" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestIdleTimeout(t *testing.T) {
	opts, logs := capturingOpts()
	opts.IdleTimeout = 100 * time.Millisecond
	c := newChain(t, opts)
	for _, sent := range []string{"", "sta"} { // nothing at all; half a command
		conn, _ := dialer(t, c.n1)()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, sent)
		start := time.Now()
		got, err := io.ReadAll(conn)
		conn.Close()
		if err != nil || string(got) != greeting1 {
			t.Fatalf("after %q: got %q, %v", sent, got, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("cut off after %v", d)
		}
	}
	if !strings.Contains(logs.String(), "idle") {
		t.Errorf("not logged: %s", logs)
	}
}

func TestMaxSessions(t *testing.T) {
	opts := quietOpts()
	opts.MaxSessions = 2
	c := newChain(t, opts)
	var held []net.Conn
	for range 2 {
		conn, _ := dialer(t, c.n1)()
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if line, _ := bufio.NewReader(conn).ReadString('\n'); line != greeting1 {
			t.Fatalf("greeting %q", line)
		}
		held = append(held, conn)
	}
	if got := converse(t, c.n1, "status\n"); got != "ERROR: too many control sessions\n" {
		t.Fatalf("third session got %q", got)
	}
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for converse(t, c.n1, "") != greeting1 {
		if time.Now().After(deadline) {
			t.Fatal("a slot never freed up")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestManyClients serves 500 clients at once over net.Pipe.
func TestManyClients(t *testing.T) {
	c := newChain(t, quietOpts())
	const n = 500
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		client, server := net.Pipe()
		go c.n1.ServeConn(context.Background(), server)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer client.Close()
			<-start
			errs <- pipeClient(client, i)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	waitNoSessions(t, c.n1)
}

func pipeClient(conn net.Conn, i int) error {
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(conn)
	if line, err := r.ReadString('\n'); line != greeting1 {
		return fmt.Errorf("client %d: greeting %q, %v", i, line, err)
	}
	fmt.Fprintf(conn, "{\"command\":\"status\",\"requested_fields\":[\"NodeID\"]}\nping node3\n")
	for _, want := range []string{`{"NodeID":"node1"}`, `{"From":"node3","Success":true,"Time":1311000,"TimeStr":"1.311ms"}`} {
		if line, err := r.ReadString('\n'); line != want+"\n" {
			return fmt.Errorf("client %d: got %q, %v; want %s", i, line, err, want)
		}
	}
	return nil
}

func TestPanicIsRecovered(t *testing.T) {
	opts, logs := capturingOpts()
	c := newChain(t, opts)
	c.n1.Register("boom", func(context.Context, *Session, Request) (any, error) { panic("kaboom") })
	if got := converse(t, c.n1, "boom\nping node2\n"); got != greeting1 {
		t.Fatalf("got %q", got)
	}
	if !strings.Contains(logs.String(), "kaboom") {
		t.Errorf("panic not logged: %s", logs)
	}
	if got := replies(t, c.n1, "ping node2"); !strings.Contains(got[0], `"Success":true`) {
		t.Errorf("server broken after a panic: %q", got)
	}
}

// TestHandlerReadsPayload is the shape of work submit: the payload is every
// byte after the command line until the client half-closes, including bytes
// the session had already buffered; the reply follows, then the session
// sees EOF and closes.
func TestHandlerReadsPayload(t *testing.T) {
	c := newChain(t, quietOpts())
	c.n1.Register("upload", func(_ context.Context, s *Session, req Request) (any, error) {
		io.WriteString(s, "Send stdin data and EOF.\n")
		b, err := io.ReadAll(s.Reader())
		if err != nil {
			return nil, err
		}
		return map[string]any{"params": req.Params, "payload": string(b)}, nil
	})
	got := converse(t, c.n1, "upload a b\nline one\r\nline two\nstatus\n")
	want := greeting1 + "Send stdin data and EOF.\n" +
		`{"params":"a b","payload":"line one\r\nline two\nstatus\n"}` + "\n"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// TestHandlerStreamsAndEnds is the shape of work results: a header, raw
// bytes, then the session closes without reading further commands.
func TestHandlerStreamsAndEnds(t *testing.T) {
	c := newChain(t, quietOpts())
	c.n1.Register("results", func(_ context.Context, s *Session, _ Request) (any, error) {
		s.End()
		io.WriteString(s, "Streaming results for work unit x\n")
		io.WriteString(s, "raw\x00bytes without newline")
		return nil, nil
	})
	got := converse(t, c.n1, "results\nping node2\n")
	if want := greeting1 + "Streaming results for work unit x\nraw\x00bytes without newline"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestReplyEncoding(t *testing.T) {
	c := newChain(t, quietOpts())
	c.n1.Register("badjson", func(context.Context, *Session, Request) (any, error) { return make(chan int), nil })
	c.n1.Register("multiline", func(context.Context, *Session, Request) (any, error) {
		return nil, fmt.Errorf("first\nsecond")
	})
	c.n1.Register("html", func(context.Context, *Session, Request) (any, error) {
		return map[string]any{"b": "<a&b>", "a": 1.5}, nil
	})
	checkReplies(t, c.n1, []string{"badjson", "multiline", "HTML"}, []string{
		"ERROR: could not convert response to JSON: json: unsupported type: chan int",
		"ERROR: first second",
		`{"a":1.5,"b":"\u003ca\u0026b\u003e"}`,
	})
}

// TestJSONCommandsAreCaseSensitive: registered names are found by the
// lowercased text form but only verbatim in JSON.
func TestJSONCommandsAreCaseSensitive(t *testing.T) {
	c := newChain(t, quietOpts())
	checkReplies(t, c.n1, []string{`{"command":"Ping","target":"node2"}`, "PING node2"}, []string{
		"ERROR: Unknown command",
		`{"From":"node2","Success":true,"Time":874000,"TimeStr":"874µs"}`,
	})
}

// TestPayloadTimeoutEndsSession: a payload read that times out half-way
// ends the session, so the rest of the payload is never run as commands.
func TestPayloadTimeoutEndsSession(t *testing.T) {
	opts := quietOpts()
	opts.IdleTimeout = 100 * time.Millisecond
	c := newChain(t, opts)
	c.n1.Register("upload", func(_ context.Context, s *Session, _ Request) (any, error) {
		_, err := io.ReadAll(s.Reader())
		return nil, err
	})
	conn, _ := dialer(t, c.n1)()
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "upload\npart")
	r := bufio.NewReader(conn)
	readLine(t, r)
	if l := readLine(t, r); !strings.HasPrefix(l, "ERROR: ") || !strings.Contains(l, "timeout") {
		t.Fatalf("got %q", l)
	}
	io.WriteString(conn, "\nping node2\n")
	if rest, _ := io.ReadAll(r); len(rest) != 0 {
		t.Fatalf("session went on: %q", rest)
	}
}
