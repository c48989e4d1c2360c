package ctlsock

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const (
	// pingTimeout is receptor's: a ping nobody answers fails with "timeout".
	pingTimeout = 10 * time.Second
	// tracerouteTimeout bounds a whole traceroute. Only one hop can time
	// out, since a timeout ends the trace, so it is one ping timeout plus
	// room for the quick replies of the hops before it.
	tracerouteTimeout = 2 * pingTimeout
)

// ping answers "ping <target>" and {"command":"ping","target":...}.
// A failed ping is a normal JSON reply with Success false, not an ERROR.
func (s *Server) ping(ctx context.Context, _ *Session, req Request) (any, error) {
	target, err := targetOf(req, "ping")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	res := s.mesh.Ping(ctx, s.resolve(target))
	if res.Error != "" {
		return map[string]any{"Success": false, "Error": res.Error}, nil
	}
	return map[string]any{
		"Success": true,
		"From":    res.From,
		"Time":    res.Time, // a Duration: integer nanoseconds
		"TimeStr": res.Time.String(),
	}, nil
}

// traceroute answers with one entry per hop, keyed "0", "1", ...
func (s *Server) traceroute(ctx context.Context, _ *Session, req Request) (any, error) {
	target, err := targetOf(req, "traceroute")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, tracerouteTimeout)
	defer cancel()
	hops := s.mesh.Traceroute(ctx, s.resolve(target))
	out := make(map[string]any, len(hops))
	for i, h := range hops {
		hop := map[string]any{"From": h.From, "Time": h.Time, "TimeStr": h.Time.String()}
		if h.Error != "" {
			hop["Error"] = h.Error
		}
		out[strconv.Itoa(i)] = hop
	}
	return out, nil
}

// targetOf reads the target of ping or traceroute: the whole argument
// string of the text form, or "target" of the JSON form.
func targetOf(req Request, cmd string) (string, error) {
	target := req.Params
	if req.IsJSON() {
		v, ok := req.JSON["target"]
		if !ok {
			return "", fmt.Errorf("no %s target", cmd)
		}
		if target, ok = v.(string); !ok {
			return "", fmt.Errorf("%s target must be string", cmd)
		}
	}
	if target == "" {
		return "", fmt.Errorf("no %s target", cmd)
	}
	return target, nil
}

// resolve maps receptor's alias "localhost" (any case) to this node.
func (s *Server) resolve(node string) string {
	if strings.EqualFold(node, "localhost") {
		return s.mesh.NodeID()
	}
	return node
}
