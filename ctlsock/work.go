package ctlsock

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"meshd/work"
)

// workRequest is a parsed work command (receptor-control.md §2.6).
type workRequest struct {
	sub       string // lowercased subcommand
	unitID    string
	startpos  int64
	signature string
	submit    work.SubmitRequest
}

// Reserved keys of a JSON submit; every other key is a work parameter.
var submitReserved = map[string]bool{
	"command": true, "subcommand": true, "node": true, "worktype": true,
	"tlsclient": true, "ttl": true, "signwork": true, "signature": true,
}

// parseWork parses the text or JSON form of a work command, with
// receptor's error messages.
func parseWork(req Request) (workRequest, error) {
	if req.IsJSON() {
		return parseWorkJSON(req.JSON)
	}
	tok := strings.Split(req.Params, " ")
	w := workRequest{sub: strings.ToLower(tok[0])}
	switch w.sub {
	case "submit":
		// An empty node would make a remote unit that nothing can reach
		// and that the next start skips.
		if len(tok) < 3 || tok[1] == "" || tok[2] == "" {
			return w, errors.New("work submit requires a target node and work type")
		}
		w.submit.Node, w.submit.WorkType = tok[1], tok[2]
		w.submit.Params = map[string]string{}
		if len(tok) > 3 {
			w.submit.Params["params"] = strings.Join(tok[3:], " ")
		}
	case "list":
		if len(tok) > 1 {
			w.unitID = tok[1]
		}
	case "status", "cancel", "release", "force-release":
		if len(tok) < 2 {
			return w, fmt.Errorf("work %s requires a unit ID", w.sub)
		}
		if len(tok) > 2 {
			return w, fmt.Errorf("work %s does not take parameters after the unit ID", w.sub)
		}
		w.unitID = tok[1]
	case "results":
		if len(tok) < 2 {
			return w, errors.New("work results requires a unit ID")
		}
		if len(tok) > 3 {
			return w, errors.New("work results only takes a unit ID and optional start position")
		}
		w.unitID = tok[1]
		if len(tok) == 3 {
			pos, err := strconv.ParseInt(tok[2], 10, 64)
			if err != nil {
				return w, fmt.Errorf("error converting start position to integer: %w", err)
			}
			w.startpos = pos
		}
	default:
		return w, errors.New("bad command")
	}
	return w, nil
}

func parseWorkJSON(obj map[string]any) (workRequest, error) {
	var w workRequest
	sub, err := jsonField(obj, "subcommand")
	if err != nil {
		return w, err
	}
	w.sub = strings.ToLower(sub)
	switch w.sub {
	case "submit":
		return w, parseSubmitJSON(obj, &w.submit)
	case "list":
		if _, ok := obj["unitid"]; ok {
			if w.unitID, err = jsonField(obj, "unitid"); err != nil {
				return w, err
			}
		}
		return w, nil
	case "status", "cancel", "release", "force-release", "results":
	default:
		return w, errors.New("bad command")
	}
	if w.unitID, err = jsonField(obj, "unitid"); err != nil {
		return w, err
	}
	if _, ok := obj["signature"]; ok {
		if w.signature, err = jsonField(obj, "signature"); err != nil {
			return w, err
		}
	}
	if w.sub == "results" {
		if w.startpos, err = jsonInt(obj, "startpos"); err != nil {
			return w, err
		}
	}
	return w, nil
}

func parseSubmitJSON(obj map[string]any, s *work.SubmitRequest) error {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys) // receptor's map order is random; ours is stable
	str := make(map[string]string, len(obj))
	for _, k := range keys {
		v, ok := obj[k].(string)
		if !ok {
			return fmt.Errorf("submit parameters must all be strings and %s is not", k)
		}
		str[k] = v
	}
	var ok bool
	if s.Node, ok = str["node"]; !ok {
		return errors.New("field node missing")
	}
	if s.WorkType, ok = str["worktype"]; !ok {
		return errors.New("field worktype missing")
	}
	if s.Node == "" || s.WorkType == "" {
		return errors.New("work submit requires a target node and work type")
	}
	s.TLSClient, s.TTL, s.Signature = str["tlsclient"], str["ttl"], str["signature"]
	s.SignWork = str["signwork"] == "true"
	s.Params = map[string]string{}
	for k, v := range str {
		if !submitReserved[k] {
			s.Params[k] = v
		}
	}
	return nil
}

// jsonField is receptor's strFromMap.
func jsonField(obj map[string]any, name string) (string, error) {
	v, ok := obj[name]
	if !ok {
		return "", fmt.Errorf("field %s missing", name)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("field %s must be a string", name)
	}
	return s, nil
}

// jsonInt is receptor's intFromMap: only a JSON number converts (a numeric
// string does not, a quirk receptorctl never meets).
func jsonInt(obj map[string]any, name string) (int64, error) {
	v, ok := obj[name]
	if !ok {
		return 0, fmt.Errorf("field %s missing", name)
	}
	f, ok := v.(float64)
	// float64(math.MaxInt64) is 2^63, one past the largest int64.
	if !ok || math.IsNaN(f) || f >= math.MaxInt64 || f < math.MinInt64 {
		return 0, fmt.Errorf("field %s value %v is not convertible to an int", name, v)
	}
	return int64(f), nil
}

// WorkHandler returns the work command, backed by m.
func WorkHandler(m *work.Manager) Handler {
	return func(ctx context.Context, ss *Session, req Request) (any, error) {
		w, err := parseWork(req)
		if err != nil {
			return nil, err
		}
		auth := work.Auth{Signature: w.signature, Trusted: ss.RemoteAddr().Network() == "unix"}
		switch w.sub {
		case "submit":
			return workSubmit(ctx, m, ss, w.submit, auth.Trusted)
		case "list":
			return m.List(w.unitID)
		case "status":
			return m.Status(w.unitID)
		case "results":
			return workResults(ctx, m, ss, w, auth)
		case "cancel":
			pending, err := m.Cancel(ctx, w.unitID, auth)
			return oneKey(pending, "cancel pending", "cancelled", w.unitID), err
		default: // release, force-release
			pending, err := m.Release(ctx, w.unitID, w.sub == "force-release", auth)
			return oneKey(pending, "release pending", "released", w.unitID), err
		}
	}
}

// oneKey is a cancel or release reply: receptorctl prints its only item.
func oneKey(pending bool, ifPending, done, id string) map[string]string {
	if pending {
		return map[string]string{ifPending: id}
	}
	return map[string]string{done: id}
}

func workSubmit(ctx context.Context, m *work.Manager, ss *Session, req work.SubmitRequest, trusted bool) (any, error) {
	req.Trusted = trusted
	sub, err := m.Submit(req)
	if err != nil {
		return nil, err
	}
	// Whatever happens now, the payload ended the client's side: the
	// session closes after the reply, as receptor's does.
	ss.End()
	if _, err := ss.Write([]byte("Work unit created with ID " + sub.UnitID() + ". Send stdin data and EOF.\n")); err != nil {
		return nil, err
	}
	result, err := sub.Run(ctx, ss.Reader())
	if err != nil {
		return nil, err
	}
	return map[string]string{"result": result, "unitid": sub.UnitID()}, nil
}

func workResults(ctx context.Context, m *work.Manager, ss *Session, w workRequest, auth work.Auth) (any, error) {
	header := func() error {
		ss.End() // the stream ends the session
		_, err := ss.Write([]byte("Streaming results for work unit " + w.unitID + "\n"))
		return err
	}
	err := m.Results(ctx, w.unitID, w.startpos, auth, header, ss)
	if ss.ended {
		if err != nil {
			ss.log.Debug("work results: stream ended early", "unit", w.unitID, "err", err)
		}
		return nil, nil
	}
	return nil, err
}

// workUnavailable answers the work command of a server that has no work
// manager registered, so that users learn why instead of reading
// "Unknown command".
func workUnavailable(context.Context, *Session, Request) (any, error) {
	return nil, errors.New("work units are not available on this node")
}
