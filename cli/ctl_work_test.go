package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const created = "Work unit created with ID %s. Send stdin data and EOF.\n"

func createdLine(id string) string { return strings.Replace(created, "%s", id, 1) }

// TestCtlWorkSubmit checks the exact bytes receptorctl sends for
// `work submit echo --node n2 -l "remote hi" ...` (receptor-control.md §3.3).
func TestCtlWorkSubmit(t *testing.T) {
	sock, wait := fakeCtl(t, []ctlStep{
		{want: `{"command": "work", "subcommand": "submit", "node": "n2", "worktype": "echo", "ttl": "1m", "signwork": "true", "secret": "x", "params": "base extra -v caf\u00e9"}`,
			reply: createdLine("C1oMLonl")},
		{eof: true, want: "remote hi\n", reply: `{"result":"Job Started","unitid":"C1oMLonl"}` + "\n"},
	})
	code, out, errOut := runCtlT(t, "", "--socket", sock, "work", "submit", "echo", "--node", "n2",
		"-l", "remote hi", "-a", "secret=x", "--param", "params=base", "extra", "--ttl", "1m", "--signwork", "--", "-v", "café")
	wait()
	checkCtl(t, code, out, errOut, 0, "Result: Job Started\nUnit ID: C1oMLonl\n", "")
}

func TestCtlWorkSubmitPayloads(t *testing.T) {
	file := filepath.Join(t.TempDir(), "payload")
	os.WriteFile(file, []byte("from a file\x00\xff"), 0o600)
	paramFile := filepath.Join(t.TempDir(), "script")
	os.WriteFile(paramFile, []byte("echo \"hi\"\n"), 0o600)
	const localEcho = `{"command": "work", "subcommand": "submit", "node": "localhost", "worktype": "echo"`
	for _, tc := range []struct {
		args    []string
		stdin   string
		line    string
		payload string
	}{
		{[]string{"--payload", file}, "", localEcho + "}", "from a file\x00\xff"},
		{[]string{"-p", "-"}, "stdin bytes", localEcho + "}", "stdin bytes"},
		{[]string{"--no-payload"}, "not read", localEcho + "}", ""},
		{[]string{"-n", "--node", "", "-a", "cmd=@" + paramFile, "-a", "raw=@@x", "-a", "cmd=@" + paramFile},
			"", localEcho + `, "cmd": "echo \"hi\"\n", "raw": "@@x"}`, ""},
	} {
		sock, wait := fakeCtl(t, []ctlStep{
			{want: tc.line, reply: createdLine("u1")},
			{eof: true, want: tc.payload, reply: `{"result":"Job Submitted","unitid":"u1"}` + "\n"},
		})
		args := append([]string{"--socket", sock, "work", "submit", "echo"}, tc.args...)
		code, out, errOut := runCtlT(t, tc.stdin, args...)
		wait()
		checkCtl(t, code, out, errOut, 0, "Result: Job Submitted\nUnit ID: u1\n", "")
	}
}

func TestCtlWorkSubmitRefused(t *testing.T) {
	// Refused at creation: nothing more is sent.
	sock, wait := fakeCtl(t, []ctlStep{
		{want: `{"command": "work", "subcommand": "submit", "node": "localhost", "worktype": "nope"}`,
			reply: "ERROR: unknown work type nope\n"},
	})
	code, out, errOut := runCtlT(t, "", "--socket", sock, "work", "submit", "nope", "-n")
	wait()
	checkCtl(t, code, out, errOut, 1, "", "meshd ctl: work submit: unknown work type nope\n")

	// Refused after the payload: the unit exists, so its ID is named.
	sock, wait = fakeCtl(t, []ctlStep{
		{want: `{"command": "work", "subcommand": "submit", "node": "n2", "worktype": "echo", "signwork": "true"}`,
			reply: createdLine("u9")},
		{eof: true, want: "x\n", reply: "ERROR: cannot sign work: signing key is empty\n"},
	})
	code, out, errOut = runCtlT(t, "", "--socket", sock, "work", "submit", "echo", "--node", "n2", "--signwork", "-l", "x")
	wait()
	checkCtl(t, code, out, errOut, 1, "", "meshd ctl: work submit: unit u9: cannot sign work: signing key is empty\n")

	// Bad command lines never connect.
	for _, args := range [][]string{
		{"echo"},
		{"echo", "-n", "-l", "x"},
		{"echo", "-n", "-a", "novalue"},
		{"echo", "-n", "--ttl", "soon"},
		{},
	} {
		code, out, errOut := runCtlT(t, "", append([]string{"--socket", "/nonexistent", "work", "submit"}, args...)...)
		if code != 2 || out != "" || errOut == "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want a usage error", args, code, out, errOut)
		}
	}
	for _, args := range [][]string{
		{"echo", "-n", "-a", "node=n3"},
		{"echo", "--ttl", "1m", "-n", "-a", "ttl=2m"},
		{"echo", "-n", "-a", "p=@/nonexistent/file"},
		{"echo", "-p", "/nonexistent/payload"},
	} {
		code, out, errOut := runCtlT(t, "", append([]string{"--socket", "/nonexistent", "work", "submit"}, args...)...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, "meshd ctl: work submit: ") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want an error before connecting", args, code, out, errOut)
		}
	}
}

// TestCtlWorkSubmitFollowRm replays receptorctl's
// `work submit echo --node n2 -p - -f --rm` against a unit that fails:
// the output is streamed, the failure reported, the unit still released.
func TestCtlWorkSubmitFollowRm(t *testing.T) {
	sock, wait := fakeCtl(t,
		[]ctlStep{
			{want: `{"command": "work", "subcommand": "submit", "node": "n2", "worktype": "echo"}`, reply: createdLine("U1")},
			{eof: true, want: "remote hi\n", reply: `{"result":"Job Started","unitid":"U1"}` + "\n"},
		},
		[]ctlStep{
			{want: `{"command":"work","startpos":0,"subcommand":"results","unitid":"U1"}`, reply: "Streaming results for work unit U1\n"},
			{eof: true, want: "", reply: "REMOTE HI\n"}, // the client half-closes after the header
		},
		[]ctlStep{{want: "work status U1", reply: `{"Detail":"exit status 1","ExtraData":null,"State":3,"StateName":"Failed","StdoutSize":10,"WorkType":"echo"}` + "\n"}},
		[]ctlStep{{want: "work release U1", reply: `{"released":"U1"}` + "\n"}},
	)
	code, out, errOut := runCtlT(t, "remote hi\n", "--socket", sock, "work", "submit", "echo", "--node", "n2", "-p", "-", "-f", "--rm")
	wait()
	checkCtl(t, code, out, errOut, 1, "REMOTE HI\n(U1, released)\n", "ERROR: Remote unit failed: exit status 1\n")
}

func TestCtlWorkResults(t *testing.T) {
	sock, wait := fakeCtl(t,
		[]ctlStep{
			{want: `{"command":"work","startpos":5,"subcommand":"results","unitid":"u1"}`, reply: "Streaming results for work unit u1\nworld"},
			{eof: true, want: "", reply: "\n"},
		},
		[]ctlStep{{want: "work status u1", reply: `{"Detail":"exit status 0","State":2,"StateName":"Succeeded","StdoutSize":11,"WorkType":"echo"}` + "\n"}},
	)
	code, out, errOut := runCtlT(t, "", "--socket", sock, "work", "results", "u1", "--startpos", "5")
	wait()
	checkCtl(t, code, out, errOut, 0, "world\n", "")
}

func TestCtlWorkList(t *testing.T) {
	list := `{"zz9":{"Detail":"Running: PID 7","ExtraData":{"Pid":7},"State":1,"StateName":"Running","StdoutSize":4,"WorkType":"sleep"},` +
		`"Ab1":{"Detail":"line one\nline two","ExtraData":null,"State":3,"StateName":"Failed","StdoutSize":0,"WorkType":"echo"}}`
	sock, wait := fakeCtl(t, []ctlStep{{want: "work list", reply: list + "\n"}})
	code, out, errOut := runCtlT(t, "", "--socket", sock, "work", "list")
	wait()
	checkCtl(t, code, out, errOut, 0, ""+
		"ID   State    WorkType  StdoutSize  Detail\n"+
		"Ab1  Failed   echo      0           line one line two\n"+
		"zz9  Running  sleep     4           Running: PID 7\n", "")

	one := `{"u1":{"Detail":"","State":0,"StdoutSize":0,"WorkType":"echo"}}`
	sock, wait = fakeCtl(t, []ctlStep{{want: "work list u1", reply: one + "\n"}})
	code, out, errOut = runCtlT(t, "", "--socket", sock, "work", "list", "--unit", "u1", "--json")
	wait()
	checkCtl(t, code, out, errOut, 0, `{
    "u1": {
        "Detail": "",
        "State": 0,
        "StdoutSize": 0,
        "WorkType": "echo"
    }
}
`, "")

	sock, wait = fakeCtl(t, []ctlStep{{want: "work list", reply: "{}\n"}})
	code, out, errOut = runCtlT(t, "", "--socket", sock, "work", "list")
	wait()
	checkCtl(t, code, out, errOut, 0, "No work units.\n", "")
}

func TestCtlWorkStatus(t *testing.T) {
	st := `{"Detail":"Running: PID 7","ExtraData":{"Params":"-c x","Pid":7},"State":1,"StateName":"Running","StdoutSize":4,"WorkType":"sleep"}`
	sock, wait := fakeCtl(t, []ctlStep{{want: "work status u1", reply: st + "\n"}})
	code, out, errOut := runCtlT(t, "", "--socket", sock, "work", "status", "u1")
	wait()
	checkCtl(t, code, out, errOut, 0, `Unit ID:     u1
State:       Running (1)
Work Type:   sleep
Stdout Size: 4
Detail:      Running: PID 7
Extra Data:  {"Params":"-c x","Pid":7}
`, "")
}

func TestCtlWorkCancelRelease(t *testing.T) {
	sock, wait := fakeCtl(t, []ctlStep{
		{want: "work cancel a1", reply: `{"cancelled":"a1"}` + "\n"},
		{want: "work cancel b2", reply: "ERROR: unknown work unit b2\n"},
		{want: "work cancel c3", reply: `{"cancel pending":"c3"}` + "\n"},
	})
	code, out, errOut := runCtlT(t, "", "--socket", sock, "work", "cancel", "a1", "b2", "c3")
	wait()
	checkCtl(t, code, out, errOut, 1, "Cancelled:\n(a1, cancelled)\n(c3, cancel pending)\n", "ERROR: b2: unknown work unit b2\n")

	sock, wait = fakeCtl(t, []ctlStep{
		{want: "work force-release a1", reply: `{"released":"a1"}` + "\n"},
		{want: "work force-release b2", reply: `{"release pending":"b2"}` + "\n"},
	})
	code, out, errOut = runCtlT(t, "", "--socket", sock, "work", "release", "a1", "--force", "b2")
	wait()
	checkCtl(t, code, out, errOut, 0, "Released:\n(a1, released)\n(b2, release pending)\n", "")

	sock, wait = fakeCtl(t, []ctlStep{{want: "work release a1", reply: `{"released":"a1"}` + "\n"}})
	code, out, errOut = runCtlT(t, "", "--json", "--socket", sock, "work", "release", "a1")
	wait()
	checkCtl(t, code, out, errOut, 0, "{\n    \"released\": \"a1\"\n}\n", "")
}

// TestCtlPyJSON checks the encoding against Python's json.dumps output.
func TestCtlPyJSON(t *testing.T) {
	got := pyJSONObject([]ctlPair{{"command", "work"}, {"k", "é😀\"\\\t\x7f<>&/\x01 ~"}})
	want := `{"command": "work", "k": "\u00e9\ud83d\ude00\"\\\t\u007f<>&/\u0001 ~"}`
	if got != want {
		t.Errorf("pyJSONObject = %s\nwant           %s", got, want)
	}
}
