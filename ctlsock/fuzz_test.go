package ctlsock

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// Seed corpora live in testdata/fuzz/<Name>/: valid commands in both
// forms, CRLF and stray CRs, truncated JSON, huge numbers, binary, and an
// overlong line.

// FuzzParseRequest checks that the parser never panics and that what it
// returns is consistent with its input.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("status\n"))
	f.Add([]byte(`{"command":"ping","target":"node3"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		orig := bytes.Clone(line)
		req, err := ParseRequest(line)
		if !bytes.Equal(line, orig) {
			t.Fatal("ParseRequest modified its input")
		}
		clean := bytes.ReplaceAll(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"), nil)
		switch {
		case len(clean) == 0:
			if !errors.Is(err, ErrEmptyLine) {
				t.Fatalf("empty line: %v", err)
			}
		case clean[0] == '{':
			checkJSONRequest(t, req, err)
		default:
			checkTextRequest(t, clean, req, err)
		}
	})
}

func checkJSONRequest(t *testing.T, req Request, err error) {
	if err != nil {
		if req.Command != "" || req.JSON != nil {
			t.Fatalf("error %v with a request %#v", err, req)
		}
		return
	}
	if !req.IsJSON() || req.JSON["command"] != req.Command || req.Params != "" {
		t.Fatalf("inconsistent JSON request %#v", req)
	}
}

func checkTextRequest(t *testing.T, clean []byte, req Request, err error) {
	if err != nil || req.IsJSON() {
		t.Fatalf("text line: %#v, %v", req, err)
	}
	cmd, params, _ := strings.Cut(string(clean), " ")
	if req.Command != strings.ToLower(cmd) || req.Params != params {
		t.Fatalf("text line %q parsed as %#v", clean, req)
	}
}

// FuzzSession feeds arbitrary client bytes to a session of node1 of the
// fake chain: it must neither panic nor hang, must greet first, and every
// reply of a session that did not bridge must be a whole JSON or ERROR line.
func FuzzSession(f *testing.F) {
	f.Add([]byte("status\nping node3\n"))
	f.Add([]byte("connect node2 control \nstatus\n"))
	logs := &logBuffer{}
	opts := Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError}))}
	opts.MaxLine = 512
	opts.IdleTimeout = 2 * time.Second
	c := newChain(f, opts)
	c.n1.limits.init(0) // log every panic, so none goes unnoticed
	c.n2.limits.init(0)
	f.Fuzz(func(t *testing.T, input []byte) {
		before := len(logs.String())
		out := fuzzConverse(t, c.n1, input)
		if l := logs.String()[before:]; strings.Contains(l, "panicked") {
			t.Fatalf("session panicked on %q:\n%s", input, l)
		}
		rest, ok := strings.CutPrefix(out, greeting1)
		if !ok {
			t.Fatalf("no greeting: %q", out)
		}
		if !strings.Contains(out, "\nConnecting\n") {
			checkReplyLines(t, rest)
		}
	})
}

func checkReplyLines(t *testing.T, out string) {
	if out == "" {
		return
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("reply without final newline: %q", out)
	}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !strings.HasPrefix(l, "ERROR: ") && !(strings.HasPrefix(l, "{") && strings.HasSuffix(l, "}")) {
			t.Fatalf("bad reply line %q", l)
		}
	}
}

// fuzzConverse runs one session over a socket pair and fails on a hang.
func fuzzConverse(t *testing.T, srv *Server, input []byte) string {
	client, server := socketPair(t)
	defer client.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeConn(context.Background(), server)
	}()
	client.SetDeadline(time.Now().Add(10 * time.Second))
	out := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client)
		out <- b
	}()
	client.Write(input) // the session may have closed already: fine
	client.(*net.UnixConn).CloseWrite()
	got := <-out
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("session did not end for input %q", input)
	}
	return string(got)
}
