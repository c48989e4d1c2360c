package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"meshd/bench"
)

// Budgets from DESIGN.md, "Performance budget".
const (
	budgetBinary      = 10e6 // bytes
	budgetRSS         = 15e6 // bytes
	budgetCtlReady    = 30 * time.Millisecond
	budgetStreamRatio = 0.50
	budgetPing1Hop    = 200 * time.Microsecond
	budgetConverge    = time.Second
	budgetNeighbours  = 200 * time.Millisecond
	budgetRouteAround = time.Second
)

// phaseBinary reports the static binary's size.
func (e *env) phaseBinary() error {
	if e.cfg.static == "" {
		e.add(row{"static binary size", "not built (-static)", "", "< 10 MB", "-"})
		return nil
	}
	fi, err := os.Stat(e.cfg.static)
	if err != nil {
		return err
	}
	e.add(row{"static binary (CGO_ENABLED=0, -s -w)", mb(fi.Size()), "", "< 10 MB", yesNo(fi.Size() < budgetBinary)})
	return nil
}

// phaseIdle starts one node (listener and control socket, no peers) and
// measures how soon its control socket answers, then its RSS and CPU
// while idle.
func (e *env) phaseIdle() error {
	dir, err := e.sub("idle")
	if err != nil {
		return err
	}
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	sock := dir + "/idle.sock"
	start := time.Now()
	p, err := e.startMeshd(dir, "idle", ports[0], nil, sock)
	if err != nil {
		return err
	}
	k, err := dialCtl(sock, 10*time.Second)
	if err != nil {
		return fmt.Errorf("%v%s", err, p.logTail())
	}
	ready := time.Since(start)
	k.Close()
	e.add(row{"control socket answers after start", ms(ready), "", "< 30 ms", yesNo(ready < budgetCtlReady)})

	time.Sleep(e.cfg.idleWait)
	rss, err := procStatusKB(p.pid, "VmRSS")
	if err != nil {
		return err
	}
	c0, err := procCPU(p.pid)
	if err != nil {
		return err
	}
	time.Sleep(e.cfg.cpuWindow)
	c1, err := procCPU(p.pid)
	if err != nil {
		return err
	}
	if p.exited() {
		return fmt.Errorf("idle node exited%s", p.logTail())
	}
	e.add(row{"(d) RSS, idle node", mb(rss * 1024), "", "< 15 MB", yesNo(rss*1024 < budgetRSS)})
	pct := float64(c1-c0) / float64(e.cfg.cpuWindow) * 100
	e.add(row{"    CPU, idle node", fmt.Sprintf("%.2f%%", pct), "", "near zero", "info"})
	e.note("idle node: control socket timed from spawn (first start, creates its key); RSS after %v idle; CPU over %v in 10 ms ticks.", e.cfg.idleWait, e.cfg.cpuWindow)
	p.stop(2 * time.Second)
	return nil
}

// transfer moves total bytes over a connection from open into a sink,
// returning MB/s and the CPU the given processes used per GiB (in all,
// and each).
func transfer(open func() (net.Conn, io.Reader, error), total int64, cpuProcs []*proc) (float64, []time.Duration, error) {
	c, r, err := open()
	if err != nil {
		return 0, nil, err
	}
	defer c.Close()
	// Even a receptor-speed path (4 MB/s) finishes well inside this.
	c.SetDeadline(time.Now().Add(60*time.Second + time.Duration(total/2e6)*time.Second))
	cpu0 := make([]time.Duration, len(cpuProcs))
	for i, p := range cpuProcs {
		cpu0[i] = cpuOf(p)
	}
	start := time.Now()
	s, err := bench.NewSender(c, r, 0)
	if err != nil {
		return 0, nil, err
	}
	if err := s.Write(total); err != nil {
		return 0, nil, err
	}
	if err := s.Finish(); err != nil {
		return 0, nil, err
	}
	el := time.Since(start)
	perGiB := func(d time.Duration) time.Duration {
		return time.Duration(float64(d) * float64(1<<30) / float64(total))
	}
	cpu := make([]time.Duration, 1+len(cpuProcs))
	for i, p := range cpuProcs {
		cpu[i+1] = perGiB(cpuOf(p) - cpu0[i])
		cpu[0] += cpu[i+1]
	}
	return float64(total) / el.Seconds() / 1e6, cpu, nil
}

// phaseStream is (a): a 3-node chain n1 -> n2 -> n3 of processes, the
// stream opened through n1's control socket with "connect n3 sink",
// against relay chains of the same hops measured in the same run.
func (e *env) phaseStream() error {
	dir, err := e.sub("stream")
	if err != nil {
		return err
	}
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	n1, sock1, err := e.startReady(dir, "n1", ports[0], nil)
	if err != nil {
		return err
	}
	n2, _, err := e.startReady(dir, "n2", ports[1], ports[:1])
	if err != nil {
		return err
	}
	// meshd has no sink service, so n3 is this binary running the mesh
	// library with one (still a separate process, linked to n2 by TCP).
	n3, _, err := e.startHelper(dir, "n3", "sink-node", "-id", "n3", "-peer", fmt.Sprintf("127.0.0.1:%d", ports[1]))
	if err != nil {
		return err
	}
	k, err := dialCtl(sock1, 10*time.Second)
	if err != nil {
		return err
	}
	defer k.Close()
	if err := k.waitRoutes(20*time.Second, "n1's route to n3", func(rt map[string]string) bool { return rt["n3"] != "" }); err != nil {
		return err
	}
	if _, err := k.ping("n3", 10*time.Second); err != nil { // both directions routed
		return err
	}
	meshOpen := func() (net.Conn, io.Reader, error) {
		c, err := dialCtl(sock1, 10*time.Second)
		if err != nil {
			return nil, nil, err
		}
		c.c.SetDeadline(time.Now().Add(15 * time.Second))
		if _, err := c.c.Write([]byte("connect n3 " + bench.SinkService + "\n")); err != nil {
			c.Close()
			return nil, nil, err
		}
		line, err := c.r.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "Connecting" {
			c.Close()
			return nil, nil, fmt.Errorf("connect n3 sink: %q %v", line, err)
		}
		c.c.SetDeadline(time.Time{})
		return c.c, c.r, nil
	}

	sink, sinkAddr, err := e.startHelper(dir, "sink", "sink-tcp")
	if err != nil {
		return err
	}
	relayChain := func(mode bench.CopyMode) (string, []*proc, error) {
		r2, a2, err := e.startHelper(dir, "relay2-"+string(mode), "relay", "-to", sinkAddr, "-mode", string(mode))
		if err != nil {
			return "", nil, err
		}
		r1, a1, err := e.startHelper(dir, "relay1-"+string(mode), "relay", "-to", a2, "-mode", string(mode))
		if err != nil {
			return "", nil, err
		}
		return a1, []*proc{r1, r2, sink}, nil
	}
	spliceAddr, spliceProcs, err := relayChain(bench.CopySplice)
	if err != nil {
		return err
	}
	userAddr, userProcs, err := relayChain(bench.CopyUser)
	if err != nil {
		return err
	}
	tcpOpen := func(addr string) func() (net.Conn, io.Reader, error) {
		return func() (net.Conn, io.Reader, error) {
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			return c, c, err
		}
	}

	type series struct {
		rate []float64
		cpu  []time.Duration
	}
	var meshS, spliceS, userS series
	total := e.cfg.mib << 20
	for round := 0; round < e.cfg.rounds; round++ {
		for _, m := range []struct {
			name  string
			s     *series
			open  func() (net.Conn, io.Reader, error)
			procs []*proc
		}{
			{"relay (io.Copy)", &spliceS, tcpOpen(spliceAddr), spliceProcs},
			{"mesh", &meshS, meshOpen, []*proc{n1, n2, n3}},
			{"relay (user copy)", &userS, tcpOpen(userAddr), userProcs},
		} {
			rate, cpu, err := transfer(m.open, total, m.procs)
			if err != nil {
				return fmt.Errorf("round %d, %s: %v", round+1, m.name, err)
			}
			var each []string
			for i, p := range m.procs {
				each = append(each, fmt.Sprintf("%s %.2f", p.name, cpu[i+1].Seconds()))
			}
			progress("   round %d: %-18s %8.1f MB/s  %5.2f CPU-s/GiB (%s)", round+1, m.name, rate, cpu[0].Seconds(), strings.Join(each, ", "))
			m.s.rate = append(m.s.rate, rate)
			m.s.cpu = append(m.s.cpu, cpu[0])
		}
	}
	meshR, spliceR, userR := medianF(meshS.rate), medianF(spliceS.rate), medianF(userS.rate)
	ratio := meshR / spliceR
	what := fmt.Sprintf("(a) stream, 3-node chain of processes, via n1 control socket `connect` (median of %d x %d MiB)", e.cfg.rounds, e.cfg.mib)
	e.note("%s. n1, n2: meshd; n3: the mesh library in a helper process with a sink service (meshd has none). Relays: helper processes, io.Copy (splice) or a 32 KiB user-space copy.", what)
	e.add(row{"(a) stream, 3-node chain", fmt.Sprintf("%.1f MB/s", meshR), fmt.Sprintf("%.1f MB/s io.Copy relays", spliceR),
		fmt.Sprintf("%.2f (>= 0.50)", ratio), yesNo(ratio >= budgetStreamRatio)})
	e.add(row{"    same, vs user-copy relays (socat-like)", fmt.Sprintf("%.1f MB/s", meshR),
		fmt.Sprintf("%.1f MB/s user-copy relays", userR), fmt.Sprintf("%.2f", meshR/userR), "info"})
	e.add(row{"    CPU-s per GiB, 3 hop processes", fmt.Sprintf("%.2f s", medianDur(meshS.cpu).Seconds()),
		fmt.Sprintf("%.2f s io.Copy / %.2f s user", medianDur(spliceS.cpu).Seconds(), medianDur(userS.cpu).Seconds()), "", "info"})
	for _, p := range []*proc{n1, n2} {
		if rss, err := procStatusKB(p.pid, "VmHWM"); err == nil {
			e.add(row{fmt.Sprintf("    peak RSS of %s, busy", p.name), mb(rss * 1024), "", "(idle budget 15 MB)", "info"})
		}
	}
	return nil
}

// phasePing is (b): a 6-node chain of processes, pings from n1's control
// socket to n2 (1 hop) and n6 (5 hops), against TCP echo round trips over
// the same numbers of hops.
func (e *env) phasePing() error {
	dir, err := e.sub("ping")
	if err != nil {
		return err
	}
	const n = 6
	ports, err := freePorts(n)
	if err != nil {
		return err
	}
	var sock1 string
	for i := 0; i < n; i++ {
		var peers []int
		if i > 0 {
			peers = ports[i-1 : i]
		}
		_, sock, err := e.startReady(dir, fmt.Sprintf("n%d", i+1), ports[i], peers)
		if err != nil {
			return err
		}
		if i == 0 {
			sock1 = sock
		}
	}
	k, err := dialCtl(sock1, 10*time.Second)
	if err != nil {
		return err
	}
	defer k.Close()
	if err := k.waitRoutes(20*time.Second, "n1's routes to n2..n6", func(rt map[string]string) bool { return len(rt) == n-1 }); err != nil {
		return err
	}
	for i := 0; i < 5; i++ { // warm up both paths
		for _, t := range []string{"n2", "n6"} {
			if _, err := k.ping(t, 10*time.Second); err != nil {
				return err
			}
		}
	}
	var one, five []time.Duration
	for i := 0; i < e.cfg.pings; i++ {
		d, err := k.ping("n2", 10*time.Second)
		if err != nil {
			return err
		}
		one = append(one, d)
		if d, err = k.ping("n6", 10*time.Second); err != nil {
			return err
		}
		five = append(five, d)
	}

	// Baselines: a 32-byte echo through 0 and 4 relays.
	_, echoAddr, err := e.startHelper(dir, "echo", "echo")
	if err != nil {
		return err
	}
	front := echoAddr
	for i := 4; i >= 1; i-- {
		if _, front, err = e.startHelper(dir, fmt.Sprintf("relay%d", i), "relay", "-to", front); err != nil {
			return err
		}
	}
	rawRTT := func(addr string) ([]time.Duration, error) {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		msg, reply := make([]byte, 32), make([]byte, 32)
		var out []time.Duration
		for i := 0; i < e.cfg.pings+5; i++ {
			d, err := bench.RoundTrip(c, msg, reply)
			if err != nil {
				return nil, err
			}
			if i >= 5 {
				out = append(out, d)
			}
		}
		return out, nil
	}
	raw1, err := rawRTT(echoAddr)
	if err != nil {
		return err
	}
	raw5, err := rawRTT(front)
	if err != nil {
		return err
	}
	m1, m5 := medianDur(one), medianDur(five)
	e.note("(b) %d pings each way over a 6-node meshd chain, from n1's control socket; RTT is the node's own \"Time\". p90: %s (1 hop), %s (5 hops). Baseline: 32-byte TCP echo, direct and through 4 relay processes.",
		len(one), us(quantile(one, 0.9)), us(quantile(five, 0.9)))
	e.add(row{"(b) ping RTT median, 1 hop", us(m1),
		us(medianDur(raw1)) + " TCP echo", "< 200 µs", yesNo(m1 < budgetPing1Hop)})
	e.add(row{"(b) ping RTT median, 5 hops", us(m5),
		us(medianDur(raw5)) + " TCP echo via 4 relays", fmt.Sprintf("%.1f µs per hop", float64(m5)/5e3), "info"})
	return nil
}
