package cli

import (
	"bufio"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ctlStep is one exchange of a scripted control connection.
type ctlStep struct {
	want  string // the line the client must send, without "\n"
	eof   bool   // instead: read until the client half-closes; the bytes must equal want
	reply string // then send these bytes
}

// fakeCtl serves one scripted conversation per connection, in order, on
// a Unix socket in t.TempDir(). After its steps the server ends its side,
// then checks that the client sent nothing more. wait blocks until every
// conversation has run.
func fakeCtl(t *testing.T, convs ...[]ctlStep) (sock string, wait func()) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, conv := range convs {
			conn, err := ln.Accept()
			if err != nil {
				t.Errorf("connection %d never came: %v", i+1, err)
				return
			}
			serveCtlConv(t, i+1, conn.(*net.UnixConn), conv)
		}
	}()
	wait = func() {
		t.Helper()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("the client did not run every scripted connection")
		}
		ln.Close()
		<-done
	}
	t.Cleanup(func() { ln.Close() })
	return sock, wait
}

func serveCtlConv(t *testing.T, n int, conn *net.UnixConn, steps []ctlStep) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(conn)
	io.WriteString(conn, "Receptor Control, node n1\n")
	for _, s := range steps {
		var got string
		var err error
		if s.eof {
			var b []byte
			b, err = io.ReadAll(rd)
			got = string(b)
		} else {
			got, err = rd.ReadString('\n')
			s.want += "\n"
		}
		if err != nil || got != s.want {
			t.Errorf("connection %d: server got %q (%v), want %q", n, got, err, s.want)
			return
		}
		io.WriteString(conn, s.reply)
	}
	conn.CloseWrite()
	if extra, _ := io.ReadAll(rd); len(extra) > 0 {
		t.Errorf("connection %d: unexpected bytes after the script: %q", n, extra)
	}
}

// runCtlT runs `meshd ctl` with stdin and returns its status and output.
func runCtlT(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	code = runCtl(strings.NewReader(stdin), &out, &errOut, args)
	return code, out.String(), errOut.String()
}

func checkCtl(t *testing.T, code int, stdout, stderr string, wantCode int, wantOut, wantErr string) {
	t.Helper()
	if code != wantCode || stdout != wantOut || stderr != wantErr {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d, stdout:\n%s\nstderr:\n%s",
			code, stdout, stderr, wantCode, wantOut, wantErr)
	}
}

const ctlStatusReply = `{"Advertisements":[{"NodeID":"n1","Service":"control","Time":"2024-05-01T10:00:00.123456Z","ConnType":1,"Tags":{"type":"Control Service"},"WorkCommands":[{"WorkType":"echo","Secure":false},{"WorkType":"signed","Secure":true}]},{"NodeID":"a-long-node-id","Service":"control","Time":"2024-05-01T10:00:01Z","ConnType":2,"Tags":null,"WorkCommands":[{"WorkType":"cat","Secure":false}]}],"Connections":[{"NodeID":"n2","Cost":1},{"NodeID":"a-long-node-id","Cost":2.5}],"KnownConnectionCosts":{"n1":{"n2":1,"a-long-node-id":2.5},"n2":{"n1":1}},"NodeID":"n1","RoutingTable":{"n2":"n2","a-long-node-id":"a-long-node-id"},"SystemCPUCount":8,"SystemMemoryMiB":16000,"Version":"0.1.0","Future":[1]}`

func TestCtlStatus(t *testing.T) {
	sock, wait := fakeCtl(t, []ctlStep{{want: "status", reply: ctlStatusReply + "\n"}})
	code, out, errOut := runCtlT(t, "", "--socket", sock, "status")
	wait()
	checkCtl(t, code, out, errOut, 0, `Node ID: n1
Version: 0.1.0
System CPU Count: 8
System Memory MiB: 16000

Connection     Cost
n2             1.0
a-long-node-id 2.5

Known Node     Known Connections
n1             a-long-node-id (2.5), n2 (1.0)
n2             n1 (1.0)

Route          Via
a-long-node-id a-long-node-id
n2             n2

Node           Service   Type       Last Seen             Tags
n1             control   Stream     2024-05-01 10:00:00   type=Control Service
a-long-node-id control   StreamTLS  2024-05-01 10:00:01   -

Node           Work Types
n1             echo
a-long-node-id cat

Node           Secure Work Types
n1             signed

Additional data returned by the node:
{
    "Future": [
        1
    ]
}
`, "")
}

func TestCtlStatusJSON(t *testing.T) {
	sock, wait := fakeCtl(t, []ctlStep{{want: "status", reply: `{"NodeID":"n1","RoutingTable":{}}` + "\n"}})
	code, out, errOut := runCtlT(t, "", "status", "--json", "--socket", "unix:"+sock)
	wait()
	checkCtl(t, code, out, errOut, 0, "{\n    \"NodeID\": \"n1\",\n    \"RoutingTable\": {}\n}\n", "")
}

func TestCtlPing(t *testing.T) {
	sock, wait := fakeCtl(t, []ctlStep{
		{want: "ping n3", reply: `{"From":"n3","Success":true,"Time":903357,"TimeStr":"903.357µs"}` + "\n"},
		{want: "ping n3", reply: `{"Error":"no route to node","Success":false}` + "\n"},
		{want: "ping n3", reply: `{"Error":"timeout","From":"n2","Success":false,"TimeStr":"10s"}` + "\n"},
	})
	code, out, errOut := runCtlT(t, "", "--socket", sock, "ping", "n3", "--count", "3", "--delay", "0")
	wait()
	checkCtl(t, code, out, errOut, 2, "Reply from n3 in 903.357µs\n",
		"ERROR: no route to node\nERROR: timeout from n2 in 10s\n")
}

func TestCtlPingDelay(t *testing.T) {
	sock, wait := fakeCtl(t, []ctlStep{
		{want: "ping n2", reply: `{"From":"n2","Success":true,"TimeStr":"1ms"}` + "\n"},
		{want: "ping n2", reply: `{"From":"n2","Success":true,"TimeStr":"2ms"}` + "\n"},
	})
	start := time.Now()
	code, out, errOut := runCtlT(t, "", "--socket", sock, "ping", "--delay", "0.05", "--count=2", "n2")
	wait()
	checkCtl(t, code, out, errOut, 0, "Reply from n2 in 1ms\nReply from n2 in 2ms\n", "")
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("two pings with --delay 0.05 took %v", d)
	}
}

func TestCtlTraceroute(t *testing.T) {
	hops := `{"0":{"From":"n1","Time":12000,"TimeStr":"12µs"},"10":{"From":"n11","TimeStr":"3ms"},"2":{"Error":"timeout","From":"n3","TimeStr":"10s"},"1":{"From":"n2","TimeStr":"1ms"}}`
	sock, wait := fakeCtl(t, []ctlStep{{want: "traceroute n11", reply: hops + "\n"}})
	code, out, errOut := runCtlT(t, "", "--socket", sock, "traceroute", "n11")
	wait()
	checkCtl(t, code, out, errOut, 2, "0: n1 in 12µs\n1: n2 in 1ms\n10: n11 in 3ms\n", "2: Error timeout from n3 in 10s\n")
}

func TestCtlRemoteErrorAndUsage(t *testing.T) {
	// The server refuses a command: its message, exit status 1.
	sock, wait := fakeCtl(t, []ctlStep{{want: "work status nope", reply: "ERROR: unknown work unit nope\n"}})
	code, out, errOut := runCtlT(t, "", "--socket", sock, "work", "status", "nope")
	wait()
	checkCtl(t, code, out, errOut, 1, "", "meshd ctl: work status nope: unknown work unit nope\n")

	// Usage errors are found before connecting.
	code, out, errOut = runCtlT(t, "", "--socket", "/nonexistent", "ping")
	checkCtl(t, code, out, errOut, 2, "", "meshd ctl: usage: meshd ctl ping NODE [--count N] [--delay DURATION]\n(meshd ctl -h prints the usage)\n")
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"--bogus", "status"},
		{"status", "extra"},
		{"ping", "n1", "--count", "0"},
		{"ping", "n1", "--delay", "soon"},
		{"work"},
		{"work", "frob"},
		{"work", "status"},
		{"work", "cancel"},
	} {
		code, out, errOut := runCtlT(t, "", append([]string{"--socket", "/nonexistent"}, args...)...)
		if code != 2 || out != "" || !strings.Contains(errOut, "meshd ctl -h") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want a usage error", args, code, out, errOut)
		}
	}
	code, out, _ = runCtlT(t, "", "-h")
	if code != 0 || !strings.Contains(out, "usage: meshd ctl") {
		t.Errorf("-h: exit %d, stdout %q", code, out)
	}
	code, out, _ = runCtlT(t, "", "work", "submit", "--help")
	if code != 0 || !strings.Contains(out, "work submit WORKTYPE") {
		t.Errorf("work submit --help: exit %d, stdout %q", code, out)
	}
}

func TestCtlSocketDefault(t *testing.T) {
	sock, wait := fakeCtl(t, []ctlStep{{want: "status", reply: `{"NodeID":"n1"}` + "\n"}})
	t.Setenv("RECEPTORCTL_SOCKET", "/nonexistent/receptorctl.sock")
	t.Setenv("MESHD_SOCKET", sock)
	code, out, errOut := runCtlT(t, "", "status", "--json")
	wait()
	checkCtl(t, code, out, errOut, 0, "{\n    \"NodeID\": \"n1\"\n}\n", "")

	t.Setenv("MESHD_SOCKET", "")
	code, _, errOut = runCtlT(t, "", "status")
	if code != 1 || !strings.Contains(errOut, "/nonexistent/receptorctl.sock") {
		t.Errorf("missing socket: exit %d, stderr %q", code, errOut)
	}
}
