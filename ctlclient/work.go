package ctlclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
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
	if err := c.sendPayload(payload); err != nil {
		var remote *RemoteError
		if errors.As(err, &remote) {
			return reply, err
		}
		return reply, fmt.Errorf("unit %s: %w", id, err)
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

// sendPayload copies payload (nil: nothing) to the connection. If the
// node stops reading, its ERROR line, when it sent one, is the error.
func (c *Client) sendPayload(payload io.Reader) error {
	if payload == nil {
		return nil
	}
	src := &payloadReader{r: payload}
	_, err := io.Copy(c.conn, src)
	switch {
	case err == nil:
		return nil
	case src.err != nil:
		return fmt.Errorf("reading the payload: %w", src.err)
	}
	// A write failed: unless it timed out, the node closed or reset the
	// connection, so reading what it said last cannot block.
	var remote *RemoteError
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		if _, rerr := c.readReply(); errors.As(rerr, &remote) {
			return remote
		}
	}
	return c.fail(fmt.Errorf("sending the payload: %w", err))
}

// payloadReader remembers a read error of the payload, to tell it from a
// write error on the connection.
type payloadReader struct {
	r   io.Reader
	err error
}

func (p *payloadReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		p.err = err
	}
	return n, err
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
	// Past the bytes already buffered, read the connection directly: a
	// bulk stream through the small line buffer would cost a copy and many
	// small reads.
	buffered, _ := c.rd.Peek(c.rd.Buffered())
	return io.MultiReader(bytes.NewReader(buffered), c.conn), nil
}
