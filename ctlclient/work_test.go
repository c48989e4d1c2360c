package ctlclient

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

const greetN2 = "Receptor Control, node n2\n"

// submitServer checks the submit line, answers created, reads the payload
// until the client half-closes, then answers final.
func submitServer(t *testing.T, wantLine, created, wantPayload, final string) string {
	return fakeServer(t, greetN2, func(conn *net.UnixConn, rd *bufio.Reader) {
		if !readCmd(t, rd, wantLine) {
			return
		}
		io.WriteString(conn, created)
		if !strings.HasPrefix(created, "Work unit created") {
			return
		}
		payload, err := io.ReadAll(rd) // ends only at the half-close
		if err != nil || string(payload) != wantPayload {
			t.Errorf("server got payload %q (%v), want %q", payload, err, wantPayload)
		}
		io.WriteString(conn, final)
	})
}

func TestSubmit(t *testing.T) {
	addr := submitServer(t,
		`{"command":"work","node":"n2","params":"-x \u003cy\u003e","subcommand":"submit","worktype":"echo"}`,
		"Work unit created with ID Ab12Cd34. Send stdin data and EOF.\n",
		"hello\nworld\n",
		`{"result":"Job Started","unitid":"Ab12Cd34"}`+"\n")
	c := dialT(t, addr)
	req := map[string]string{"command": "work", "subcommand": "submit", "node": "n2", "worktype": "echo", "params": "-x <y>"}
	reply, err := c.Submit(req, strings.NewReader("hello\nworld\n"))
	if err != nil || reply != (SubmitReply{Result: "Job Started", UnitID: "Ab12Cd34"}) {
		t.Fatalf("Submit = %+v, %v", reply, err)
	}
	if _, err := c.Command("status"); err == nil {
		t.Error("Command after Submit succeeded; the session is over")
	}
}

func TestSubmitLineNoPayload(t *testing.T) {
	line := `{"command": "work", "subcommand": "submit", "node": "localhost", "worktype": "echo"}`
	addr := submitServer(t, line,
		"Work unit created with ID x. Send stdin data and EOF.\n", "",
		`{"result": "Job Submitted", "unitid": "x"}`+"\n")
	c := dialT(t, addr)
	reply, err := c.SubmitLine(line, nil)
	if err != nil || reply != (SubmitReply{Result: "Job Submitted", UnitID: "x"}) {
		t.Fatalf("SubmitLine = %+v, %v", reply, err)
	}
}

func TestSubmitRefusedBeforePayload(t *testing.T) {
	addr := submitServer(t, `{"command":"work","node":"n2","subcommand":"submit","worktype":"nope"}`,
		"ERROR: unknown work type nope\n", "", "")
	c := dialT(t, addr)
	reply, err := c.Submit(map[string]string{"command": "work", "subcommand": "submit", "node": "n2", "worktype": "nope"},
		strings.NewReader("never sent"))
	var re *RemoteError
	if !errors.As(err, &re) || re.Msg != "unknown work type nope" || reply.UnitID != "" {
		t.Errorf("Submit = %+v, %#v", reply, err)
	}
}

func TestSubmitErrorAfterPayload(t *testing.T) {
	addr := submitServer(t, `{"command":"work","node":"n2","subcommand":"submit","worktype":"echo"}`,
		"Work unit created with ID u1. Send stdin data and EOF.\n", "data",
		"ERROR: cannot sign work: signing key is empty\n")
	c := dialT(t, addr)
	reply, err := c.Submit(map[string]string{"command": "work", "subcommand": "submit", "node": "n2", "worktype": "echo"},
		strings.NewReader("data"))
	var re *RemoteError
	if !errors.As(err, &re) || re.Msg != "cannot sign work: signing key is empty" || reply.UnitID != "u1" {
		t.Errorf("Submit = %+v, %#v", reply, err)
	}
}

func TestSubmitUnexpectedReplies(t *testing.T) {
	for _, tc := range []struct{ created, final string }{
		{"Job created\n", ""},
		{"Work unit created with ID . Send stdin data and EOF.\n", ""},
		{"Work unit created with ID u1. Send stdin data and EOF.\n", "not json\n"},
		{"Work unit created with ID u1. Send stdin data and EOF.\n", `{"result":"Job Started","unitid":"other"}` + "\n"},
		{"Work unit created with ID u1. Send stdin data and EOF.\n", ""}, // closed without a final line
	} {
		addr := submitServer(t, `{"command":"work"}`, tc.created, "", tc.final)
		c := dialT(t, addr)
		if reply, err := c.Submit(map[string]string{"command": "work"}, nil); err == nil {
			t.Errorf("created %q, final %q: Submit = %+v, want an error", tc.created, tc.final, reply)
		}
	}
}

func TestSubmitNeedsHalfClose(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	go io.WriteString(server, greetN2)
	c, err := New(client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Submit(map[string]string{"command": "work"}, nil); err == nil || !strings.Contains(err.Error(), "half-close") {
		t.Errorf("Submit over net.Pipe: %v, want a half-close error", err)
	}
}

func TestResults(t *testing.T) {
	addr := fakeServer(t, greetN2, func(conn *net.UnixConn, rd *bufio.Reader) {
		if !readCmd(t, rd, `{"command":"work","startpos":5,"subcommand":"results","unitid":"u1"}`) {
			return
		}
		// The header and the first bytes in one write: the client must
		// not lose what it buffered past the header.
		io.WriteString(conn, "Streaming results for work unit u1\nfirst ")
		if rest, err := io.ReadAll(rd); err != nil || len(rest) != 0 {
			t.Errorf("after the client's half-close: %q, %v", rest, err)
		}
		io.WriteString(conn, "second\n")
	})
	c := dialT(t, addr)
	r, err := c.Results("u1", 5, "")
	if err != nil {
		t.Fatal(err)
	}
	c.Conn().(*net.UnixConn).CloseWrite()
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "first second\n" {
		t.Errorf("results = %q, %v", got, err)
	}
}

func TestResultsSignedAndErrors(t *testing.T) {
	addr := fakeServer(t, greetN2, func(conn *net.UnixConn, rd *bufio.Reader) {
		if readCmd(t, rd, `{"command":"work","signature":"tok","startpos":0,"subcommand":"results","unitid":"u1"}`) {
			io.WriteString(conn, "ERROR: could not verify signature: token not valid\n")
		}
	})
	c := dialT(t, addr)
	_, err := c.Results("u1", 0, "tok")
	var re *RemoteError
	if !errors.As(err, &re) || re.Msg != "could not verify signature: token not valid" {
		t.Errorf("Results = %#v", err)
	}

	addr = fakeServer(t, greetN2, func(conn *net.UnixConn, rd *bufio.Reader) {
		rd.ReadString('\n')
		io.WriteString(conn, "Streaming results for work unit u2\n")
	})
	c = dialT(t, addr)
	if _, err := c.Results("u1", 0, ""); err == nil {
		t.Error("Results accepted the header of another unit")
	}
}

func TestSubmitRefusedDuringPayload(t *testing.T) {
	addr := fakeServer(t, greetN2, func(conn *net.UnixConn, rd *bufio.Reader) {
		if !readCmd(t, rd, `{"command":"work"}`) {
			return
		}
		io.WriteString(conn, "Work unit created with ID u1. Send stdin data and EOF.\n")
		io.ReadFull(rd, make([]byte, 1000))
		io.WriteString(conn, "ERROR: Error reading input data: disk full\n")
	})
	c := dialT(t, addr)
	big := strings.NewReader(strings.Repeat("x", 64<<20))
	reply, err := c.Submit(map[string]string{"command": "work"}, big)
	var re *RemoteError
	if !errors.As(err, &re) || re.Msg != "Error reading input data: disk full" || reply.UnitID != "u1" {
		t.Errorf("Submit = %+v, %v; want the node's ERROR", reply, err)
	}
}

// failingReader returns some bytes, then an error.
type failingReader struct{ sent bool }

func (f *failingReader) Read(p []byte) (int, error) {
	if !f.sent {
		f.sent = true
		return copy(p, "part"), nil
	}
	return 0, errors.New("disk gone")
}

func TestSubmitPayloadReadError(t *testing.T) {
	gotEOF := make(chan string, 1)
	addr := fakeServer(t, greetN2, func(conn *net.UnixConn, rd *bufio.Reader) {
		if !readCmd(t, rd, `{"command":"work"}`) {
			return
		}
		io.WriteString(conn, "Work unit created with ID u1. Send stdin data and EOF.\n")
		b, _ := io.ReadAll(rd) // ends when the client closes, not half-closes
		gotEOF <- string(b)
	})
	c := dialT(t, addr)
	reply, err := c.Submit(map[string]string{"command": "work"}, &failingReader{})
	if err == nil || !strings.Contains(err.Error(), "reading the payload: disk gone") || reply.UnitID != "u1" {
		t.Errorf("Submit = %+v, %v", reply, err)
	}
	c.Close()
	if got := <-gotEOF; got != "part" {
		t.Errorf("server got %q", got)
	}
}
