// Package mesh is a meshd node: it manages links (dial, accept, backoff,
// duplicate resolution), floods signed link-state advertisements, computes
// routes with Dijkstra, forwards routed frames with a hop limit (subject to
// receptor-style firewall rules, firewall.go), and offers
// services addressed as (node, service): datagrams (ping, traceroute) and
// reliable end-to-end streams with credit-based flow control.
//
// Concurrency: Node.mu guards the link table, the link-state database and
// the service registry. The data path never takes it: each link has one
// reader and one writer goroutine, the routing table is an immutable map
// published through an atomic pointer, and streams have their own locks.
//
// mesh knows nothing about work units or the control protocol.
package mesh
