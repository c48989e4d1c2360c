package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"meshd/ctlclient"
)

// `meshd ctl`: a control-protocol client built in, so a host with only the
// meshd binary can drive a node the way receptorctl does. This file holds
// the dispatch, the flags and the mesh commands; ctl_work.go and
// ctl_submit.go the work commands; ctl_print.go the human-readable output.

const ctlUsage = `usage: meshd ctl [--socket ADDR] [--json] COMMAND [ARGS...]

Drives a node through its control service, as receptorctl does.
  --socket ADDR  a Unix socket path (or unix:PATH) or tcp:HOST:PORT; default
                 $MESHD_SOCKET, else $RECEPTORCTL_SOCKET, else ` + ctlDefaultSocket + `
  --json         print the node's replies as indented JSON
Flags may come before or after the command words.

commands:
  status                               node, version, connections, routes, services, work types
  ping NODE [--count 4] [--delay 1s]   one "Reply from NODE in TIME" line per ping
  traceroute NODE                      one "HOP: NODE in TIME" line per hop
  work submit WORKTYPE (--payload FILE | --payload - | --payload-literal TEXT | --no-payload)
          [--node NODE] [--param KEY=VALUE]... [--ttl DURATION] [--signwork]
          [--follow] [--rm] [ARGS...]
                                       submit a unit (on this node unless --node); ARGS, joined
                                       by spaces, become its "params"; --param KEY=@FILE sends
                                       the file's contents; --follow streams its output; --rm
                                       releases it afterwards (receptorctl's -p -l -n -a -f work too)
  work list [--unit ID]                one line per unit: ID, state, work type, stdout size, detail
  work status ID                       a unit's state
  work results ID [--startpos N]       stream a unit's output until it ends
  work cancel ID...                    stop units
  work release [--force] ID...         delete units (--force: even if a remote node is unreachable)

exit status: 0 done; 1 an error (connection, ERROR reply, failed unit);
2 bad usage, a failed ping or a failed traceroute hop.
`

// ctlDefaultSocket is where receptor's packages and AWX put the control
// socket.
const ctlDefaultSocket = "/var/run/receptor/receptor.sock"

// ctlDialTimeout bounds connecting and reading the greeting.
const ctlDialTimeout = 10 * time.Second

// ctlRun is one invocation of `meshd ctl`.
type ctlRun struct {
	socket string // control service address (ctlclient.Dial syntax)
	json   bool   // print replies as indented JSON
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// ctlUsageError is a bad command line: exit status 2.
type ctlUsageError struct{ msg string }

func (e ctlUsageError) Error() string { return e.msg }

func ctlUsagef(format string, args ...any) error {
	return ctlUsageError{fmt.Sprintf(format, args...)}
}

// ctlExit ends the command with a status whose reason is already printed.
type ctlExit int

func (e ctlExit) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// runCtl runs `meshd ctl ARGS...` and returns the exit status.
func runCtl(stdin io.Reader, stdout, stderr io.Writer, args []string) int {
	r := &ctlRun{socket: ctlSocketFromEnv(), stdin: stdin, stdout: stdout, stderr: stderr}
	fs := r.flags("ctl")
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		err = ctlUsageError{err.Error()}
	}
	if err == nil {
		err = r.dispatch(fs.Args())
	}
	var usageErr ctlUsageError
	var exit ctlExit
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, ctlUsage)
		return 0
	case errors.As(err, &exit):
		return int(exit)
	case errors.As(err, &usageErr):
		fmt.Fprintf(stderr, "meshd ctl: %v\n(meshd ctl -h prints the usage)\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "meshd ctl: %v\n", err)
		return 1
	}
}

// ctlSocketFromEnv is the default --socket.
func ctlSocketFromEnv() string {
	for _, env := range []string{"MESHD_SOCKET", "RECEPTORCTL_SOCKET"} {
		if v := os.Getenv(env); v != "" {
			return v
		}
	}
	return ctlDefaultSocket
}

func (r *ctlRun) dispatch(words []string) error {
	if len(words) == 0 {
		return ctlUsagef("no command given")
	}
	cmd, args := words[0], words[1:]
	switch cmd {
	case "status":
		return r.status(args)
	case "ping":
		return r.ping(args)
	case "traceroute":
		return r.traceroute(args)
	case "work":
		return r.work(args)
	case "help":
		return flag.ErrHelp
	}
	return ctlUsagef("unknown command %q", cmd)
}

// flags is a flag set holding the options every command word accepts.
// Parse errors are returned, never printed.
func (r *ctlRun) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&r.socket, "socket", r.socket, "control service address")
	fs.BoolVar(&r.json, "json", r.json, "print replies as JSON")
	return fs
}

// ctlParse parses flags placed anywhere among the words of a command and
// returns the words; "--" ends the flags.
func ctlParse(fs *flag.FlagSet, args []string) ([]string, error) {
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, ctlUsagef("%s: %v", fs.Name(), err)
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(words, rest...), nil
		}
		if len(rest) == 0 {
			return words, nil
		}
		words = append(words, rest[0])
		args = rest[1:]
	}
}

// ctlWords parses args and checks the number of words.
func ctlWords(fs *flag.FlagSet, args []string, lo, hi int, what string) ([]string, error) {
	words, err := ctlParse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(words) < lo || (hi >= 0 && len(words) > hi) {
		return nil, ctlUsagef("usage: meshd ctl %s %s", fs.Name(), what)
	}
	return words, nil
}

// dial opens a new control session.
func (r *ctlRun) dial() (*ctlclient.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ctlDialTimeout)
	defer cancel()
	return ctlclient.Dial(ctx, r.socket)
}

// command runs one command in a new session.
func (r *ctlRun) command(line string) ([]byte, error) {
	c, err := r.dial()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	reply, err := c.Command(line)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", line, err)
	}
	return reply, nil
}

// printJSON prints a reply indented by four spaces, as receptorctl does.
func (r *ctlRun) printJSON(raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "    "); err != nil {
		return fmt.Errorf("reply %q: %w", raw, err)
	}
	buf.WriteByte('\n')
	_, err := r.stdout.Write(buf.Bytes())
	return err
}

func (r *ctlRun) status(args []string) error {
	if _, err := ctlWords(r.flags("status"), args, 0, 0, ""); err != nil {
		return err
	}
	reply, err := r.command("status")
	if err != nil {
		return err
	}
	if r.json {
		return r.printJSON(reply)
	}
	return printStatus(r.stdout, reply)
}

// ctlPing is a ping reply (receptor-control.md §2.2) or a traceroute hop.
type ctlPing struct {
	Success bool
	From    string
	TimeStr string
	Error   string
}

func (r *ctlRun) ping(args []string) error {
	fs := r.flags("ping")
	count := fs.Int("count", 4, "number of pings")
	delay := ctlSeconds(time.Second)
	fs.Var(&delay, "delay", "wait between pings (a duration, or seconds)")
	words, err := ctlWords(fs, args, 1, 1, "NODE [--count N] [--delay DURATION]")
	if err != nil {
		return err
	}
	if *count < 1 {
		return ctlUsagef("ping: --count must be at least 1")
	}
	c, err := r.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	failed := false
	for i := range *count {
		if i > 0 {
			time.Sleep(time.Duration(delay))
		}
		reply, err := c.Command("ping " + words[0])
		if err != nil {
			return fmt.Errorf("ping %s: %w", words[0], err)
		}
		if r.json {
			r.printJSON(reply)
		}
		var p ctlPing
		if err := json.Unmarshal(reply, &p); err != nil {
			return fmt.Errorf("ping %s: reply %s: %w", words[0], reply, err)
		}
		if p.Success {
			if !r.json {
				fmt.Fprintf(r.stdout, "Reply from %s in %s\n", p.From, p.TimeStr)
			}
			continue
		}
		failed = true
		if p.From != "" && p.TimeStr != "" {
			fmt.Fprintf(r.stderr, "ERROR: %s from %s in %s\n", oneLine(p.Error), p.From, p.TimeStr)
		} else {
			fmt.Fprintf(r.stderr, "ERROR: %s\n", oneLine(p.Error))
		}
	}
	if failed {
		return ctlExit(2)
	}
	return nil
}

func (r *ctlRun) traceroute(args []string) error {
	words, err := ctlWords(r.flags("traceroute"), args, 1, 1, "NODE")
	if err != nil {
		return err
	}
	reply, err := r.command("traceroute " + words[0])
	if err != nil {
		return err
	}
	if r.json {
		return r.printJSON(reply)
	}
	return printTraceroute(r.stdout, r.stderr, reply)
}

// ctlSeconds is a --delay: a Go duration, or a number of seconds as
// receptorctl takes it.
type ctlSeconds time.Duration

func (s *ctlSeconds) String() string { return time.Duration(*s).String() }

func (s *ctlSeconds) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, serr := strconv.ParseFloat(v, 64)
		if serr != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
			return fmt.Errorf("%q is neither a duration nor a number of seconds", v)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < 0 {
		return fmt.Errorf("%q is negative", v)
	}
	*s = ctlSeconds(d)
	return nil
}
