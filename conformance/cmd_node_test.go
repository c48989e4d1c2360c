package conformance

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Usage of the node command; also in README.md.
const nodeUsage = `node start [-ready SOCKET] [-netns NS] NAME ARGS...
node stop NAME... | node stop -all
node kill NAME...
node hup NAME
node restart NAME
node running NAME
node log [-all] NAME`

// startGrace is how long `node start` without -ready watches a new process
// for an early exit (a bad configuration exits within milliseconds).
const startGrace = 300 * time.Millisecond

// stopTimeout bounds how long a node may take to exit after SIGTERM.
const stopTimeout = 10 * time.Second

// node is one meshd process a script started under a name of its choice.
type node struct {
	name  string
	args  []string // meshd arguments
	ready string   // control socket to wait for at start, "" for none
	netns string   // network namespace to run in, "" for the script's own
	log   string   // absolute path of NAME.log

	cmd       *exec.Cmd
	done      chan struct{} // closed when the process has been reaped
	logOffset int64         // size of the log when the current run started
}

// running reports whether the current process is still alive.
func (n *node) running() bool {
	if n.done == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// exitStatus describes how the last process ended.
func (n *node) exitStatus() string {
	if n.running() {
		return "running"
	}
	if n.cmd == nil || n.cmd.ProcessState == nil {
		return "never started"
	}
	return n.cmd.ProcessState.String()
}

// cmdNode starts and controls background meshd processes by name:
//
//	node start [-ready SOCKET] [-netns NS] NAME ARGS...
//	node stop NAME... | node stop -all
//	node kill NAME...
//	node restart NAME
//	node running NAME
//	node log [-all] NAME
func cmdNode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage:\n%s", nodeUsage)
	}
	sub, args := args[0], args[1:]
	if neg && sub != "running" {
		ts.Fatalf("node %s does not support '!'", sub)
	}
	switch sub {
	case "start":
		nodeStart(ts, args)
	case "stop":
		nodeStop(ts, args)
	case "kill":
		nodeKill(ts, args)
	case "hup":
		nodeHup(ts, args)
	case "restart":
		nodeRestart(ts, args)
	case "running":
		nodeRunning(ts, neg, args)
	case "log":
		nodeLog(ts, args)
	default:
		ts.Fatalf("unknown node subcommand %q; usage:\n%s", sub, nodeUsage)
	}
}

// nodeStart: node start [-ready SOCKET] [-netns NS] NAME ARGS...
//
// It runs `meshd ARGS...` in the background (inside `ip netns exec NS` with
// -netns), in the script's current directory, with stdout and stderr
// appended to $WORK/NAME.log. With -ready it waits until SOCKET greets; it
// fails if the process exits before it is ready (or, without -ready, within
// a short grace period).
func nodeStart(ts *testscript.TestScript, args []string) {
	const usage = "node start [-ready SOCKET] [-netns NS] NAME ARGS..."
	fs := newFlagSet("node start")
	ready := fs.String("ready", "", "control socket to wait for")
	netns := fs.String("netns", "", "network namespace (from `netns add`)")
	rest := parseFlags(ts, fs, usage, args)
	if len(rest) < 2 {
		ts.Fatalf("usage: %s", usage)
	}
	st := stateOf(ts)
	name := rest[0]
	if old := st.nodes[name]; old != nil && old.running() {
		ts.Fatalf("node %s is already running (pid %d)", name, old.cmd.Process.Pid)
	}
	if *netns != "" && !slices.Contains(netnsOf(ts).names, *netns) {
		ts.Fatalf("node start: -netns %s: not a namespace this script created with `netns add`", *netns)
	}
	n := &node{
		name:  name,
		args:  slices.Clone(rest[1:]),
		ready: *ready,
		netns: *netns,
		log:   filepath.Join(ts.Getenv("WORK"), name+".log"),
	}
	st.nodes[name] = n
	registerNodeCleanup(ts)
	startNode(ts, n)
}

// registerNodeCleanup makes sure every node of the script dies with it.
func registerNodeCleanup(ts *testscript.TestScript) {
	st := stateOf(ts)
	if st.cleanup {
		return
	}
	st.cleanup = true
	ts.Defer(func() {
		for _, name := range sortedNames(st.nodes) {
			n := st.nodes[name]
			if n.running() {
				// By PID: never anything but the processes this script started.
				_ = n.cmd.Process.Signal(syscall.SIGKILL)
				<-n.done
			}
			ts.Logf("[%s.log, last lines of the last run]\n%s", name, tail(readLog(n, false), 20))
		}
	})
}

// startNode starts n's process and waits until it is up.
func startNode(ts *testscript.TestScript, n *node) {
	bin, err := lookPath(ts, "meshd")
	ts.Check(err)
	argv := append([]string{bin}, n.args...)
	if n.netns != "" {
		ip, err := lookPath(ts, "ip")
		ts.Check(err)
		argv = append([]string{ip, "netns", "exec", n.netns}, argv...)
	}
	logf, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	ts.Check(err)
	defer logf.Close() // the child has its own descriptor
	fi, err := logf.Stat()
	ts.Check(err)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = processEnv(ts)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Should the test binary die without running its cleanups (a test
	// timeout), its nodes die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		ts.Fatalf("node %s: %v", n.name, err)
	}
	n.cmd, n.logOffset, n.done = cmd, fi.Size(), make(chan struct{})
	done := n.done
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	ts.Logf("node %s: started pid %d: meshd %s", n.name, cmd.Process.Pid, strings.Join(n.args, " "))
	if n.ready == "" {
		select {
		case <-done:
			ts.Fatalf("node %s exited at start (%s); its log:\n%s", n.name, n.exitStatus(), readLog(n, false))
		case <-time.After(startGrace):
		}
		return
	}
	waitReady(ts, n)
}

// waitReady polls n's control socket until it greets.
func waitReady(ts *testscript.TestScript, n *node) {
	sock := ts.MkAbs(n.ready)
	deadline := time.Now().Add(defaultTimeout)
	var lastErr error
	for {
		select {
		case <-n.done:
			ts.Fatalf("node %s exited before %s answered (%s); its log:\n%s", n.name, n.ready, n.exitStatus(), readLog(n, false))
		default:
		}
		c, err := dialCtl(sock, time.Now().Add(time.Second))
		if err == nil {
			c.Close()
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			ts.Fatalf("node %s: control socket %s not ready after %v: %v; its log:\n%s", n.name, n.ready, defaultTimeout, lastErr, readLog(n, false))
		}
		time.Sleep(pollInterval)
	}
}

// nodeStop: node stop NAME... | node stop -all
//
// SIGTERM, then wait; the node must exit with status 0 within 10s.
func nodeStop(ts *testscript.TestScript, args []string) {
	st := stateOf(ts)
	var names []string
	if len(args) == 1 && args[0] == "-all" {
		for _, name := range sortedNames(st.nodes) {
			if st.nodes[name].running() {
				names = append(names, name)
			}
		}
	} else {
		if len(args) == 0 {
			ts.Fatalf("usage: node stop NAME... | node stop -all")
		}
		names = args
	}
	// Signal them all first so that they shut down together.
	for _, name := range names {
		n := runningNode(ts, name)
		ts.Check(n.cmd.Process.Signal(syscall.SIGTERM))
	}
	var failures []string
	for _, name := range names {
		if err := waitExit(st.nodes[name], stopTimeout); err != nil {
			failures = append(failures, err.Error())
		}
	}
	if len(failures) > 0 {
		ts.Fatalf("%s", strings.Join(failures, "\n"))
	}
}

// waitExit waits for n to exit after a SIGTERM and checks its status.
func waitExit(n *node, timeout time.Duration) error {
	select {
	case <-n.done:
	case <-time.After(timeout):
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		<-n.done
		return fmt.Errorf("node %s did not exit within %v of SIGTERM; killed it; its log:\n%s", n.name, timeout, tail(readLog(n, false), 40))
	}
	if !n.cmd.ProcessState.Success() {
		return fmt.Errorf("node %s: unclean exit after SIGTERM (%s); its log:\n%s", n.name, n.exitStatus(), tail(readLog(n, false), 40))
	}
	return nil
}

// nodeKill: node kill NAME... — SIGKILL, then reap.
func nodeKill(ts *testscript.TestScript, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: node kill NAME...")
	}
	for _, name := range args {
		n := runningNode(ts, name)
		ts.Check(n.cmd.Process.Signal(syscall.SIGKILL))
		<-n.done
	}
}

// nodeHup: node hup NAME — SIGHUP (meshd reloads its configuration).
func nodeHup(ts *testscript.TestScript, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: node hup NAME")
	}
	ts.Check(runningNode(ts, args[0]).cmd.Process.Signal(syscall.SIGHUP))
}

// nodeRestart: node restart NAME — stop it if it runs (as node stop), then
// start it again with the same arguments and options.
func nodeRestart(ts *testscript.TestScript, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: node restart NAME")
	}
	n := knownNode(ts, args[0])
	if n.running() {
		ts.Check(n.cmd.Process.Signal(syscall.SIGTERM))
		ts.Check(waitExit(n, stopTimeout))
	}
	startNode(ts, n)
}

// nodeRunning: [!] node running NAME — whether the node's process is alive.
func nodeRunning(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: node running NAME")
	}
	n := knownNode(ts, args[0])
	switch up := n.running(); {
	case up && neg:
		ts.Fatalf("node %s is running (pid %d)", n.name, n.cmd.Process.Pid)
	case !up && !neg:
		ts.Fatalf("node %s is not running (%s); its log:\n%s", n.name, n.exitStatus(), tail(readLog(n, false), 40))
	}
}

// nodeLog: node log [-all] NAME — the node's output since its latest
// (re)start, or with -all since the first, becomes the command's stdout.
func nodeLog(ts *testscript.TestScript, args []string) {
	const usage = "node log [-all] NAME"
	fs := newFlagSet("node log")
	all := fs.Bool("all", false, "every run, not only the latest")
	rest := parseFlags(ts, fs, usage, args)
	if len(rest) != 1 {
		ts.Fatalf("usage: %s", usage)
	}
	n := knownNode(ts, rest[0])
	fmt.Fprint(ts.Stdout(), readLog(n, *all))
}

func knownNode(ts *testscript.TestScript, name string) *node {
	n := stateOf(ts).nodes[name]
	if n == nil {
		ts.Fatalf("no node named %s (start it with `node start %s ...`)", name, name)
	}
	return n
}

func runningNode(ts *testscript.TestScript, name string) *node {
	n := knownNode(ts, name)
	if !n.running() {
		ts.Fatalf("node %s is not running (%s)", name, n.exitStatus())
	}
	return n
}

// readLog returns the node's log since its latest start, or all of it.
func readLog(n *node, all bool) string {
	data, err := os.ReadFile(n.log)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", n.log, err)
	}
	if !all && n.logOffset <= int64(len(data)) {
		data = data[n.logOffset:]
	}
	return string(data)
}

// tail returns the last max lines of s.
func tail(s string, max int) string {
	lines := strings.SplitAfter(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > max {
		lines = append([]string{fmt.Sprintf("... (%d lines before)\n", len(lines)-max)}, lines[len(lines)-max:]...)
	}
	return strings.Join(lines, "")
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// lookPath finds an executable on the script's PATH (not the test's).
func lookPath(ts *testscript.TestScript, file string) (string, error) {
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, file)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New(file + ": not found on the script's PATH")
}
