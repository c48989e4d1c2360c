package mesh

import (
	"container/heap"

	"meshd/wire"
)

// routeTable maps each reachable destination to the link of its next hop.
// It is immutable once published.
type routeTable struct {
	next map[string]*link
	hops map[string]string // destination -> next-hop node ID, for status
}

// edgesLocked returns the two-way links of the mesh: u->v with u's cost
// exists only when u lists v and v lists u. A dead node's stale LSA still
// lists its neighbours, but they no longer list it, so it drops out. This
// node's own edges come from its live links, not from its last LSA, so a
// link change counts at once, before the new LSA is built.
func (n *Node) edgesLocked() map[string]map[string]float64 {
	neighbors := func(u string) []wire.Neighbor {
		if u == n.id {
			own := make([]wire.Neighbor, 0, len(n.links))
			for id, l := range n.links {
				own = append(own, wire.Neighbor{NodeID: id, Cost: l.cost})
			}
			return own
		}
		if e := n.lsdb[u]; e != nil {
			return e.lsa.Neighbors
		}
		return nil
	}
	lists := func(u, v string) bool {
		for _, nb := range neighbors(u) {
			if nb.NodeID == v {
				return true
			}
		}
		return false
	}
	g := map[string]map[string]float64{}
	for u := range n.lsdb {
		for _, nb := range neighbors(u) {
			if !lists(nb.NodeID, u) {
				continue
			}
			if g[u] == nil {
				g[u] = map[string]float64{}
			}
			g[u][nb.NodeID] = nb.Cost
		}
	}
	return g
}

// recomputeLocked runs Dijkstra from this node and publishes the new
// routing table. Equal-cost ties go to the path whose first hop has the
// smaller ID, so the choice is deterministic.
func (n *Node) recomputeLocked() {
	n.recomputePending = false
	g := n.edgesLocked()
	dist := map[string]float64{n.id: 0}
	first := map[string]string{}
	done := map[string]bool{}
	pq := &distHeap{{node: n.id}}
	for pq.Len() > 0 {
		it := heap.Pop(pq).(distItem)
		if done[it.node] {
			continue
		}
		done[it.node] = true
		for v, c := range g[it.node] {
			if done[v] {
				continue
			}
			hop := first[it.node]
			if it.node == n.id {
				hop = v
			}
			d := it.dist + c
			old, seen := dist[v]
			if !seen || d < old || (d == old && hop < first[v]) {
				dist[v], first[v] = d, hop
				heap.Push(pq, distItem{node: v, dist: d})
			}
		}
	}
	rt := &routeTable{next: map[string]*link{}, hops: map[string]string{}}
	for dst, hop := range first {
		if l := n.links[hop]; l != nil {
			rt.next[dst] = l
			rt.hops[dst] = hop
		}
	}
	old := n.routes.Swap(rt)
	for dst := range old.next {
		if _, ok := rt.next[dst]; !ok {
			// Streams to a node we can no longer reach cannot recover.
			go func(dst string) {
				if n.nextHop(dst) == nil { // still gone: the route may have come back
					n.streams.resetNode(dst, "no route to node")
				}
			}(dst)
		}
	}
}

type distItem struct {
	node string
	dist float64
}

type distHeap []distItem

func (h distHeap) Len() int { return len(h) }
func (h distHeap) Less(i, j int) bool {
	if h[i].dist != h[j].dist {
		return h[i].dist < h[j].dist
	}
	return h[i].node < h[j].node
}
func (h distHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *distHeap) Push(x any)   { *h = append(*h, x.(distItem)) }
func (h *distHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
