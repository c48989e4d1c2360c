package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Status polling: a node not yet in the wanted state is polled every
// pollFast, one already there every pollSlow (to confirm it stays there
// without loading the machine). Times are therefore upper bounds, at most
// about pollFast late.
const (
	pollFast = 20 * time.Millisecond
	pollSlow = 100 * time.Millisecond
)

// meshNode is one node of the convergence mesh.
type meshNode struct {
	id   string
	p    *proc
	sock string
	ctl  *ctl // owned by the node's poller while a watch runs
}

// watchResult is what a watch saw of one node.
type watchResult struct {
	since time.Time // start of its latest streak in the wanted state
	good  bool
	last  int    // routing table size at the last poll
	err   string // last poll error
}

// watch polls the status of nodes idx until cond holds for all of them at
// the same time, or timeout passes. It returns what it saw of each node.
func watch(nodes []*meshNode, idx []int, cond func(map[string]string) bool, timeout time.Duration) (map[int]*watchResult, bool) {
	var mu sync.Mutex
	res := map[int]*watchResult{}
	for _, i := range idx {
		res[i] = &watchResult{last: -1}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	deadline := time.Now().Add(timeout)
	for _, i := range idx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nd := nodes[i]
			for {
				select {
				case <-stop:
					return
				default:
				}
				if nd.ctl == nil {
					k, err := dialCtl(nd.sock, 5*time.Millisecond)
					if err != nil {
						mu.Lock()
						res[i].err = err.Error()
						mu.Unlock()
						if time.Now().After(deadline) {
							return
						}
						continue
					}
					nd.ctl = k
				}
				rt, err := nd.ctl.routes(5 * time.Second)
				now := time.Now()
				mu.Lock()
				r := res[i]
				if err != nil {
					r.err = err.Error()
					r.good = false
					nd.ctl.Close()
					nd.ctl = nil
				} else {
					r.last = len(rt)
					ok := cond(rt)
					if ok && !r.good {
						r.since = now
					}
					r.good = ok
				}
				wait := pollFast
				if r.good {
					wait = pollSlow
				}
				mu.Unlock()
				select {
				case <-stop:
					return
				case <-time.After(wait):
				}
			}
		}()
	}
	ok := false
	for time.Now().Before(deadline) && !ok {
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		ok = true
		for _, r := range res {
			ok = ok && r.good
		}
		mu.Unlock()
	}
	close(stop)
	wg.Wait()
	return res, ok
}

// latest is the latest streak start among results of idx, relative to t0.
func latest(res map[int]*watchResult, idx []int, t0 time.Time) time.Duration {
	var d time.Duration
	for _, i := range idx {
		d = max(d, res[i].since.Sub(t0))
	}
	return d
}

// describe summarises the nodes a watch did not see in the wanted state.
func describe(nodes []*meshNode, res map[int]*watchResult) string {
	var bad []string
	for i, r := range res {
		if !r.good {
			s := fmt.Sprintf("%s:%d routes", nodes[i].id, r.last)
			if r.err != "" {
				s += " (" + r.err + ")"
			}
			bad = append(bad, s)
		}
	}
	sort.Strings(bad)
	if len(bad) > 10 {
		bad = append(bad[:10], "...")
	}
	return fmt.Sprintf("%d nodes not there: %s", len(bad), strings.Join(bad, ", "))
}

// rssSampler records each process's peak sampled VmRSS.
type rssSampler struct {
	mu   sync.Mutex
	peak map[int]int64 // node index -> kB
	stop chan struct{}
	done chan struct{}
}

func sampleRSS(nodes []*meshNode, every time.Duration) *rssSampler {
	s := &rssSampler{peak: map[int]int64{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			for i, nd := range nodes {
				if nd.p.exited() {
					continue
				}
				if kb, err := procStatusKB(nd.p.pid, "VmRSS"); err == nil {
					s.mu.Lock()
					s.peak[i] = max(s.peak[i], kb)
					s.mu.Unlock()
				}
			}
			select {
			case <-s.stop:
				return
			case <-time.After(every):
			}
		}
	}()
	return s
}

func (s *rssSampler) finish() map[int]int64 {
	close(s.stop)
	<-s.done
	return s.peak
}

// phaseMesh is (c) and the mesh half of (d): nodes processes in a random
// connected mesh (2-4 links each), all started back to back; the time from
// the last start until every node routes to every other; then one node
// that is neither a leaf nor a cut vertex is killed by PID, and the time
// until every other node has dropped it, from its neighbours and from all.
func (e *env) phaseMesh() error {
	n := e.cfg.nodes
	dir, err := e.sub("mesh")
	if err != nil {
		return err
	}
	g, err := randomMesh(n, 2, 4, e.rng)
	if err != nil {
		return err
	}
	ports, err := freePorts(n)
	if err != nil {
		return err
	}
	edges, degs := 0, map[int]int{}
	for v := range g.adj {
		edges += g.deg(v)
		degs[g.deg(v)]++
	}
	progress("   %d nodes, %d links (degree 2: %d, 3: %d, 4: %d)", n, edges/2, degs[2], degs[3], degs[4])

	nodes := make([]*meshNode, n)
	defer func() {
		for _, nd := range nodes {
			if nd != nil && nd.ctl != nil {
				nd.ctl.Close()
			}
		}
	}()
	// Each link is dialed by the node started later, so that most dials
	// find their listener up; a dial that is refused anyway is part of
	// what meshd has to cope with.
	var lastStart time.Time
	driverCPU := selfCPU()
	firstStart := time.Now()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("n%d", i+1)
		var peers []int
		for _, j := range g.adj[i] {
			if j < i {
				peers = append(peers, ports[j])
			}
		}
		sock := filepath.Join(dir, id+".sock")
		p, err := e.startMeshd(dir, id, ports[i], peers, sock)
		if err != nil {
			return err
		}
		lastStart = time.Now()
		nodes[i] = &meshNode{id: id, p: p, sock: sock}
	}
	sampler := sampleRSS(nodes, 100*time.Millisecond)
	rssDone := false
	defer func() {
		if !rssDone {
			sampler.finish()
		}
	}()
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	res, ok := watch(nodes, all, func(rt map[string]string) bool { return len(rt) == n-1 }, 30*time.Second)
	if !ok {
		for _, nd := range nodes {
			if nd.p.exited() {
				return fmt.Errorf("%s exited%s", nd.id, nd.p.logTail())
			}
		}
		return fmt.Errorf("no convergence within 30s of the last start: %s", describe(nodes, res))
	}
	conv := latest(res, all, lastStart)
	var procsAll []*proc
	for _, nd := range nodes {
		procsAll = append(procsAll, nd.p)
	}
	cpu := cpuOf(procsAll...)
	progress("   spawning took %v; converged %v after the last start; nodes used %.2f CPU-s in all; driver used %.2f CPU-s",
		lastStart.Sub(firstStart).Round(time.Millisecond), conv.Round(time.Millisecond), cpu.Seconds(), (selfCPU() - driverCPU).Seconds())
	e.add(row{fmt.Sprintf("(c) %d-node mesh converges", n), ms(conv), "",
		"< 1 s", yesNo(conv < budgetConverge)})
	e.add(row{"    CPU of all nodes, spawn to converged", fmt.Sprintf("%.2f s", cpu.Seconds()), "", "", "info"})
	e.note("(c) %d nodes, %d links, seed %d; all spawned back to back (%v), each link dialed by the later node; converged = every RoutingTable has %d entries, timed from the last spawn. Status polled every %v per node.",
		n, edges/2, e.cfg.seed, lastStart.Sub(firstStart).Round(time.Millisecond), n-1, pollFast)

	// Let the mesh settle, confirm, then kill a node.
	time.Sleep(time.Second)
	if res, ok := watch(nodes, all, func(rt map[string]string) bool { return len(rt) == n-1 }, 10*time.Second); !ok {
		return fmt.Errorf("mesh did not stay converged: %s", describe(nodes, res))
	}
	cands := g.killable()
	if len(cands) == 0 {
		return fmt.Errorf("no node can be killed without partitioning the mesh")
	}
	v := cands[e.rng.IntN(len(cands))]
	victim := nodes[v].id
	var others, neigh []int
	for i := range nodes {
		if i != v {
			others = append(others, i)
		}
	}
	for _, j := range g.adj[v] {
		neigh = append(neigh, j)
	}
	if nodes[v].ctl != nil {
		nodes[v].ctl.Close()
		nodes[v].ctl = nil
	}
	var nbIDs []string
	for _, j := range neigh {
		nbIDs = append(nbIDs, nodes[j].id)
	}
	progress("   %s: killing %s (pid %d, links to %s)", time.Now().UTC().Format("15:04:05.000"), victim, nodes[v].p.pid, strings.Join(nbIDs, " "))
	clean := func(rt map[string]string) bool {
		if len(rt) != n-2 {
			return false
		}
		if _, ok := rt[victim]; ok {
			return false
		}
		for _, hop := range rt {
			if hop == victim {
				return false
			}
		}
		return true
	}
	t0 := time.Now()
	nodes[v].p.kill()
	res, ok = watch(nodes, others, clean, 30*time.Second)
	if !ok {
		return fmt.Errorf("routes still use %s 30s after it was killed: %s", victim, describe(nodes, res))
	}
	nb, everyone := latest(res, neigh, t0), latest(res, others, t0)
	e.add(row{fmt.Sprintf("(c) kill %s: its %d neighbours route around it", victim, g.deg(v)), ms(nb), "",
		"< 0.2 s", yesNo(nb < budgetNeighbours)})
	e.add(row{fmt.Sprintf("(c) kill %s: all %d others route around it", victim, n-1), ms(everyone), "",
		"< 1 s", yesNo(everyone < budgetRouteAround)})

	peaks := sampler.finish()
	rssDone = true
	var vals []float64
	var hwm int64
	for i := range nodes {
		vals = append(vals, float64(peaks[i])*1024)
		if i != v {
			if kb, err := procStatusKB(nodes[i].p.pid, "VmHWM"); err == nil {
				hwm = max(hwm, kb)
			}
		}
	}
	byDeg := map[int][]float64{}
	for i := range nodes {
		byDeg[g.deg(i)] = append(byDeg[g.deg(i)], vals[i])
	}
	var parts []string
	for d := 2; d <= 4; d++ {
		if len(byDeg[d]) > 0 {
			parts = append(parts, fmt.Sprintf("%d links: %s", d, mb(int64(medianF(byDeg[d])))))
		}
	}
	progress("   median peak RSS by degree: %s", strings.Join(parts, ", "))
	slices.Sort(vals)
	med, mx := medianF(vals), vals[len(vals)-1]
	e.add(row{fmt.Sprintf("(d) RSS, %d-node mesh, median node", n), mb(int64(med)), "",
		"< 15 MB", yesNo(med < budgetRSS)})
	e.note("(c) %s killed with SIGKILL by PID (not a cut vertex); done = RoutingTable has %d entries, none to or via %s.", victim, n-2, victim)
	e.note("(d) mesh RSS: per-node peak VmRSS sampled every 100 ms through (c); max VmHWM (kernel peak) %s; median peak by degree: %s.", mb(hwm*1024), strings.Join(parts, ", "))
	e.add(row{fmt.Sprintf("(d) RSS, %d-node mesh, max node", n), mb(int64(mx)), "",
		"< 15 MB", yesNo(mx < budgetRSS && float64(hwm*1024) < budgetRSS)})
	return nil
}

// selfCPU is the CPU time this driver has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
