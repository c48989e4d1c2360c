package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"meshd/bench"
)

// Budgets of the work phase (issue 3, point 9).
const (
	budgetWorkRatio     = 0.30
	budgetLocalLatency  = 5 * time.Millisecond
	budgetRemoteLatency = 20 * time.Millisecond
)

const unitTimeout = 60 * time.Second

// phaseWork measures work units on a 4-node chain of meshd processes,
// n1 - n2 - n3 - n4: the submitter n1 and the executor n4 are three hops
// apart.
//
//	work (a): the output of a unit on n4 (head -c N /dev/zero, a cheap
//	    producer next to the path's cost) streamed to a `work results`
//	    client on n1, from the submit line to the last byte, against the
//	    same bytes read from a TCP source through three relay processes;
//	work (b): submit-to-final-state latency of trivial units (`true`, empty
//	    payload) run on n1 itself;
//	work (c): the same for units submitted on n1 to run on n4.
//
// The latency method is bench.RunUnit's: two control sessions are opened
// and greeted first; the clock runs from writing the submit line to the end
// of the `work results` stream, which meshd ends exactly when the unit is
// final (and its output complete).
func (e *env) phaseWork() error {
	dir, err := e.sub("work")
	if err != nil {
		return err
	}
	const n = 4
	ports, err := freePorts(n)
	if err != nil {
		return err
	}
	total := e.cfg.workMiB << 20
	zero := fmt.Sprintf("params=-c %d /dev/zero", total)
	types := map[string][]string{
		"n1": {"--work-command", "worktype=true", "command=true"},
		"n4": {"--work-command", "worktype=true", "command=true",
			"--work-command", "worktype=zero", "command=head", zero},
	}
	var nodes []*proc
	var sock1, sock4 string
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("n%d", i+1)
		var peers []int
		if i > 0 {
			peers = ports[i-1 : i]
		}
		p, sock, err := e.startReady(dir, id, ports[i], peers, types[id]...)
		if err != nil {
			return err
		}
		nodes = append(nodes, p)
		switch id {
		case "n1":
			sock1 = sock
		case "n4":
			sock4 = sock
		}
	}
	k, err := dialCtl(sock1, 10*time.Second)
	if err != nil {
		return err
	}
	defer k.Close()
	if err := k.waitRoutes(20*time.Second, "n1's routes to n2..n4", func(rt map[string]string) bool { return len(rt) == n-1 }); err != nil {
		return err
	}
	if _, err := k.ping("n4", 10*time.Second); err != nil { // routed both ways
		return err
	}
	k4, err := dialCtl(sock4, 10*time.Second)
	if err != nil {
		return err
	}
	defer k4.Close()
	if err := k4.waitRoutes(20*time.Second, "n4's route to n1", func(rt map[string]string) bool { return rt["n1"] != "" }); err != nil {
		return err
	}

	d1 := bench.UnixDialer(sock1)
	run := func(node, wt string, want int64) (bench.UnitRun, error) {
		r, err := bench.RunUnit(d1, node, wt, nil, unitTimeout+time.Duration(want/2e6)*time.Second)
		if err == nil {
			err = r.CheckBytes(want)
		}
		if err == nil {
			_, err = d1.CheckUnit(r.UnitID, want, unitTimeout)
		}
		if err == nil {
			err = d1.Release(r.UnitID, unitTimeout)
		}
		return r, err
	}
	latency := func(node string, count int) ([]time.Duration, []time.Duration, error) {
		for i := 0; i < 3; i++ { // warm up
			if _, err := run(node, "true", 0); err != nil {
				return nil, nil, err
			}
		}
		var done, reply []time.Duration
		for i := 0; i < count; i++ {
			r, err := run(node, "true", 0)
			if err != nil {
				return nil, nil, fmt.Errorf("unit %d on %s: %v", i+1, node, err)
			}
			done = append(done, r.Done)
			reply = append(reply, r.Reply)
		}
		return done, reply, nil
	}

	// Work (b) and (c).
	local, localReply, err := latency("n1", e.cfg.workLocal)
	if err != nil {
		return err
	}
	progress("   local units:  median %s, p90 %s", msf(medianDur(local)), msf(quantile(local, 0.9)))
	remote, remoteReply, err := latency("n4", e.cfg.workRemote)
	if err != nil {
		return err
	}
	progress("   remote units: median %s, p90 %s", msf(medianDur(remote)), msf(quantile(remote, 0.9)))

	// Work (a): baselines are relay processes standing for n1, n2 and n3 in
	// front of a source standing for n4.
	_, srcAddr, err := e.startHelper(dir, "source", "source-tcp")
	if err != nil {
		return err
	}
	relayChain := func(mode bench.CopyMode) (string, error) {
		front := srcAddr
		for i := 3; i >= 1; i-- {
			if _, front, err = e.startHelper(dir, fmt.Sprintf("relay%d-%s", i, mode), "relay", "-to", front, "-mode", string(mode)); err != nil {
				return "", err
			}
		}
		return front, nil
	}
	spliceAddr, err := relayChain(bench.CopySplice)
	if err != nil {
		return err
	}
	userAddr, err := relayChain(bench.CopyUser)
	if err != nil {
		return err
	}
	fetch := func(addr string) (float64, error) {
		start := time.Now()
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(unitTimeout + time.Duration(total/2e6)*time.Second))
		if err := bench.Fetch(c, total); err != nil {
			return 0, err
		}
		return float64(total) / time.Since(start).Seconds() / 1e6, nil
	}
	var meshRate, spliceRate, userRate, cpuPerGiB, prodCPU []float64
	var tails, producer []time.Duration
	for round := 0; round < e.cfg.rounds; round++ {
		rate, err := fetch(spliceAddr)
		if err != nil {
			return fmt.Errorf("round %d, io.Copy relays: %v", round+1, err)
		}
		spliceRate = append(spliceRate, rate)

		cpu0 := make([]time.Duration, n)
		for i, p := range nodes {
			cpu0[i] = cpuOf(p)
		}
		// n4's runner (its child) runs head: their CPU is n4's
		// offspring's.
		prod0, _ := procOffspringCPU(nodes[n-1].pid)
		r, err := bench.RunUnit(d1, "n4", "zero", nil, unitTimeout+time.Duration(total/2e6)*time.Second)
		if err == nil {
			err = r.CheckBytes(total)
		}
		var st bench.UnitStatus
		if err == nil {
			st, err = d1.CheckUnit(r.UnitID, total, unitTimeout)
		}
		if err != nil {
			return fmt.Errorf("round %d, work results: %v", round+1, err)
		}
		perGiB := func(d time.Duration) time.Duration {
			return time.Duration(float64(d) * float64(1<<30) / float64(total))
		}
		var each []string
		var cpu time.Duration
		for i, p := range nodes {
			d := perGiB(cpuOf(p) - cpu0[i])
			cpu += d
			each = append(each, fmt.Sprintf("%s %.2f", p.name, d.Seconds()))
		}
		if prod1, err := procOffspringCPU(nodes[n-1].pid); err == nil {
			prodCPU = append(prodCPU, perGiB(prod1-prod0).Seconds())
			each = append(each, fmt.Sprintf("producer %.2f", prodCPU[len(prodCPU)-1]))
		}
		// When the producer finished: the last write to n4's copy of the
		// output (its unit's stdout file), before both units are released.
		var tail, prod time.Duration = -1, -1
		if fi, err := os.Stat(filepath.Join(dir, "n4", st.ExtraData.RemoteUnitID, "stdout")); err == nil {
			tail, prod = r.End().Sub(fi.ModTime()), fi.ModTime().Sub(r.Start)
		}
		if err := d1.Release(r.UnitID, unitTimeout); err != nil {
			return fmt.Errorf("round %d: %v", round+1, err)
		}
		rate = float64(total) / r.Done.Seconds() / 1e6
		meshRate = append(meshRate, rate)
		cpuPerGiB = append(cpuPerGiB, cpu.Seconds())
		tails, producer = append(tails, tail), append(producer, prod)

		urate, err := fetch(userAddr)
		if err != nil {
			return fmt.Errorf("round %d, user-copy relays: %v", round+1, err)
		}
		userRate = append(userRate, urate)
		progress("   round %d: work results %7.1f MB/s (producer done at %s, last byte %s later; %.2f CPU-s/GiB in n1..n4: %s), relays %7.1f MB/s io.Copy, %7.1f MB/s user copy",
			round+1, rate, msf(prod), msf(tail), cpu.Seconds(), strings.Join(each, ", "), spliceRate[round], urate)
	}

	m, s, u := medianF(meshRate), medianF(spliceRate), medianF(userRate)
	ratio := m / s
	e.add(row{fmt.Sprintf("work (a): results, 3 hops, %d MiB", e.cfg.workMiB), fmt.Sprintf("%.1f MB/s", m),
		fmt.Sprintf("%.1f MB/s io.Copy relays", s), fmt.Sprintf("%.2f (>= 0.30)", ratio), yesNo(ratio >= budgetWorkRatio)})
	e.add(row{"    same, vs user-copy relays (socat-like)", fmt.Sprintf("%.1f MB/s", m),
		fmt.Sprintf("%.1f MB/s user-copy relays", u), fmt.Sprintf("%.2f", m/u), "info"})
	e.add(row{"    last byte after the producer ended", msf(medianDur(tails)), "", "", "info"})
	e.add(row{"    CPU-s per GiB, n1..n4", fmt.Sprintf("%.2f s", medianF(cpuPerGiB)),
		fmt.Sprintf("producer (runner, head) %.2f s", medianF(prodCPU)), "", "info"})
	ml, mr := medianDur(local), medianDur(remote)
	e.add(row{fmt.Sprintf("work (b): submit to final, local (median of %d)", len(local)), msf(ml),
		"p90 " + msf(quantile(local, 0.9)), "< 5 ms", yesNo(ml < budgetLocalLatency)})
	e.add(row{fmt.Sprintf("work (c): submit to final, 3 hops (median of %d)", len(remote)), msf(mr),
		"p90 " + msf(quantile(remote, 0.9)), "< 20 ms", yesNo(mr < budgetRemoteLatency)})
	e.note("work (a): 4-node meshd chain n1-n2-n3-n4; a unit of `head -c %d /dev/zero` on n4 submitted on n1 (`work submit n4 zero`, empty payload); timed from writing the submit line on n1's control socket until the last byte of `work results` on n1 arrived (median of %d). The output crosses n4's unit stdout file, 3 mesh hops and n1's copy of the file. \"Producer ended\" is the mtime of n4's stdout file. Baseline: the same bytes from a TCP source process through 3 relay processes (standing for n1..n3), timed from the dial.",
		total, e.cfg.rounds)
	e.note("work (b), (c): `true` with an empty payload, submitted on n1 for n1 (local) or n4 (3 hops). Two control sessions are opened and greeted first; the clock runs from writing `work submit` to the end of `work results ID` on the second session, which meshd ends exactly when the unit is final. Each unit is checked Succeeded and released after its clock stops. Submit's own reply (\"Job Started\") came after median %s (local) / %s (3 hops).",
		msf(medianDur(localReply)), msf(medianDur(remoteReply)))
	return nil
}

// msf formats a duration in milliseconds with two decimals.
func msf(d time.Duration) string {
	if d < 0 {
		return "?"
	}
	return fmt.Sprintf("%.2f ms", float64(d)/1e6)
}
