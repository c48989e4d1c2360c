package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"

	"meshd/ctlclient"
)

// `meshd ctl work ...`: list, status, results, cancel, release (submit is
// in ctl_submit.go). The lines sent are receptorctl's text forms
// (receptor-control.md §3.3), except results, sent in the JSON form.

func (r *ctlRun) work(args []string) error {
	fs := r.flags("work")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return ctlUsagef("work: %v", err)
	}
	if fs.NArg() == 0 {
		return ctlUsagef("work: no subcommand given (submit, list, status, results, cancel, release)")
	}
	sub, rest := fs.Arg(0), fs.Args()[1:]
	switch sub {
	case "submit":
		return r.workSubmit(rest)
	case "list":
		return r.workList(rest)
	case "status":
		return r.workStatus(rest)
	case "results":
		return r.workResults(rest)
	case "cancel":
		return r.workOnUnits("cancel", rest)
	case "release":
		return r.workOnUnits("release", rest)
	}
	return ctlUsagef("work: unknown subcommand %q", sub)
}

func (r *ctlRun) workList(args []string) error {
	fs := r.flags("work list")
	unit := fs.String("unit", "", "only this unit")
	fs.StringVar(unit, "unit_id", "", "same as --unit (receptorctl's spelling)")
	if _, err := ctlWords(fs, args, 0, 0, "[--unit ID]"); err != nil {
		return err
	}
	line := "work list"
	if *unit != "" {
		line += " " + *unit
	}
	reply, err := r.command(line)
	if err != nil {
		return err
	}
	if r.json {
		return r.printJSON(reply)
	}
	return printWorkList(r.stdout, reply)
}

func (r *ctlRun) workStatus(args []string) error {
	words, err := ctlWords(r.flags("work status"), args, 1, 1, "ID")
	if err != nil {
		return err
	}
	reply, err := r.command("work status " + words[0])
	if err != nil {
		return err
	}
	if r.json {
		return r.printJSON(reply)
	}
	return printUnitStatus(r.stdout, words[0], reply)
}

func (r *ctlRun) workResults(args []string) error {
	fs := r.flags("work results")
	startpos := fs.Int64("startpos", 0, "first byte of the output to stream")
	words, err := ctlWords(fs, args, 1, 1, "ID [--startpos N]")
	if err != nil {
		return err
	}
	if *startpos < 0 {
		return ctlUsagef("work results: --startpos must not be negative")
	}
	return r.followUnit(words[0], *startpos)
}

// followUnit streams a unit's output to stdout until the node ends the
// stream, then, on a new connection, checks the unit's state as
// receptorctl does: a Failed unit prints its detail and exits 1.
func (r *ctlRun) followUnit(id string, startpos int64) error {
	if err := r.streamResults(id, startpos); err != nil {
		return err
	}
	reply, err := r.command("work status " + id)
	if err != nil {
		return err
	}
	var u ctlUnitStatus
	if err := json.Unmarshal(reply, &u); err != nil {
		return fmt.Errorf("work status %s: reply %s: %w", id, reply, err)
	}
	if u.State == 3 { // Failed
		fmt.Fprintf(r.stderr, "ERROR: Remote unit failed: %s\n", oneLine(u.Detail))
		return ctlExit(1)
	}
	return nil
}

// streamResults copies the unit's output from startpos to stdout.
func (r *ctlRun) streamResults(id string, startpos int64) error {
	c, err := r.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	out, err := c.Results(id, startpos, "")
	if err != nil {
		return fmt.Errorf("work results %s: %w", id, err)
	}
	// The node reads nothing more; receptorctl half-closes here too.
	if hc, ok := c.Conn().(interface{ CloseWrite() error }); ok {
		hc.CloseWrite()
	}
	if _, err := io.Copy(r.stdout, out); err != nil {
		return fmt.Errorf("work results %s: %w", id, err)
	}
	return nil
}

// workOnUnits cancels or releases units, one command each on one
// connection. A unit the node refuses is reported and the others go on.
func (r *ctlRun) workOnUnits(op string, args []string) error {
	fs := r.flags("work " + op)
	var force *bool
	usage := "ID..."
	if op == "release" {
		force = fs.Bool("force", false, "release even if a remote node cannot be reached")
		usage = "[--force] ID..."
	}
	ids, err := ctlWords(fs, args, 1, -1, usage)
	if err != nil {
		return err
	}
	header := "Cancelled:"
	if op == "release" {
		header = "Released:"
		if *force {
			op = "force-release"
		}
	}
	c, err := r.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	if !r.json {
		fmt.Fprintln(r.stdout, header)
	}
	failed := false
	for _, id := range ids {
		if err := r.workOnUnit(c, op, id); err != nil {
			var remote *ctlclient.RemoteError
			if !errors.As(err, &remote) {
				return err
			}
			fmt.Fprintf(r.stderr, "ERROR: %s: %s\n", oneLine(id), oneLine(remote.Msg))
			failed = true
		}
	}
	if failed {
		return ctlExit(1)
	}
	return nil
}

// workOnUnit sends `work OP ID` and prints the reply, e.g.
// {"cancelled":"ID"} as "(ID, cancelled)" like receptorctl.
func (r *ctlRun) workOnUnit(c *ctlclient.Client, op, id string) error {
	line := "work " + op + " " + id
	reply, err := c.Command(line)
	if err != nil {
		return fmt.Errorf("%s: %w", line, err)
	}
	if r.json {
		return r.printJSON(reply)
	}
	var res map[string]any
	if err := json.Unmarshal(reply, &res); err != nil || len(res) == 0 {
		return fmt.Errorf("%s: unexpected reply %s", line, reply)
	}
	for _, k := range slices.Sorted(maps.Keys(res)) {
		fmt.Fprintf(r.stdout, "(%s, %s)\n", oneLine(fmt.Sprint(res[k])), oneLine(k))
	}
	return nil
}
