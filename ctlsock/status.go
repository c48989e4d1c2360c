package ctlsock

import (
	"context"
	"errors"
	"runtime"
	"time"

	"meshd/mesh"
)

// statusFields are the keys of a full status reply; receptorctl's own tests
// check this exact set.
var statusFields = []string{
	"Advertisements", "Connections", "KnownConnectionCosts", "NodeID",
	"RoutingTable", "SystemCPUCount", "SystemMemoryMiB", "Version",
}

// meshFields need a mesh.Status snapshot.
var meshFields = map[string]bool{
	"Advertisements": true, "Connections": true, "KnownConnectionCosts": true, "RoutingTable": true,
}

// advertisementJSON fixes receptor's field order and the Time format
// (RFC 3339 with nanoseconds, UTC "Z").
type advertisementJSON struct {
	NodeID       string
	Service      string
	Time         string
	ConnType     int
	Tags         map[string]string
	WorkCommands []mesh.WorkCommand
}

// status answers "status" and {"command":"status","requested_fields":[...]}.
func (s *Server) status(_ context.Context, _ *Session, req Request) (any, error) {
	fields, err := requestedFields(req)
	if err != nil {
		return nil, err
	}
	return s.statusReply(fields), nil
}

func requestedFields(req Request) ([]string, error) {
	if !req.IsJSON() {
		if req.Params != "" {
			return nil, errors.New("status command does not take parameters")
		}
		return statusFields, nil
	}
	v, ok := req.JSON["requested_fields"]
	if !ok {
		return statusFields, nil
	}
	list, ok := v.([]any)
	if !ok {
		// receptor panics here and the whole node dies (spec §7).
		return nil, errors.New("requested_fields must be a list of strings")
	}
	fields := make([]string, 0, len(list))
	for _, e := range list {
		f, ok := e.(string)
		if !ok {
			return nil, errors.New("each element of requested_fields must be a string")
		}
		fields = append(fields, f)
	}
	return fields, nil
}

// statusReply builds the reply with the known fields among those asked
// for; unknown names are dropped. The mesh is asked only if needed: every
// receptorctl call starts by asking for the Version alone.
func (s *Server) statusReply(fields []string) map[string]any {
	out := make(map[string]any, len(fields))
	var st *mesh.Status
	for _, f := range fields {
		if meshFields[f] && st == nil {
			snap := s.mesh.Status()
			st = &snap
		}
		if v, ok := s.statusField(f, st); ok {
			out[f] = v
		}
	}
	return out
}

func (s *Server) statusField(name string, st *mesh.Status) (any, bool) {
	switch name {
	case "NodeID":
		return s.mesh.NodeID(), true
	case "Version":
		return s.opts.Version, true
	case "SystemCPUCount":
		return runtime.NumCPU(), true
	case "SystemMemoryMiB":
		return systemMemoryMiB(), true
	case "Connections":
		return nonNilSlice(st.Connections), true
	case "RoutingTable":
		return nonNilMap(st.RoutingTable), true
	case "KnownConnectionCosts":
		return knownCosts(st.KnownConnectionCosts), true
	case "Advertisements":
		return advertisements(st.Advertisements), true
	}
	return nil, false
}

// The helpers below turn nil into [] and {}: receptor sends null in places
// and AWX iterates these values, so meshd never does.

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func nonNilMap[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

func knownCosts(in map[string]map[string]float64) map[string]map[string]float64 {
	out := make(map[string]map[string]float64, len(in))
	for node, peers := range in {
		out[node] = nonNilMap(peers)
	}
	return out
}

func advertisements(in []mesh.Advertisement) []advertisementJSON {
	out := make([]advertisementJSON, 0, len(in))
	for _, a := range in {
		out = append(out, advertisementJSON{
			NodeID:       a.NodeID,
			Service:      a.Service,
			Time:         a.Time.UTC().Format(time.RFC3339Nano),
			ConnType:     a.ConnType,
			Tags:         nonNilMap(a.Tags),
			WorkCommands: nonNilSlice(a.WorkCommands),
		})
	}
	return out
}
