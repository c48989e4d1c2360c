package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"meshd/ctlclient"
)

// `meshd ctl work submit`: the request receptorctl sends, byte for byte
// (receptor-control.md §3.2 submit_work, §3.3), then the payload, the
// half-close, and optionally --follow and --rm.

func (r *ctlRun) workSubmit(args []string) error {
	fs := r.flags("work submit")
	node := fs.String("node", "", `node to run the unit on (default "localhost", this node)`)
	var payload ctlPayload
	for _, f := range []struct{ name, short, usage string }{
		{"payload", "p", "file holding the payload; - for stdin"},
		{"payload-literal", "l", "TEXT followed by a newline is the payload"},
		{"no-payload", "n", "send an empty payload"},
	} {
		fs.Var(ctlPayloadFlag{&payload, f.name}, f.name, f.usage)
		fs.Var(ctlPayloadFlag{&payload, f.name}, f.short, "same as --"+f.name)
	}
	params := &ctlParams{vals: map[string]string{}}
	fs.Var(params, "param", "KEY=VALUE work parameter (repeatable); VALUE @FILE sends the file's contents")
	fs.Var(params, "a", "same as --param")
	ttl := fs.String("ttl", "", "remote units only: how long the unit may wait to start (e.g. 30m)")
	signwork := fs.Bool("signwork", false, "ask the node to sign the remote submit")
	follow := fs.Bool("follow", false, "stream the unit's output, then check its state")
	fs.BoolVar(follow, "f", false, "same as --follow")
	rm := fs.Bool("rm", false, "release the unit afterwards")
	words, err := ctlWords(fs, args, 1, -1, "WORKTYPE (--payload FILE | --payload - | --payload-literal TEXT | --no-payload) [--node NODE] [--param K=V]... [--ttl DURATION] [--signwork] [--follow] [--rm] [ARGS...]")
	if err != nil {
		return err
	}
	switch len(payload.given) {
	case 0:
		return ctlUsagef("work submit: give one of --payload, --no-payload or --payload-literal")
	case 1:
	default:
		return ctlUsagef("work submit: give only one of --payload, --no-payload and --payload-literal")
	}
	if *ttl != "" {
		if _, err := time.ParseDuration(*ttl); err != nil {
			return ctlUsagef("work submit: --ttl: %v", err)
		}
	}
	req, err := submitRequest(words[0], *node, *ttl, *signwork, params, words[1:])
	if err != nil {
		return fmt.Errorf("work submit: %w", err)
	}
	in, closeIn, err := payload.open(r.stdin)
	if err != nil {
		return fmt.Errorf("work submit: %w", err)
	}
	defer closeIn()
	if *rm && !*follow {
		fmt.Fprintln(r.stderr, "Warning: using --rm without --follow. Unit results will never be seen.")
	}
	reply, err := r.submit(pyJSONObject(req), in)
	if err != nil {
		return err
	}
	if !*follow {
		fmt.Fprintf(r.stdout, "Result: %s\nUnit ID: %s\n", oneLine(reply.Result), oneLine(reply.UnitID))
	} else {
		err = r.followUnit(reply.UnitID, 0)
	}
	if *rm {
		if rerr := r.releaseUnit(reply.UnitID); rerr != nil {
			if err == nil {
				return rerr
			}
			fmt.Fprintf(r.stderr, "meshd ctl: %v\n", rerr)
		}
	}
	return err
}

// submit sends the request and the payload on a new connection.
func (r *ctlRun) submit(req string, payload io.Reader) (ctlclient.SubmitReply, error) {
	c, err := r.dial()
	if err != nil {
		return ctlclient.SubmitReply{}, err
	}
	defer c.Close()
	reply, err := c.SubmitLine(req, payload)
	var remote *ctlclient.RemoteError
	switch {
	case err != nil && reply.UnitID != "" && errors.As(err, &remote):
		return reply, fmt.Errorf("work submit: unit %s: %w", reply.UnitID, err)
	case err != nil:
		return reply, fmt.Errorf("work submit: %w", err)
	}
	return reply, nil
}

// releaseUnit releases a unit on a new connection, for --rm.
func (r *ctlRun) releaseUnit(id string) error {
	c, err := r.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	return r.workOnUnit(c, "release", id)
}

// ctlPair is one key of a submit request; receptorctl's keys are ordered.
type ctlPair struct{ key, value string }

// submitRequest builds receptorctl's submit object: command, subcommand,
// node, worktype, then ttl and signwork when given, then the parameters
// in the order first given. ARGS are appended, space-separated, to the
// "params" parameter. A parameter may not repeat a key already present,
// and a value "@FILE" (not "@@...") is replaced by the file's contents.
func submitRequest(worktype, node, ttl string, signwork bool, params *ctlParams, args []string) ([]ctlPair, error) {
	if node == "" {
		node = "localhost"
	}
	req := []ctlPair{{"command", "work"}, {"subcommand", "submit"}, {"node", node}, {"worktype", worktype}}
	if ttl != "" {
		req = append(req, ctlPair{"ttl", ttl})
	}
	if signwork {
		req = append(req, ctlPair{"signwork", "true"})
	}
	if len(args) > 0 {
		all := args
		if v, ok := params.vals["params"]; ok {
			all = append([]string{v}, args...)
		}
		params.set("params", strings.Join(all, " "))
	}
	for _, k := range params.keys {
		for _, p := range req {
			if p.key == k {
				return nil, fmt.Errorf("duplicate or reserved parameter %q", k)
			}
		}
		v := params.vals[k]
		if file, ok := strings.CutPrefix(v, "@"); ok && !strings.HasPrefix(file, "@") {
			data, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("parameter %s: %w", k, err)
			}
			v = string(data)
		}
		req = append(req, ctlPair{k, v})
	}
	return req, nil
}

// pyJSONObject encodes pairs as Python's json.dumps does by default: ", "
// and ": " separators, everything outside printable ASCII escaped.
func pyJSONObject(pairs []ctlPair) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, p := range pairs {
		if i > 0 {
			b.WriteString(", ")
		}
		pyJSONString(&b, p.key)
		b.WriteString(": ")
		pyJSONString(&b, p.value)
	}
	b.WriteByte('}')
	return b.String()
}

func pyJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r >= 0x20 && r < 0x7f:
				b.WriteRune(r)
			case r > 0xffff:
				r1, r2 := utf16.EncodeRune(r)
				fmt.Fprintf(b, `\u%04x\u%04x`, r1, r2)
			default:
				fmt.Fprintf(b, `\u%04x`, r)
			}
		}
	}
	b.WriteByte('"')
}

// ctlParams collects --param KEY=VALUE in the order keys were first
// given; a repeated key takes the last value (as receptorctl's dict).
type ctlParams struct {
	keys []string
	vals map[string]string
}

func (p *ctlParams) String() string { return "" }

func (p *ctlParams) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("%q is not KEY=VALUE", kv)
	}
	p.set(k, v)
	return nil
}

func (p *ctlParams) set(k, v string) {
	if _, ok := p.vals[k]; !ok {
		p.keys = append(p.keys, k)
	}
	p.vals[k] = v
}

// ctlPayload is the payload choice of work submit; given counts the
// distinct options used, kind and arg are the last one.
type ctlPayload struct {
	given map[string]bool
	kind  string // "payload", "payload-literal" or "no-payload"
	arg   string
}

// open returns the payload reader (nil for none) and its closer.
func (p *ctlPayload) open(stdin io.Reader) (io.Reader, func(), error) {
	nop := func() {}
	switch {
	case p.kind == "no-payload":
		return nil, nop, nil
	case p.kind == "payload-literal":
		return strings.NewReader(p.arg + "\n"), nop, nil
	case p.arg == "-":
		return stdin, nop, nil
	}
	f, err := os.Open(p.arg)
	if err != nil {
		return nil, nil, fmt.Errorf("payload file: %w", err)
	}
	return f, func() { f.Close() }, nil
}

// ctlPayloadFlag is one of the flags that set a ctlPayload.
type ctlPayloadFlag struct {
	p    *ctlPayload
	kind string
}

func (f ctlPayloadFlag) String() string { return "" }

func (f ctlPayloadFlag) IsBoolFlag() bool { return f.kind == "no-payload" }

func (f ctlPayloadFlag) Set(v string) error {
	if f.IsBoolFlag() {
		on, err := strconv.ParseBool(v)
		if err != nil || !on {
			return err
		}
	}
	if f.p.given == nil {
		f.p.given = map[string]bool{}
	}
	f.p.given[f.kind] = true
	f.p.kind, f.p.arg = f.kind, v
	return nil
}
