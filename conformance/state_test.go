package conformance

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// scriptState is what the custom commands remember for one script: the
// nodes it started and the environment its processes get. Commands of one
// script run one after another, so it needs no lock; the per-node process
// watchers publish through channels.
type scriptState struct {
	envNames []string         // variables passed to started processes
	nodes    map[string]*node // by script-chosen name
	cleanup  bool             // node cleanup registered with ts.Defer
	netns    netnsState       // namespaces and links of the netns command
	relays   map[string]*relay
}

type stateKey struct{}

// setupScript gives every script its own state.
func setupScript(env *testscript.Env) error {
	st := &scriptState{nodes: map[string]*node{}, relays: map[string]*relay{}}
	for _, kv := range env.Vars {
		if name, _, ok := strings.Cut(kv, "="); ok {
			st.envNames = append(st.envNames, name)
		}
	}
	env.Values[stateKey{}] = st
	return nil
}

func stateOf(ts *testscript.TestScript) *scriptState {
	return ts.Value(stateKey{}).(*scriptState)
}

// setenv sets a script variable that started processes also inherit.
func setenv(ts *testscript.TestScript, name, value string) {
	st := stateOf(ts)
	ts.Setenv(name, value)
	for _, n := range st.envNames {
		if n == name {
			return
		}
	}
	st.envNames = append(st.envNames, name)
}

// processEnv is the environment of a started process: the script's
// variables at this moment (as testscript gives its own exec commands).
func processEnv(ts *testscript.TestScript) []string {
	st := stateOf(ts)
	env := make([]string, 0, len(st.envNames))
	for _, name := range st.envNames {
		env = append(env, name+"="+ts.Getenv(name))
	}
	return env
}

// newFlagSet returns a quiet flag set for a custom command; parseFlags
// turns its errors into script failures.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	fs.Usage = func() {}
	return fs
}

// parseFlags parses a custom command's flags, failing the script with the
// usage line on error.
func parseFlags(ts *testscript.TestScript, fs *flag.FlagSet, usage string, args []string) []string {
	if err := fs.Parse(args); err != nil {
		ts.Fatalf("%v\nusage: %s", err, usage)
	}
	return fs.Args()
}

// defaultTimeout bounds every wait unless a -timeout flag says otherwise.
const defaultTimeout = 10 * time.Second

// pollInterval is how often waits poll.
const pollInterval = 20 * time.Millisecond

func unknownCondition(cond string) error { return fmt.Errorf("unknown condition %q", cond) }
