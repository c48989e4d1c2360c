package conformance

import (
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"meshd/cli"
)

// TestMain makes the test binary double as meshd: testscript puts a copy
// named "meshd" on each script's PATH, and running it ends up here.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) != "meshd" { // the test run itself, not a node
		defaultParallelism()
	}
	testscript.Main(m, map[string]func(){
		"meshd": func() { os.Exit(cli.Main(os.Args[1:])) },
	})
}

// TestScripts runs every scenario in testdata/script, in parallel.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "../testdata/script",
		Setup:               setupScript,
		Cmds:                scriptCommands(),
		Condition:           scriptCondition,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
	})
}

// scriptParallelism is how many scripts run at once unless -parallel says
// otherwise. Scripts spend their time waiting on timers (redial backoff,
// keepalive timeouts, rate-limited logs), not computing, so the default of
// GOMAXPROCS would leave 2 cores mostly idle and triple the wall time.
const scriptParallelism = 8

func defaultParallelism() {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", strconv.Itoa(max(scriptParallelism, runtime.GOMAXPROCS(0))))
	}
}

// scriptCommands is the table of custom commands, one file each.
func scriptCommands() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"node":     cmdNode,
		"ctl":      cmdCtl,
		"waitfor":  cmdWaitfor,
		"waitlog":  cmdWaitlog,
		"freeport": cmdFreeport,
		"jsonpath": cmdJSONPath,
		"netns":    cmdNetns,
		"relay":    cmdRelay,
	}
}

// scriptCondition answers the conditions testscript does not know.
func scriptCondition(cond string) (bool, error) {
	switch cond {
	case "netns":
		return netnsAvailable(), nil
	}
	return false, unknownCondition(cond)
}
