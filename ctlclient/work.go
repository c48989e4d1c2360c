package ctlclient

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// SubmitReply is the final reply of a work submit (§2.6.1):
// {"result":"Job Started"|"Job Submitted","unitid":"<id>"}.
type SubmitReply struct{ Result, UnitID string }

// The line a submit gets before the payload (§1.5).
const (
	createdPrefix = "Work unit created with ID "
	createdSuffix = ". Send stdin data and EOF."
)

// The header before the bytes of a results stream (§2.6.5).
const streamingPrefix = "Streaming results for work unit "

// halfCloser is a connection whose write side can be closed alone
// (*net.TCPConn, *net.UnixConn, mesh streams).
type halfCloser interface{ CloseWrite() error }

// Submit sends a JSON work submit (req holds every key, all strings:
// command, subcommand, node, worktype, params...), expects
// "Work unit created with ID <id>. Send stdin data and EOF.", copies
// payload (nil sends nothing), half-closes the write side, and returns the
// parsed final line. An ERROR line at either point is a *RemoteError. If
// the unit was created and a later step failed, the reply still carries
// its UnitID. After Submit the session is over: the server closes it, and
// the caller closes the Client. A payload that fails to read ends the
// submit without the half-close; the server may still run the unit with
// the bytes it got once the caller closes the connection.
func (c *Client) Submit(req map[string]string, payload io.Reader) (SubmitReply, error) {
	line, err := json.Marshal(req)
	if err != nil {
		return SubmitReply{}, fmt.Errorf("encoding the submit: %w", err)
	}
	return c.SubmitLine(string(line), payload)
}

// SubmitLine is Submit with the request already encoded as one JSON
// object, e.g. in receptorctl's key order and spacing.
func (c *Client) SubmitLine(line string, payload io.Reader) (SubmitReply, error) {
	if c.err != nil {
		return SubmitReply{}, c.err
	}
	hc, ok := c.conn.(halfCloser)
	if !ok {
		return SubmitReply{}, fmt.Errorf("submit: a %T cannot half-close, which ends the payload", c.conn)
	}
	if strings.ContainsAny(line, "\n\r") {
		return SubmitReply{}, fmt.Errorf("submit %q: contains a line break", clip([]byte(line)))
	}
	defer c.fail(errSessionOver)
	if err := c.send(line); err != nil {
		return SubmitReply{}, err
	}
	first, err := c.readReply()
	if err != nil {
		return SubmitReply{}, err
	}
	id, ok := parseCreated(string(first))
	if !ok {
		return SubmitReply{}, fmt.Errorf("unexpected reply to submit: %q", clip(first))
	}
	reply := SubmitReply{UnitID: id}
	if payload != nil {
		if _, err := io.Copy(c.conn, payload); err != nil {
			return reply, fmt.Errorf("unit %s: sending the payload: %w", id, err)
		}
	}
	if err := hc.CloseWrite(); err != nil {
		return reply, fmt.Errorf("unit %s: half-closing after the payload: %w", id, err)
	}
	final, err := c.readReply()
	if err != nil {
		return reply, err
	}
	var r struct {
		Result string `json:"result"`
		UnitID string `json:"unitid"`
	}
	if err := json.Unmarshal(final, &r); err != nil || r.Result == "" || (r.UnitID != "" && r.UnitID != id) {
		return reply, fmt.Errorf("unit %s: unexpected reply after the payload: %q", id, clip(final))
	}
	reply.Result = r.Result
	return reply, nil
}

// parseCreated extracts the unit ID from the line a submit gets first.
func parseCreated(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, createdPrefix)
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, createdSuffix)
	return id, ok && id != ""
}

// Results sends {"command":"work","subcommand":"results","unitid":id,
// "startpos":pos[,"signature":sig]}, expects
// "Streaming results for work unit <id>", and returns a reader of the
// unit's stdout from startpos on, which ends when the server closes the
// connection. The caller may half-close first, as receptorctl does.
// After Results the session is over.
func (c *Client) Results(unitID string, startpos int64, signature string) (io.Reader, error) {
	if c.err != nil {
		return nil, c.err
	}
	req := map[string]any{"command": "work", "subcommand": "results", "unitid": unitID, "startpos": startpos}
	if signature != "" {
		req["signature"] = signature
	}
	line, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encoding the results command: %w", err)
	}
	defer c.fail(errSessionOver)
	if err := c.send(string(line)); err != nil {
		return nil, err
	}
	header, err := c.readReply()
	if err != nil {
		return nil, err
	}
	if string(header) != streamingPrefix+unitID {
		return nil, fmt.Errorf("unit %s: unexpected reply to results: %q", unitID, clip(header))
	}
	return c.rd, nil
}
