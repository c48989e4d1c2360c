package bench

import (
	"context"
	"io"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	"meshd/mesh"
)

// opBytes is what one benchmark op moves: the sender writes this much and
// waits for the sink's ack, so every op's bytes have arrived when it ends.
// Both stream benchmarks use the same protocol, so the ack round trip
// (well under 1% of an op) weighs the same on both sides.
const opBytes = 4 << 20

const setupTimeout = 20 * time.Second

// BenchmarkStreamChain3 moves bytes through one mesh stream n1 -> n2 -> n3
// (in-process nodes, TLS links on 127.0.0.1) into a sink service on n3.
// Compare with BenchmarkRawRelayChain3; the budget is at least 50% of it.
func BenchmarkStreamChain3(b *testing.B) {
	nodes, closeAll, err := Chain(3, setupTimeout)
	if err != nil {
		b.Fatal(err)
	}
	defer closeAll()
	ln, err := MeshSink(nodes[2])
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	st, err := DialMesh(nodes[0], "n3", setupTimeout)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	runStream(b, st, nil)
}

// BenchmarkRawRelayChain3 is the baseline: the same bytes through plain
// io.Copy TCP relays of the same hops (client -> relay1 -> relay2 -> sink).
func BenchmarkRawRelayChain3(b *testing.B) { runRelayChain3(b, CopySplice) }

// runRelayChain3 streams through two relays of the given copy mode into a
// sink.
func runRelayChain3(b *testing.B, mode CopyMode) {
	sink, err := ListenSink()
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	rc, err := NewRelayChain(2, sink.Addr().String(), mode)
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	c, err := net.DialTimeout("tcp", rc.Addr, setupTimeout)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	runStream(b, c, nil)
}

// runStream times Sender ops over c; r, if not nil, is where the sink's
// acknowledgements are read (a control connection's buffered reader).
func runStream(b *testing.B, c net.Conn, r io.Reader) {
	s, err := NewSender(c, r, opBytes)
	if err != nil {
		b.Fatal(err)
	}
	// Warm up (window growth, buffers) outside the timed region.
	if err := s.Op(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(opBytes)
	cpu0 := processCPU()
	for b.Loop() {
		if err := s.Op(); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, processCPU()-cpu0, int64(b.N)*opBytes)
	if err := s.Finish(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPing1Hop is Node.Ping from n1 to its neighbour n2. ns/op is the
// wall time of a Ping call; median-ns is the median round trip Ping
// itself reports. Budget: median under 200 µs.
func BenchmarkPing1Hop(b *testing.B) { benchPing(b, 2) }

// BenchmarkPing5Hops is Node.Ping from n1 to n6 along a 6-node chain.
func BenchmarkPing5Hops(b *testing.B) { benchPing(b, 6) }

func benchPing(b *testing.B, n int) {
	nodes, closeAll, err := Chain(n, setupTimeout)
	if err != nil {
		b.Fatal(err)
	}
	defer closeAll()
	src, dst := nodes[0], nodes[n-1].NodeID()
	ping := func() time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r := src.Ping(ctx, dst)
		if r.Error != "" {
			b.Fatalf("ping %s: %s", dst, r.Error)
		}
		return r.Time
	}
	ping() // warm up
	var rtts []time.Duration
	for b.Loop() {
		rtts = append(rtts, ping())
	}
	b.ReportMetric(float64(median(rtts)), "median-ns")
}

// BenchmarkRawRoundTrip1Hop is a baseline for the pings: a 32-byte
// message echoed back over one loopback TCP connection.
func BenchmarkRawRoundTrip1Hop(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go ServeEcho(ln)
	c, err := net.DialTimeout("tcp", ln.Addr().String(), setupTimeout)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg, reply := make([]byte, 32), make([]byte, 32)
	if _, err := RoundTrip(c, msg, reply); err != nil {
		b.Fatal(err)
	}
	var rtts []time.Duration
	for b.Loop() {
		d, err := RoundTrip(c, msg, reply)
		if err != nil {
			b.Fatal(err)
		}
		rtts = append(rtts, d)
	}
	b.ReportMetric(float64(median(rtts)), "median-ns")
}

// processCPU is the CPU time (user+system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports CPU seconds per GiB moved: every hop, client and sink
// run in this process, so it is the whole path's cost.
func reportCPU(b *testing.B, cpu time.Duration, bytes int64) {
	if bytes > 0 {
		b.ReportMetric(cpu.Seconds()*float64(1<<30)/float64(bytes), "cpu-s/GiB")
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestBenchHarness checks, with little data and no timing, that the
// pieces the benchmarks use work: a mesh chain carries the sink protocol
// end to end, the relay chain does too, and pings cross the chain.
func TestBenchHarness(t *testing.T) {
	nodes, closeAll, err := Chain(3, setupTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	ln, err := MeshSink(nodes[2])
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	st, err := DialMesh(nodes[0], "n3", setupTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	checkSink(t, st)

	sink, err := ListenSink()
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	for _, mode := range []CopyMode{CopySplice, CopyUser} {
		rc, err := NewRelayChain(2, sink.Addr().String(), mode)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		c, err := net.DialTimeout("tcp", rc.Addr, setupTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		checkSink(t, c)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r := nodes[0].Ping(ctx, "n3"); r.Error != "" || r.From != "n3" {
		t.Fatalf("ping n3: %+v", r)
	}
	if m := median([]time.Duration{3, 1, 2}); m != 2 {
		t.Fatalf("median = %v", m)
	}
}

func checkSink(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	s, err := NewSender(c, nil, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := s.Op(); err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
	}
	if err := s.Write(1000); err != nil { // a tail without an ack
		t.Fatal(err)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if s.Sent() != 3*64<<10+1000 {
		t.Fatalf("sent %d", s.Sent())
	}
}

var _ net.Conn = (*mesh.Stream)(nil)

// BenchmarkRawRelayChain3User is BenchmarkRawRelayChain3 with relays that
// copy through a user-space buffer (as socat does) instead of splice(2).
func BenchmarkRawRelayChain3User(b *testing.B) { runRelayChain3(b, CopyUser) }

// BenchmarkStreamChain3Control is BenchmarkStreamChain3 entered the way
// scripts/bench and receptorctl do: through n1's control socket (a Unix
// socket served by ctlsock) with "connect n3 sink", which bridges the
// socket to the mesh stream.
func BenchmarkStreamChain3Control(b *testing.B) {
	nodes, closeAll, err := Chain(3, setupTimeout)
	if err != nil {
		b.Fatal(err)
	}
	defer closeAll()
	ln, err := MeshSink(nodes[2])
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	c, r, closeCtl, err := controlConnect(b.TempDir(), nodes[0], "n3")
	if err != nil {
		b.Fatal(err)
	}
	defer closeCtl()
	runStream(b, c, r)
}
