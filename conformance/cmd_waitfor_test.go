package conformance

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

const waitforUsage = "[!] waitfor [-timeout D] SOCKET COMMAND... REGEXP"

// cmdWaitfor polls a control service until a reply matches:
//
//	waitfor [-timeout D] SOCKET COMMAND... REGEXP
//
// sends COMMAND (words joined by single spaces) in a fresh session every
// 20ms until the reply line matches REGEXP, then prints that reply to
// stdout. With `!` it waits until a reply does NOT match (a failed session
// is no reply and does not count). Sessions that fail are retried: the node
// may still be starting. After the deadline (default 10s) it fails and
// shows the last reply or error.
func cmdWaitfor(ts *testscript.TestScript, neg bool, args []string) {
	fs := newFlagSet("waitfor")
	timeout := fs.Duration("timeout", defaultTimeout, "how long to wait")
	rest := parseFlags(ts, fs, waitforUsage, args)
	if len(rest) < 3 {
		ts.Fatalf("usage: %s", waitforUsage)
	}
	addr := ctlAddr(ts, rest[0])
	line := strings.Join(rest[1:len(rest)-1], " ")
	re, err := regexp.Compile(rest[len(rest)-1])
	ts.Check(err)
	start := time.Now()
	deadline := start.Add(*timeout)
	last := "(no reply yet)"
	for attempts := 1; ; attempts++ {
		reply, err := ctlOnce(addr, line, deadline)
		if err == nil {
			last = fmt.Sprintf("last reply: %s", reply)
			if re.MatchString(reply) != neg {
				ts.Logf("waitfor: %q answered as wanted after %v (%d attempts)", line, time.Since(start).Round(time.Millisecond), attempts)
				fmt.Fprintln(ts.Stdout(), reply)
				return
			}
		} else {
			last = fmt.Sprintf("last error: %v", err)
		}
		if time.Now().Add(pollInterval).After(deadline) {
			want := "matching"
			if neg {
				want = "not matching"
			}
			ts.Fatalf("waitfor %s %q: no reply %s %q within %v (%d attempts); %s", rest[0], line, want, re, *timeout, attempts, last)
		}
		time.Sleep(pollInterval)
	}
}
