package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Usages of the work commands; also in README.md.
const (
	worksubmitUsage  = "worksubmit [-status] [-payload FILE] [-id VAR] [-timeout D] SOCKET COMMAND..."
	workresultsUsage = "workresults [-o FILE | -hash] [-timeout D] [-bg NAME] SOCKET UNITID [STARTPOS] | workresults -wait NAME"
)

// workTimeout bounds a submit or results session unless -timeout says
// otherwise: payloads and outputs are megabytes.
const workTimeout = 60 * time.Second

var (
	createdLine = regexp.MustCompile(`^Work unit created with ID ([A-Za-z0-9]+)\. Send stdin data and EOF\.$`)
)

// cmdWorksubmit submits a work unit the way receptorctl (and so AWX) does:
//
//	worksubmit [-status] [-payload FILE] [-id VAR] [-timeout D] SOCKET COMMAND...
//
// On one session it sends, with -status, `status` first and reads its
// reply (AWX always does), then COMMAND (its words joined by single
// spaces: the text form `work submit NODE TYPE PARAMS...` or a JSON line),
// and reads `Work unit created with ID X. Send stdin data and EOF.`. It
// then streams FILE (default: nothing) as the payload, half-closes, reads
// the result line, and checks that the server then closes the session.
// Every line received goes to stdout; with -id VAR, VAR is set to the new
// unit's ID. A reply `ERROR: ...` instead of the unit line (or of the
// result) is printed and ends the command without failing: check it with
// `stdout`. Anything else that goes wrong fails the script.
func cmdWorksubmit(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("worksubmit does not support '!': an ERROR reply is printed; check it with stdout")
	}
	flags := newFlagSet("worksubmit")
	status := flags.Bool("status", false, "send status first on the same session")
	payload := flags.String("payload", "", "file to send as the payload")
	idVar := flags.String("id", "", "variable to set to the new unit's ID")
	timeout := flags.Duration("timeout", workTimeout, "deadline of the whole session")
	rest := parseFlags(ts, flags, worksubmitUsage, args)
	if len(rest) < 2 {
		ts.Fatalf("usage: %s", worksubmitUsage)
	}
	var data io.Reader = strings.NewReader("")
	if *payload != "" {
		f, err := os.Open(ts.MkAbs(*payload))
		ts.Check(err)
		defer f.Close()
		data = f
	}
	c, err := dialCtl(ctlAddr(ts, rest[0]), time.Now().Add(*timeout))
	if err != nil {
		ts.Fatalf("worksubmit: %v", err)
	}
	defer c.Close()
	out := ts.Stdout()
	if *status {
		reply, err := c.command("status")
		if err != nil {
			ts.Fatalf("worksubmit: %v", err)
		}
		fmt.Fprintln(out, reply)
	}
	line := strings.Join(rest[1:], " ")
	reply, err := c.command(line)
	if err != nil {
		ts.Fatalf("worksubmit: %v", err)
	}
	fmt.Fprintln(out, reply)
	m := createdLine.FindStringSubmatch(reply)
	switch {
	case m == nil && strings.HasPrefix(reply, "ERROR: "):
		return
	case m == nil:
		ts.Fatalf("worksubmit: reply to %q is neither the new unit nor an ERROR: %q", line, reply)
	}
	if *idVar != "" {
		setenv(ts, *idVar, m[1])
	}
	// Send the payload while reading: a server that refuses early must
	// not leave us blocked on a full socket buffer.
	start := time.Now()
	sent := make(chan error, 1)
	var n int64
	go func() {
		var err error
		n, err = io.Copy(c.conn, data)
		if err == nil {
			err = c.conn.(interface{ CloseWrite() error }).CloseWrite()
		}
		sent <- err
	}()
	result, rerr := c.rd.ReadString('\n')
	werr := <-sent
	if rerr != nil {
		ts.Fatalf("worksubmit: no reply after the payload: %v (got %q; sending: %v)", rerr, result, werr)
	}
	result = strings.TrimSuffix(result, "\n")
	fmt.Fprintln(out, result)
	if strings.HasPrefix(result, "ERROR: ") {
		return
	}
	if werr != nil {
		ts.Fatalf("worksubmit: sending the payload: %v (reply %q)", werr, result)
	}
	extra, err := io.ReadAll(c.rd)
	if err != nil || len(extra) > 0 {
		ts.Fatalf("worksubmit: the server did not close the session after %q: %v (more bytes: %q)", result, err, extra)
	}
	ts.Logf("worksubmit: unit %s: %d payload bytes sent; done in %v", m[1], n, time.Since(start).Round(time.Millisecond))
}

// cmdWorkresults reads a unit's output as AWX does:
//
//	workresults [-o FILE | -hash] [-timeout D] [-bg NAME] SOCKET UNITID [STARTPOS]
//	workresults -wait NAME
//
// sends `work results UNITID [STARTPOS]`, checks the header `Streaming
// results for work unit UNITID` and prints it, half-closes at once (as
// receptorctl does), then reads the output until the server closes the
// connection: to stdout, or with -o into FILE, or with -hash only its size
// and SHA-256 are printed ("SIZE HEX", as `sha256` prints them). An ERROR
// reply instead of the header is printed and ends the command.
//
// With -bg NAME the stream is read in the background (the header is
// waited for, so the stream is open when the command returns) and
// `workresults -wait NAME` waits for its end and prints what the
// foreground form would have printed: for a stream that must end when its
// unit is canceled or released, or that runs while a node restarts.
func cmdWorkresults(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("workresults does not support '!'")
	}
	flags := newFlagSet("workresults")
	outFile := flags.String("o", "", "write the output to FILE")
	hash := flags.Bool("hash", false, "print the output's size and SHA-256 instead of the output")
	timeout := flags.Duration("timeout", workTimeout, "deadline of the whole session")
	bg := flags.String("bg", "", "read in the background as NAME")
	wait := flags.String("wait", "", "wait for background stream NAME and print its result")
	rest := parseFlags(ts, flags, workresultsUsage, args)
	ws := workStateOf(ts)
	if *wait != "" {
		if len(rest) != 0 || *bg != "" || *outFile != "" || *hash {
			ts.Fatalf("usage: workresults -wait NAME")
		}
		r := ws.streams[*wait]
		if r == nil {
			ts.Fatalf("workresults -wait: no background stream %s", *wait)
		}
		delete(ws.streams, *wait)
		<-r.done
		r.report(ts)
		return
	}
	if len(rest) != 2 && len(rest) != 3 || (*outFile != "" && *hash) {
		ts.Fatalf("usage: %s", workresultsUsage)
	}
	if *bg != "" && ws.streams[*bg] != nil {
		ts.Fatalf("workresults: background stream %s is already running", *bg)
	}
	r := &resultsStream{
		addr: ctlAddr(ts, rest[0]), unit: rest[1], line: "work results " + strings.Join(rest[1:], " "),
		hash: *hash, timeout: *timeout, done: make(chan struct{}), header: make(chan struct{}),
	}
	if *outFile != "" {
		r.file = ts.MkAbs(*outFile)
	}
	go r.run()
	if *bg == "" {
		<-r.done
		r.report(ts)
		return
	}
	select {
	case <-r.header:
	case <-r.done:
	}
	select {
	case <-r.done:
		if r.err != nil && r.headerLine == "" {
			r.report(ts) // no session: fails
		}
	default: // streaming: r.err is not ours to read yet
	}
	ws.streams[*bg] = r
	fmt.Fprintln(ts.Stdout(), r.headerLine)
}

// resultsStream is one `work results` session; run fills in the results
// and closes done. Nothing of it touches the script: it may run in the
// background.
type resultsStream struct {
	addr, unit, line, file string
	hash                   bool
	timeout                time.Duration

	header     chan struct{} // closed once headerLine is read
	done       chan struct{}
	conn       *ctlConn
	headerLine string
	out        strings.Builder // the output, without -o or -hash
	sum        *sizedHash
	n          int64
	took       time.Duration
	err        error
}

func (r *resultsStream) run() {
	defer close(r.done)
	c, err := dialCtl(r.addr, time.Now().Add(r.timeout))
	if err != nil {
		r.err = err
		return
	}
	defer c.Close()
	r.conn = c
	r.headerLine, r.err = c.command(r.line)
	close(r.header)
	if r.err != nil {
		return
	}
	if r.headerLine != "Streaming results for work unit "+r.unit {
		if !strings.HasPrefix(r.headerLine, "ERROR: ") {
			r.err = fmt.Errorf("unexpected reply to %q: %q", r.line, r.headerLine)
		}
		return
	}
	if err := c.conn.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		r.err = fmt.Errorf("half-close: %v", err)
		return
	}
	start := time.Now()
	var dst io.Writer = &r.out
	switch {
	case r.file != "":
		f, err := os.Create(r.file)
		if err != nil {
			r.err = err
			return
		}
		defer f.Close()
		dst = f
	case r.hash:
		r.sum = newSizedHash()
		dst = r.sum
	}
	r.n, err = io.Copy(dst, c.rd)
	r.took = time.Since(start)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			r.err = fmt.Errorf("the stream of %s did not end within %v (%d bytes so far)", r.unit, r.timeout, r.n)
		} else {
			r.err = fmt.Errorf("after %d bytes: %v", r.n, err)
		}
	}
}

// report prints what the stream got, or fails the script.
func (r *resultsStream) report(ts *testscript.TestScript) {
	if r.err != nil {
		ts.Fatalf("workresults %s: %v", r.unit, r.err)
	}
	fmt.Fprintln(ts.Stdout(), r.headerLine)
	if r.took > 0 {
		ts.Logf("workresults: %d bytes of %s in %v (%.1f MB/s)", r.n, r.unit, r.took.Round(time.Millisecond), float64(r.n)/1e6/max(r.took.Seconds(), 1e-6))
	}
	switch {
	case r.sum != nil:
		fmt.Fprintln(ts.Stdout(), r.sum.String())
	case r.file == "":
		fmt.Fprint(ts.Stdout(), r.out.String())
	}
}

// workState is what the work commands remember for one script.
type workState struct {
	streams map[string]*resultsStream // background results streams by name
}

type workStateKey struct{}

func workStateOf(ts *testscript.TestScript) *workState {
	return ts.Value(workStateKey{}).(*workState)
}

// jsonvarUsage is the usage of jsonvar; also in README.md.
const jsonvarUsage = "jsonvar VAR FILE PATH"

// cmdJSONVar sets a script variable from a JSON reply:
//
//	jsonvar VAR FILE PATH
//
// FILE and PATH are as for jsonpath (the last line of FILE, usually
// stdout; dot-separated keys and indexes). A string value is taken as is,
// anything else as compact JSON. The path must exist.
func cmdJSONVar(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: %s", jsonvarUsage)
	}
	text := strings.TrimRight(ts.ReadFile(args[1]), "\n")
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		text = text[i+1:]
	}
	var doc any
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		ts.Fatalf("jsonvar: %s is not JSON (%v): %q", args[1], err, text)
	}
	v, ok := lookupJSON(doc, args[2])
	if !ok {
		ts.Fatalf("jsonvar: %s is absent in %s", args[2], text)
	}
	s, isStr := v.(string)
	if !isStr {
		s = compactJSON(v)
	}
	setenv(ts, args[0], s)
	ts.Logf("jsonvar: %s=%s", args[0], s)
}

// parseSize reads a byte count: a number, optionally with KiB, MiB or GiB.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if rest, ok := strings.CutSuffix(s, suffix); ok {
			s, mult = rest, m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q: want a byte count, optionally with KiB, MiB or GiB", s)
	}
	return n * mult, nil
}

// setupWork makes sure that no command a script's nodes ran outlives the
// script: a command unit runs under a detached runner (its own session),
// which survives its node by design, so killing the nodes is not enough.
// After everything else the script deferred (its nodes are dead by then),
// every runner recorded in a unit status file under $WORK that is still
// alive is killed with its process group. A PID is trusted only if that
// process is a work runner of that very unit (isRunnerOf).
func setupWork(env *testscript.Env) error {
	ws := &workState{streams: map[string]*resultsStream{}}
	env.Values[workStateKey{}] = ws
	work := env.WorkDir
	env.Defer(func() {
		for _, r := range ws.streams { // never waited for: the script failed
			select {
			case <-r.header:
				r.conn.Close()
			default:
			}
			<-r.done
		}
		killLeftoverRunners(work)
	})
	return nil
}

func killLeftoverRunners(dir string) {
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "status" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		var st struct{ ExtraData struct{ Pid int } }
		if json.Unmarshal(data, &st) != nil || st.ExtraData.Pid <= 0 {
			return nil
		}
		pid := st.ExtraData.Pid
		if isRunnerOf(pid, filepath.Dir(path)) {
			syscall.Kill(-pid, syscall.SIGKILL) // the runner leads its own process group
		}
		return nil
	})
}

// isRunnerOf reports whether process pid is a `meshd work-runner` that
// works for the unit directory unitDir: it names the directory on its
// command line, or holds the unit's directory or files open (a runner keeps
// the directory, its lock, open for its whole life).
func isRunnerOf(pid int, unitDir string) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	argv := strings.Split(string(raw), "\x00")
	if len(argv) < 2 || argv[1] != "work-runner" {
		return false
	}
	dir, err := os.Stat(unitDir)
	if err != nil {
		return false
	}
	if len(argv) > 2 {
		if a, err := os.Stat(argv[2]); err == nil && os.SameFile(a, dir) {
			return true
		}
	}
	unitFiles := []os.FileInfo{dir} // a runner holds the unit directory, its lock, open
	for _, name := range []string{"stdout", "stdin"} {
		if fi, err := os.Stat(filepath.Join(unitDir, name)); err == nil {
			unitFiles = append(unitFiles, fi)
		}
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		fi, err := os.Stat(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err != nil {
			continue
		}
		for _, uf := range unitFiles {
			if os.SameFile(fi, uf) {
				return true
			}
		}
	}
	return false
}

// cmdAlive checks whether a process lives:
//
//	[!] alive PID
//
// A zombie (exited, not yet reaped: a runner adopted by a restarted node
// is no child of it, so init reaps it, some time later) counts as dead.
func cmdAlive(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: [!] alive PID")
	}
	pid, err := strconv.Atoi(args[0])
	if err != nil || pid <= 0 {
		ts.Fatalf("alive: bad PID %q", args[0])
	}
	up, state := processAlive(pid)
	switch {
	case up && neg:
		ts.Fatalf("process %d is alive (%s)", pid, state)
	case !up && !neg:
		ts.Fatalf("process %d is not alive (%s)", pid, state)
	}
}

// cmdParentpid sets VAR to the parent of process PID: for a unit's
// command (ExtraData.Pid), its runner.
func cmdParentpid(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: parentpid VAR PID")
	}
	raw, err := os.ReadFile("/proc/" + args[1] + "/stat")
	ts.Check(err)
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		ts.Fatalf("parentpid: unreadable /proc/%s/stat", args[1])
	}
	ts.Setenv(args[0], f[1])
}

// processAlive reads the state letter of /proc/PID/stat.
func processAlive(pid int) (bool, string) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false, "no such process"
	}
	// "pid (comm) S ...": comm may hold spaces and parentheses.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false, "unreadable state"
	}
	switch st := s[i+2]; st {
	case 'Z', 'X', 'x':
		return false, "state " + string(st)
	default:
		return true, "state " + string(st)
	}
}

const ctlseqUsage = "ctlseq [-timeout D] SOCKET LINE..."

// cmdCtlseq sends several commands on one session, as AWX's polling
// loops do (`work status` then `work release` on the same connection):
//
//	ctlseq [-timeout D] SOCKET LINE...
//
// Each LINE (one argument: quote it) is sent once the reply to the one
// before has been read; every reply line goes to stdout. Unlike
// `ctl -raw FILE`, the lines are script words, so $VARIABLES expand.
func cmdCtlseq(ts *testscript.TestScript, neg bool, args []string) {
	flags := newFlagSet("ctlseq")
	timeout := flags.Duration("timeout", 15*time.Second, "deadline of the whole session")
	rest := parseFlags(ts, flags, ctlseqUsage, args)
	if neg || len(rest) < 2 {
		ts.Fatalf("usage: %s", ctlseqUsage)
	}
	c, err := dialCtl(ctlAddr(ts, rest[0]), time.Now().Add(*timeout))
	if err != nil {
		ts.Fatalf("ctlseq: %v", err)
	}
	defer c.Close()
	for _, line := range rest[1:] {
		reply, err := c.command(line)
		if err != nil {
			ts.Fatalf("ctlseq: %v", err)
		}
		fmt.Fprintln(ts.Stdout(), reply)
	}
}
