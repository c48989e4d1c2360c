package ctlsock

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// Request is one parsed command line.
type Request struct {
	// Command is the command name: token 0 lowercased in the text form,
	// the "command" value verbatim (case-sensitive) in the JSON form.
	Command string
	// Params is the text form's argument string: everything after the first
	// space, possibly empty. Commands split it themselves, on single spaces,
	// as receptor does. Empty in the JSON form.
	Params string
	// JSON is the decoded object of the JSON form, "command" included;
	// nil in the text form. Numbers decode as float64, as in receptor.
	JSON map[string]any
}

// IsJSON reports whether the request came in the JSON form.
func (r Request) IsJSON() bool { return r.JSON != nil }

// ErrEmptyLine is returned by ParseRequest for a line that is empty once
// every "\r" is dropped. Such lines get no reply at all.
var ErrEmptyLine = errors.New("empty line")

// Errors of the JSON form, worded as receptor words them.
var (
	errNoCommand        = errors.New("JSON did not contain a command")
	errCommandNotString = errors.New("command must be a string")
)

// ParseRequest parses one command line, without or with its final "\n".
// Every "\r" is dropped first, wherever it is (receptor reads "sta\rtus" as
// "status"). A line starting with '{' is the JSON form; any other line is
// split at its first space. An error other than ErrEmptyLine is a JSON form
// that is invalid or has no string "command": receptor answers it with
// "ERROR: <err>" followed by "ERROR: Unknown command".
//
// ParseRequest is pure: it keeps no reference to line.
func ParseRequest(line []byte) (Request, error) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	if bytes.IndexByte(line, '\r') >= 0 {
		line = bytes.ReplaceAll(line, []byte("\r"), nil)
	}
	if len(line) == 0 {
		return Request{}, ErrEmptyLine
	}
	if line[0] == '{' {
		return parseJSON(line)
	}
	cmd, params, _ := strings.Cut(string(line), " ")
	return Request{Command: strings.ToLower(cmd), Params: params}, nil
}

func parseJSON(line []byte) (Request, error) {
	var obj map[string]any
	if err := json.Unmarshal(line, &obj); err != nil {
		return Request{}, err
	}
	v, ok := obj["command"]
	if !ok {
		return Request{}, errNoCommand
	}
	cmd, ok := v.(string)
	if !ok {
		return Request{}, errCommandNotString
	}
	return Request{Command: cmd, JSON: obj}, nil
}
