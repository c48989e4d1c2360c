package conformance

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Usage of the ctl command; also in README.md.
const ctlUsage = `ctl [-timeout D] SOCKET COMMAND...
ctl -raw [-quoted] [-timeout D] SOCKET FILE`

// cmdCtl talks to a control service (a Unix socket path, relative to the
// script's directory, or tcp:HOST:PORT):
//
//	ctl [-timeout D] SOCKET COMMAND...
//
// connects, checks the greeting `Receptor Control, node <id>`, sends the
// words of COMMAND joined by single spaces as one line, and prints the one
// reply line to stdout. Quote a command to keep its exact spacing:
// ctl n1.sock 'connect n3 control '.
//
//	ctl -raw [-quoted] [-timeout D] SOCKET FILE
//
// sends the bytes of FILE (a file of the script's archive, or stdout)
// exactly, half-closes, and prints everything the server sends, greeting
// included, until it closes the connection. With -quoted, every line of
// FILE is a Go-quoted string ("STATUS\r\n", as the C lines of
// testdata/transcripts), and the bytes sent are their concatenation: the
// way to send a stray "\r" or a last line without "\n". Lines starting
// with # are comments.
//
// An `ERROR:` reply is a reply: check it with stdout. `! ctl` expects the
// session itself to fail (nothing listening, no greeting, no reply).
func cmdCtl(ts *testscript.TestScript, neg bool, args []string) {
	fs := newFlagSet("ctl")
	raw := fs.Bool("raw", false, "send FILE's bytes and print everything until EOF")
	quoted := fs.Bool("quoted", false, "with -raw: FILE holds Go-quoted strings, one a line")
	timeout := fs.Duration("timeout", 15*time.Second, "deadline of the whole session")
	rest := parseFlags(ts, fs, ctlUsage, args)
	if len(rest) < 2 || (*raw && len(rest) != 2) || (*quoted && !*raw) {
		ts.Fatalf("usage:\n%s", ctlUsage)
	}
	addr := ctlAddr(ts, rest[0])
	deadline := time.Now().Add(*timeout)
	var out string
	var err error
	if *raw {
		data := ts.ReadFile(rest[1])
		if *quoted {
			data = unquoteLines(ts, rest[1], data)
		}
		out, err = ctlRaw(addr, []byte(data), deadline)
	} else {
		var reply string
		reply, err = ctlOnce(addr, strings.Join(rest[1:], " "), deadline)
		if err == nil {
			out = reply + "\n"
		}
	}
	switch {
	case err != nil && !neg:
		ts.Fatalf("ctl %s: %v", rest[0], err)
	case err == nil && neg:
		ts.Fatalf("ctl %s: unexpectedly succeeded: %q", rest[0], out)
	case err != nil:
		ts.Logf("ctl %s: %v (as expected)", rest[0], err)
	}
	fmt.Fprint(ts.Stdout(), out)
}

// ctlAddr resolves a socket path against the script's directory; tcp:
// addresses pass through.
func ctlAddr(ts *testscript.TestScript, arg string) string {
	if strings.HasPrefix(arg, "tcp:") {
		return arg
	}
	return ts.MkAbs(arg)
}

// unquoteLines concatenates the Go-quoted strings of a -quoted file.
func unquoteLines(ts *testscript.TestScript, name, text string) string {
	var b strings.Builder
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := strconv.Unquote(line)
		if err != nil {
			ts.Fatalf("ctl -quoted: %s:%d: %v: %s", name, i+1, err, line)
		}
		b.WriteString(s)
	}
	return b.String()
}
