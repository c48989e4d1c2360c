// Command meshbench measures meshd against its performance budget
// (DESIGN.md, "Performance budget") using real meshd processes on
// 127.0.0.1, and prints one table:
//
//	(a) stream throughput through a 3-node chain vs a raw TCP relay chain
//	(b) ping round trips over 1 and 5 hops
//	(c) convergence of a 60-node random mesh, and routing around a killed node
//	(d) RSS of an idle node and of the 60 nodes; static binary size
//	work: a remote unit's output streamed back over 3 hops vs raw TCP
//	      relays, and submit-to-final latency of local and remote units
//
// Usually run through scripts/bench, which builds meshd first:
//
//	meshbench -meshd PATH [-static PATH] [-quick]
//
// Every child process is killed by PID and the temporary directory
// removed on every exit path, including timeouts and signals.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

type config struct {
	meshd     string
	static    string
	quick     bool
	mib       int64
	rounds    int
	pings     int
	nodes     int
	seed      uint64
	keep      bool
	phases    string
	timeout   time.Duration
	idleWait  time.Duration
	cpuWindow time.Duration

	workMiB    int64 // output of the work phase's remote unit
	workLocal  int   // local units timed
	workRemote int   // remote units timed
}

// env is one driver run.
type env struct {
	cfg  config
	self string // this binary, for helper processes
	dir  string
	ps   *procs
	rng  *rand.Rand

	mu    sync.Mutex
	rows  []row
	notes []string
}

// row is one line of the result table.
type row struct {
	metric, measured, baseline, target, met string
}

func main() {
	if len(os.Args) > 1 {
		if h, ok := helperModes[os.Args[1]]; ok {
			if err := h(os.Args[2:]); err != nil {
				fmt.Fprintf(os.Stderr, "meshbench %s: %v\n", os.Args[1], err)
				os.Exit(1)
			}
			return
		}
	}
	os.Exit(run())
}

func run() int {
	var cfg config
	flag.StringVar(&cfg.meshd, "meshd", "", "meshd binary to run (required)")
	flag.StringVar(&cfg.static, "static", "", "static meshd build whose size to report (optional)")
	flag.BoolVar(&cfg.quick, "quick", false, "smaller, faster run (fewer bytes, one round)")
	flag.Int64Var(&cfg.mib, "mib", 0, "MiB per throughput measurement (default 256, 32 with -quick)")
	flag.IntVar(&cfg.rounds, "rounds", 0, "throughput rounds, alternating mesh and relays (default 3, 1 with -quick)")
	flag.IntVar(&cfg.pings, "pings", 250, "pings per hop count")
	flag.IntVar(&cfg.nodes, "nodes", 60, "nodes in the convergence mesh")
	flag.Uint64Var(&cfg.seed, "seed", 0, "random seed for the mesh topology (0: from the clock)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory (logs) after the run")
	flag.Int64Var(&cfg.workMiB, "work-mib", 0, "MiB of output of the work phase's remote unit (default: -mib, at least 64)")
	flag.IntVar(&cfg.workLocal, "work-local", 100, "local units timed in the work phase")
	flag.IntVar(&cfg.workRemote, "work-remote", 30, "remote (3-hop) units timed in the work phase")
	flag.StringVar(&cfg.phases, "phases", "binary,idle,stream,ping,mesh,work", "comma-separated phases to run")
	flag.DurationVar(&cfg.timeout, "timeout", 15*time.Minute, "abort the whole run after this long")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: meshbench -meshd PATH [-static PATH] [-quick] [flags]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if cfg.meshd == "" || flag.NArg() > 0 {
		flag.Usage()
		return 2
	}
	if cfg.mib <= 0 {
		cfg.mib = 256
		if cfg.quick {
			cfg.mib = 32
		}
	}
	if cfg.rounds <= 0 {
		cfg.rounds = 3
		if cfg.quick {
			cfg.rounds = 1
		}
	}
	cfg.pings = max(cfg.pings, 1)
	if cfg.workMiB <= 0 {
		cfg.workMiB = max(cfg.mib, 64)
	}
	cfg.workLocal, cfg.workRemote = max(cfg.workLocal, 1), max(cfg.workRemote, 1)
	cfg.idleWait, cfg.cpuWindow = 2*time.Second, 3*time.Second
	if cfg.quick {
		cfg.idleWait, cfg.cpuWindow = time.Second, time.Second
	}
	if cfg.seed == 0 {
		cfg.seed = uint64(time.Now().UnixNano())
	}
	var err error
	if cfg.meshd, err = filepath.Abs(cfg.meshd); err != nil {
		fmt.Fprintln(os.Stderr, "meshbench:", err)
		return 1
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshbench:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "meshbench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshbench:", err)
		return 1
	}
	e := &env{cfg: cfg, self: self, dir: dir, ps: &procs{}, rng: rand.New(rand.NewPCG(cfg.seed, 0x6d657368))}

	var once sync.Once
	cleanup := func() {
		once.Do(func() {
			e.ps.stopAll()
			if cfg.keep {
				fmt.Fprintf(os.Stderr, "meshbench: kept %s\n", dir)
			} else {
				os.RemoveAll(dir)
			}
		})
	}
	defer cleanup()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "meshbench: %v: cleaning up\n", sig)
		cleanup()
		os.Exit(130)
	}()
	watchdog := time.AfterFunc(cfg.timeout, func() {
		fmt.Fprintf(os.Stderr, "meshbench: run exceeded -timeout %v: cleaning up\n", cfg.timeout)
		cleanup()
		os.Exit(1)
	})
	defer watchdog.Stop()

	fmt.Printf("meshbench: %s, %s/%s, %d CPUs, load %s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), loadavg())
	fmt.Printf("meshd: %s; %d MiB x %d rounds per throughput figure; %d pings per hop count; %d-node mesh, seed %d; work: %d MiB output, %d local and %d remote units\n\n",
		cfg.meshd, cfg.mib, cfg.rounds, cfg.pings, cfg.nodes, cfg.seed, cfg.workMiB, cfg.workLocal, cfg.workRemote)

	phases := []struct {
		key, name string
		fn        func() error
	}{
		{"binary", "binary size", e.phaseBinary},
		{"idle", "idle node", e.phaseIdle},
		{"stream", "stream throughput", e.phaseStream},
		{"ping", "ping", e.phasePing},
		{"mesh", "mesh convergence", e.phaseMesh},
		{"work", "work units", e.phaseWork},
	}
	want := map[string]bool{}
	for _, k := range strings.Split(cfg.phases, ",") {
		want[strings.TrimSpace(k)] = true
	}
	failed := 0
	for _, ph := range phases {
		if !want[ph.key] {
			continue
		}
		start := time.Now()
		progress("== %s", ph.name)
		if err := ph.fn(); err != nil {
			failed++
			e.add(row{ph.name, "ERROR", "", "", "ERROR"})
			fmt.Fprintf(os.Stderr, "meshbench: %s: %v\n", ph.name, err)
		}
		e.ps.stopAll() // each phase's processes end with it
		progress("   %s done in %.1fs", ph.name, time.Since(start).Seconds())
	}

	e.printTable()
	missed := 0
	for _, r := range e.rows {
		if r.met == "NO" {
			missed++
		}
	}
	fmt.Printf("\nTargets missed: %d. Phases failed: %d. Load average at end: %s.\n", missed, failed, loadavg())
	fmt.Println("\nNotes (MB = 10^6 bytes; every baseline was measured in this same run):")
	for _, n := range e.notes {
		fmt.Println("- " + n)
	}
	if failed > 0 {
		return 1
	}
	return 0
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func (e *env) add(r row) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rows = append(e.rows, r)
}

func (e *env) note(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.notes = append(e.notes, fmt.Sprintf(format, args...))
}

func (e *env) printTable() {
	head := row{"metric", "measured", "baseline", "ratio / target", "met?"}
	all := append([]row{head}, e.rows...)
	w := make([]int, 5)
	cells := func(r row) []string { return []string{r.metric, r.measured, r.baseline, r.target, r.met} }
	for _, r := range all {
		for i, c := range cells(r) {
			w[i] = max(w[i], len([]rune(c)))
		}
	}
	line := func(r row) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range cells(r) {
			fmt.Fprintf(&b, " %s%s |", c, strings.Repeat(" ", w[i]-len([]rune(c))))
		}
		fmt.Println(b.String())
	}
	line(head)
	var b strings.Builder
	b.WriteString("|")
	for _, n := range w {
		b.WriteString(strings.Repeat("-", n+2) + "|")
	}
	fmt.Println(b.String())
	for _, r := range e.rows {
		line(r)
	}
}

// sub creates a fresh directory for a phase.
func (e *env) sub(name string) (string, error) {
	d := filepath.Join(e.dir, name)
	return d, os.MkdirAll(d, 0o700)
}

// freePorts finds n distinct free loopback ports (held open together, so
// they differ, then released).
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// meshdArgs is the command line of one meshd node; extra is appended.
func meshdArgs(dir, id string, port int, peers []int, sock string, extra ...string) []string {
	args := []string{"--node", "id=" + id, "datadir=" + dir,
		"--tcp-listener", "bindaddr=127.0.0.1", fmt.Sprintf("port=%d", port)}
	for _, p := range peers {
		args = append(args, "--tcp-peer", fmt.Sprintf("address=127.0.0.1:%d", p))
	}
	if sock != "" {
		args = append(args, "--control-service", "filename="+sock)
	}
	return append(args, extra...)
}

// startMeshd starts a meshd node; its output goes to DIR/ID.log.
func (e *env) startMeshd(dir, id string, port int, peers []int, sock string, extra ...string) (*proc, error) {
	return e.ps.start(id, filepath.Join(dir, id+".log"), false, e.cfg.meshd, meshdArgs(dir, id, port, peers, sock, extra...)...)
}

// startReady starts a meshd node and waits (bounded) until its control
// socket greets and its link listener is up, so the next node's dial
// cannot be refused. extra is appended to its command line.
func (e *env) startReady(dir, id string, port int, peers []int, extra ...string) (*proc, string, error) {
	sock := filepath.Join(dir, id+".sock")
	p, err := e.startMeshd(dir, id, port, peers, sock, extra...)
	if err != nil {
		return nil, "", err
	}
	k, err := dialCtl(sock, 10*time.Second)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %v%s", id, err, p.logTail())
	}
	k.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !tcpListening(port) {
		if time.Now().After(deadline) || p.exited() {
			return nil, "", fmt.Errorf("%s: not listening on port %d%s", id, port, p.logTail())
		}
		time.Sleep(time.Millisecond)
	}
	return p, sock, nil
}

// startHelper runs this binary in a helper mode and returns its ready line.
func (e *env) startHelper(dir, name string, args ...string) (*proc, string, error) {
	p, err := e.ps.start(name, filepath.Join(dir, name+".log"), true, e.self, args...)
	if err != nil {
		return nil, "", err
	}
	line, err := p.readyLine(10 * time.Second)
	return p, line, err
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// Statistics and formatting.

func medianDur(d []time.Duration) time.Duration { return quantile(d, 0.5) }

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

func us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/1e3) }
func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/1e6) }
func mb(bytes int64) string     { return fmt.Sprintf("%.2f MB", float64(bytes)/1e6) }

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}
