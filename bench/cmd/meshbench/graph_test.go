package main

import (
	"math/rand/v2"
	"testing"
)

func TestRandomMesh(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		g, err := randomMesh(60, 2, 4, rng)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for v := range g.adj {
			if d := g.deg(v); d < 2 || d > 4 {
				t.Fatalf("seed %d: node %d has degree %d", seed, v, d)
			}
			for _, w := range g.adj[v] {
				if w == v || !g.has(w, v) {
					t.Fatalf("seed %d: bad edge %d-%d", seed, v, w)
				}
			}
		}
		if !g.connectedWithout(-1) {
			t.Fatalf("seed %d: not connected", seed)
		}
		k := g.killable()
		if len(k) == 0 {
			t.Fatalf("seed %d: no killable node", seed)
		}
		for _, v := range k {
			if !g.connectedWithout(v) {
				t.Fatalf("seed %d: killing %d partitions the mesh", seed, v)
			}
		}
	}
}

func TestKillableSkipsCutVertices(t *testing.T) {
	// Two triangles joined through node 2: 0-1-2-0 and 2-3-4-2.
	g := &graph{adj: make([][]int, 5)}
	for _, e := range [][2]int{{0, 1}, {1, 2}, {2, 0}, {2, 3}, {3, 4}, {4, 2}} {
		g.add(e[0], e[1])
	}
	for _, v := range g.killable() {
		if v == 2 {
			t.Fatal("cut vertex 2 listed as killable")
		}
	}
	if len(g.killable()) != 4 {
		t.Fatalf("killable = %v", g.killable())
	}
}

func TestQuantile(t *testing.T) {
	if m := medianF([]float64{3, 1, 2, 10}); m != 2.5 {
		t.Fatalf("medianF = %v", m)
	}
	if tcpListening(0) {
		t.Fatal("port 0 cannot be listening")
	}
}
