package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// graph is an undirected graph on nodes 0..n-1.
type graph struct {
	adj [][]int // sorted neighbour lists
}

func (g *graph) n() int        { return len(g.adj) }
func (g *graph) deg(v int) int { return len(g.adj[v]) }

func (g *graph) has(a, b int) bool { return slices.Contains(g.adj[a], b) }

func (g *graph) add(a, b int) {
	g.adj[a] = append(g.adj[a], b)
	g.adj[b] = append(g.adj[b], a)
}

// randomMesh returns a random connected graph on n nodes in which every
// node has between minDeg and maxDeg neighbours: a random tree with bounded
// degree, then extra edges towards a random target degree per node.
func randomMesh(n, minDeg, maxDeg int, rng *rand.Rand) (*graph, error) {
	if n < minDeg+1 {
		return nil, fmt.Errorf("%d nodes cannot all have %d neighbours", n, minDeg)
	}
	for attempt := 0; attempt < 1000; attempt++ {
		g := &graph{adj: make([][]int, n)}
		target := make([]int, n)
		for i := range target {
			target[i] = minDeg + rng.IntN(maxDeg-minDeg+1)
		}
		ok := true
		for i := 1; i < n && ok; i++ {
			var cand []int
			for j := 0; j < i; j++ {
				if g.deg(j) < maxDeg {
					cand = append(cand, j)
				}
			}
			if len(cand) == 0 {
				ok = false
				break
			}
			g.add(i, cand[rng.IntN(len(cand))])
		}
		for _, i := range rng.Perm(n) {
			if !ok {
				break
			}
			for g.deg(i) < target[i] {
				limit := func(j int) int { return target[j] }
				if g.deg(i) < minDeg {
					limit = func(int) int { return maxDeg }
				}
				var cand []int
				for j := 0; j < n; j++ {
					if j != i && !g.has(i, j) && g.deg(j) < limit(j) {
						cand = append(cand, j)
					}
				}
				if len(cand) == 0 {
					if g.deg(i) < minDeg {
						ok = false
					}
					break
				}
				g.add(i, cand[rng.IntN(len(cand))])
			}
		}
		if !ok {
			continue
		}
		for v := range g.adj {
			if g.deg(v) < minDeg || g.deg(v) > maxDeg {
				ok = false
			}
			slices.Sort(g.adj[v])
		}
		if ok && g.connectedWithout(-1) {
			return g, nil
		}
	}
	return nil, fmt.Errorf("no %d-node graph with degrees %d..%d found", n, minDeg, maxDeg)
}

// connectedWithout reports whether the graph minus node skip (-1: none) is
// connected.
func (g *graph) connectedWithout(skip int) bool {
	start := 0
	if skip == 0 {
		start = 1
	}
	seen := make([]bool, g.n())
	seen[start] = true
	stack := []int{start}
	count := 1
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, w := range g.adj[v] {
			if w != skip && !seen[w] {
				seen[w] = true
				count++
				stack = append(stack, w)
			}
		}
	}
	want := g.n()
	if skip >= 0 {
		want--
	}
	return count == want
}

// killable lists nodes with at least two neighbours whose removal leaves
// the rest connected (not cut vertices).
func (g *graph) killable() []int {
	var out []int
	for v := range g.adj {
		if g.deg(v) >= 2 && g.connectedWithout(v) {
			out = append(out, v)
		}
	}
	return out
}
