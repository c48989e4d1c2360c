package mesh

import (
	"maps"
	"slices"
	"time"
)

// Connection types of a service advertisement, as receptor numbers them.
const (
	ConnTypeDatagram  = 0 // datagram service (ping, UDP proxies)
	ConnTypeStream    = 1 // reliable stream
	ConnTypeStreamTLS = 2 // reliable stream with an end-to-end TLS layer on top
)

// Status is a snapshot of what a node knows about the mesh, shaped like
// the fields of receptor's `status` reply that come from the mesh layer.
type Status struct {
	NodeID               string
	Connections          []Connection                  // direct links, sorted by NodeID
	RoutingTable         map[string]string             // destination -> next hop
	KnownConnectionCosts map[string]map[string]float64 // node -> neighbour -> cost
	Advertisements       []Advertisement               // every service of every known node
}

// Connection is one established link to a neighbour.
type Connection struct {
	NodeID string
	Cost   float64
}

// Advertisement is one service offered by one node. Time is the moment the
// originating node last advertised it, by the originator's clock (UTC).
type Advertisement struct {
	NodeID       string
	Service      string
	Time         time.Time
	ConnType     int
	Tags         map[string]string
	WorkCommands []WorkCommand
}

// WorkCommand is a work type a node's control service offers. The mesh only
// carries it inside advertisements; it knows nothing about work units.
type WorkCommand struct {
	WorkType string
	Secure   bool
}

// PingResult is the outcome of one ping (or one traceroute hop).
// Error is empty on success; otherwise it is receptor's problem text
// ("no route to node", "message expired", "timeout", ...). From and Time are
// set whenever some node answered, including a hop that reported an error.
type PingResult struct {
	From  string
	Time  time.Duration
	Error string
}

// Status returns a snapshot of the node's view of the mesh.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := Status{
		NodeID:               n.id,
		Connections:          []Connection{},
		RoutingTable:         map[string]string{},
		KnownConnectionCosts: map[string]map[string]float64{},
		Advertisements:       []Advertisement{},
	}
	for _, id := range slices.Sorted(maps.Keys(n.links)) {
		st.Connections = append(st.Connections, Connection{NodeID: id, Cost: n.links[id].cost})
	}
	rt := n.routes.Load()
	for dst, hop := range rt.hops {
		st.RoutingTable[dst] = hop
	}
	edges := n.edgesLocked()
	for _, id := range slices.Sorted(maps.Keys(n.lsdb)) {
		if id != n.id && rt.hops[id] == "" {
			continue // known but unreachable: its edges are history
		}
		costs := map[string]float64{}
		for nb, c := range edges[id] {
			costs[nb] = c
		}
		if len(costs) > 0 {
			st.KnownConnectionCosts[id] = costs
		}
	}
	now := time.Now().UTC()
	for _, id := range slices.Sorted(maps.Keys(n.lsdb)) {
		e := n.lsdb[id]
		t := time.Unix(0, e.lsa.Time).UTC()
		services := e.lsa.Services
		if id == n.id {
			// Like receptor, this node's own services come from its live
			// registry (an LSA may still be on its way), stamped now.
			t, services = now, n.ownServicesLocked()
		}
		for _, s := range services {
			ad := Advertisement{NodeID: id, Service: s.Name, Time: t, ConnType: int(s.ConnType), Tags: s.Tags, WorkCommands: []WorkCommand{}}
			if ad.Tags == nil {
				ad.Tags = map[string]string{}
			}
			for _, w := range s.WorkCommands {
				ad.WorkCommands = append(ad.WorkCommands, WorkCommand{WorkType: w.WorkType, Secure: w.Secure})
			}
			st.Advertisements = append(st.Advertisements, ad)
		}
	}
	return st
}
