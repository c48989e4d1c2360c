package conformance

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

const waitlogUsage = "waitlog [-timeout D] [-count N] NAME REGEXP"

// cmdWaitlog polls a node's log until enough lines match:
//
//	waitlog [-timeout D] [-count N] NAME REGEXP
//
// waits (default 10s) until at least N (default 1) lines that the node
// wrote since its latest (re)start match REGEXP, then prints those lines
// to stdout. To check that a line is absent, use `node log NAME` and
// `! stdout REGEXP` instead: there is no `! waitlog`.
func cmdWaitlog(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("waitlog does not support '!': use `node log NAME` then `! stdout REGEXP`")
	}
	fs := newFlagSet("waitlog")
	timeout := fs.Duration("timeout", defaultTimeout, "how long to wait")
	count := fs.Int("count", 1, "how many matching lines to wait for")
	rest := parseFlags(ts, fs, waitlogUsage, args)
	if len(rest) != 2 || *count < 1 {
		ts.Fatalf("usage: %s", waitlogUsage)
	}
	n := knownNode(ts, rest[0])
	re, err := regexp.Compile(rest[1])
	ts.Check(err)
	start := time.Now()
	deadline := start.Add(*timeout)
	for {
		var matched []string
		for _, line := range strings.SplitAfter(readLog(n, false), "\n") {
			if strings.HasSuffix(line, "\n") && re.MatchString(line) {
				matched = append(matched, line)
			}
		}
		if len(matched) >= *count {
			ts.Logf("waitlog: %d matching lines in %s.log after %v", len(matched), n.name, time.Since(start).Round(time.Millisecond))
			fmt.Fprint(ts.Stdout(), strings.Join(matched, ""))
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("waitlog %s: %d of %d lines matching %q within %v (node %s); log since its start:\n%s",
				n.name, len(matched), *count, re, *timeout, n.exitStatus(), tail(readLog(n, false), 40))
		}
		time.Sleep(pollInterval)
	}
}
