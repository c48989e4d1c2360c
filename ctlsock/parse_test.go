package ctlsock

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Request
		err  string
	}{
		{line: "status", want: Request{Command: "status"}},
		{line: "STATUS\r\n", want: Request{Command: "status"}},
		{line: "sta\rtus\n", want: Request{Command: "status"}},
		{line: "Ping node2", want: Request{Command: "ping", Params: "node2"}},
		{line: "connect node2 control ", want: Request{Command: "connect", Params: "node2 control "}},
		{line: "work  status x", want: Request{Command: "work", Params: " status x"}},
		{line: "   ", want: Request{Command: "", Params: "  "}},
		{line: "ÄBC x", want: Request{Command: "äbc", Params: "x"}},
		{line: `{"command":"ping","target":"node2"}`,
			want: Request{Command: "ping", JSON: map[string]any{"command": "ping", "target": "node2"}}},
		{line: `{"command": "STATUS", "n": 1.5}`,
			want: Request{Command: "STATUS", JSON: map[string]any{"command": "STATUS", "n": 1.5}}},
		{line: `{"command":"status"`, err: "unexpected end of JSON input"},
		{line: `{not json}`, err: "invalid character 'n' looking for beginning of object key string"},
		{line: `{"command":"status"} trailing`, err: "invalid character 't' after top-level value"},
		{line: `{}`, err: "JSON did not contain a command"},
		{line: `{"command":42}`, err: "command must be a string"},
		{line: `{"command":null}`, err: "command must be a string"},
		{line: "", err: ErrEmptyLine.Error()},
		{line: "\r\r\n", err: ErrEmptyLine.Error()},
	} {
		got, err := ParseRequest([]byte(tc.line))
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseRequest(%q) error = %v, want %q", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseRequest(%q) = %#v, %v; want %#v", tc.line, got, err, tc.want)
		}
	}
}

func TestParseRequestEmptyIsSentinel(t *testing.T) {
	if _, err := ParseRequest([]byte("\r")); !errors.Is(err, ErrEmptyLine) {
		t.Fatalf("got %v", err)
	}
}

func TestParseRequestDoesNotRetainLine(t *testing.T) {
	line := []byte("ping node2")
	req, _ := ParseRequest(line)
	copy(line, "XXXXXXXXXX")
	if req.Command != "ping" || req.Params != "node2" {
		t.Fatalf("request changed with its input: %#v", req)
	}
}
