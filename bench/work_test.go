package bench

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"meshd/ctlsock"
	"meshd/mesh"
	"meshd/work"
)

// TestMain lets this test binary be a command runner: a node starts the
// runner of each command unit by re-executing its own binary
// (/proc/self/exe) with argv[1] == work.RunnerCommand.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == work.RunnerCommand {
		os.Exit(work.RunnerMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// workOutputBytes is the output of the "zero" work type: what
// BenchmarkWorkRemoteOutput3Hops streams per op (the minimum scripts/bench
// uses too).
const workOutputBytes = 64 << 20

const unitTimeout = 60 * time.Second

// Work types of the in-process nodes. "zero" is cheap to produce, so that
// the command is never the bottleneck.
var (
	typeTrue = work.CommandType{WorkType: "true", Command: "true"}
	typeZero = func(n int64) work.CommandType {
		return work.CommandType{WorkType: "zero", Command: "head", Params: fmt.Sprintf("-c %d /dev/zero", n)}
	}
)

// workNode gives an in-process node work units and a control service, as
// meshd does: served on the mesh as "control" (where remote units are
// submitted) and on a Unix socket (the client's way in).
type workNode struct {
	sock  string
	dial  Dialer
	close func()
}

func startWorkNode(n *mesh.Node, dir string, types ...work.CommandType) (*workNode, error) {
	m, err := work.New(work.Config{NodeID: n.NodeID(), DataDir: dir, Types: types, Dialer: n, Logger: QuietLogger()})
	if err != nil {
		return nil, err
	}
	srv := ctlsock.NewServer(n, ctlsock.Options{Logger: QuietLogger()})
	srv.Register("work", ctlsock.WorkHandler(m))
	closers := []func(){m.Close, func() { srv.Close() }}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	ml, err := n.ListenStream("control", &mesh.Advert{ConnType: mesh.ConnTypeStream, Tags: map[string]string{"type": "Control Service"}})
	if err != nil {
		closeAll()
		return nil, err
	}
	closers = append(closers, func() { ml.Close() })
	go srv.Serve(ml)
	sock := filepath.Join(dir, n.NodeID()+".sock")
	ln, err := ctlsock.ListenUnix(sock, 0o600)
	if err != nil {
		closeAll()
		return nil, err
	}
	closers = append(closers, func() { ln.Close() })
	go srv.Serve(ln)
	return &workNode{sock: sock, dial: UnixDialer(sock), close: closeAll}, nil
}

// workChain is a chain of n in-process nodes where n1 (the submitter) and
// nN (the executor) run work units; n1 has types1, nN typesN.
func workChain(tb testing.TB, n int, types1, typesN []work.CommandType) (first, last *workNode) {
	nodes, closeNodes, err := Chain(n, setupTimeout)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(closeNodes)
	dir := tb.TempDir()
	first, err = startWorkNode(nodes[0], dir, types1...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(first.close)
	last = first
	if n > 1 {
		if last, err = startWorkNode(nodes[n-1], dir, typesN...); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(last.close)
	}
	return first, last
}

// runChecked runs one unit, checks its output size and final state, and
// releases it.
func runChecked(tb testing.TB, dial Dialer, node, worktype string, want int64) UnitRun {
	tb.Helper()
	r, err := RunUnit(dial, node, worktype, nil, unitTimeout)
	if err == nil {
		err = r.CheckBytes(want)
	}
	if err == nil {
		_, err = dial.CheckUnit(r.UnitID, want, unitTimeout)
	}
	if err == nil {
		err = dial.Release(r.UnitID, unitTimeout)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// BenchmarkWorkLocalLatency is the submit-to-final-state latency of a
// trivial unit (`true`, empty payload) on one node, through its control
// socket: see RunUnit for the method. median-ns and p90-ns are of that
// latency; ns/op also counts opening the two sessions. Budget: median
// under 5 ms.
func BenchmarkWorkLocalLatency(b *testing.B) {
	n1, _ := workChain(b, 1, []work.CommandType{typeTrue}, nil)
	benchLatency(b, n1.dial, "n1")
}

// BenchmarkWorkRemoteLatency3Hops is BenchmarkWorkLocalLatency for a unit
// submitted on n1 to run on n4, three hops away. Budget: median under 20 ms.
func BenchmarkWorkRemoteLatency3Hops(b *testing.B) {
	n1, _ := workChain(b, 4, nil, []work.CommandType{typeTrue})
	benchLatency(b, n1.dial, "n4")
}

func benchLatency(b *testing.B, dial Dialer, node string) {
	runChecked(b, dial, node, "true", 0) // warm up
	var lat []time.Duration
	for b.Loop() {
		lat = append(lat, runChecked(b, dial, node, "true", 0).Done)
	}
	b.ReportMetric(float64(median(lat)), "median-ns")
	b.ReportMetric(float64(quantile(lat, 0.9)), "p90-ns")
}

// BenchmarkWorkRemoteOutput3Hops streams the 64 MiB output of a unit run
// on n4 (head -c 64MiB /dev/zero) to a `work results` client on n1, three
// hops away. One op is submit to last byte; MB/s counts the output.
// Compare with BenchmarkRawRelayFetch3Hops; the budget is at least 30% of
// it.
func BenchmarkWorkRemoteOutput3Hops(b *testing.B) {
	n1, _ := workChain(b, 4, nil, []work.CommandType{typeZero(workOutputBytes)})
	runChecked(b, n1.dial, "n4", "zero", workOutputBytes) // warm up
	b.SetBytes(workOutputBytes)
	cpu0 := processCPU()
	for b.Loop() {
		runChecked(b, n1.dial, "n4", "zero", workOutputBytes)
	}
	reportCPU(b, processCPU()-cpu0, int64(b.N)*workOutputBytes)
}

// BenchmarkRawRelayFetch3Hops is the baseline of
// BenchmarkWorkRemoteOutput3Hops: the same bytes read from a TCP source
// through three io.Copy relays (client -> relay1 -> relay2 -> relay3 ->
// source, standing for n1, n2, n3 and n4).
func BenchmarkRawRelayFetch3Hops(b *testing.B) {
	src, err := ListenSource()
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	rc, err := NewRelayChain(3, src.Addr().String(), CopySplice)
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	fetch := func() {
		c, err := net.DialTimeout("tcp", rc.Addr, setupTimeout)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(unitTimeout))
		if err := Fetch(c, workOutputBytes); err != nil {
			b.Fatal(err)
		}
	}
	fetch() // warm up
	b.SetBytes(workOutputBytes)
	cpu0 := processCPU()
	for b.Loop() {
		fetch()
	}
	reportCPU(b, processCPU()-cpu0, int64(b.N)*workOutputBytes)
}

// TestWorkHarness checks, with little data and no timing, the pieces the
// work benchmarks use: local and remote (3 hops) units through the control
// protocol, with their output, and the source behind a relay chain.
func TestWorkHarness(t *testing.T) {
	const out = 300_001
	n1, _ := workChain(t, 4, []work.CommandType{typeTrue}, []work.CommandType{typeTrue, typeZero(out)})
	if r := runChecked(t, n1.dial, "n1", "true", 0); r.Done <= 0 || r.Reply > r.Done {
		t.Fatalf("local run %+v", r)
	}
	runChecked(t, n1.dial, "n4", "true", 0)
	runChecked(t, n1.dial, "n4", "zero", out)
	if _, err := RunUnit(n1.dial, "n4", "nosuchtype", nil, unitTimeout); err == nil {
		t.Fatal("submit of an unknown work type: no error")
	}

	src, err := ListenSource()
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rc, err := NewRelayChain(3, src.Addr().String(), CopySplice)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for _, n := range []int64{0, out} {
		c, err := net.DialTimeout("tcp", rc.Addr, setupTimeout)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if err := Fetch(c, n); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if q := quantile([]time.Duration{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}, 0.9); q != 9 {
		t.Fatalf("p90 = %v", q)
	}
}

// quantile is the q-quantile of d (nearest rank).
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(len(s)-1, i))]
}
