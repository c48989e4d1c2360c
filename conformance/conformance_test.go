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
	programs := map[string]func(){
		"meshd":   func() { os.Exit(cli.Main(os.Args[1:])) },
		"gendata": func() { os.Exit(gendataMain(os.Args[1:])) }, // cmd_data_test.go
	}
	if programs[filepath.Base(os.Args[0])] == nil { // the test run itself, not a program of a script
		defaultParallelism()
	}
	testscript.Main(m, programs)
}

// TestScripts runs every scenario in testdata/script, in parallel.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "../testdata/script",
		Setup:               setup,
		Cmds:                scriptCommands(),
		Condition:           scriptCondition,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
	})
}

// setup prepares each script: its state, and the clean-up of the work
// commands its nodes leave running.
func setup(env *testscript.Env) error {
	if err := setupScript(env); err != nil {
		return err
	}
	return setupWork(env)
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
		"udprelay": cmdUDPRelay,
		// work units: cmd_work_test.go, cmd_worksign_test.go, cmd_data_test.go
		"worksubmit":  cmdWorksubmit,
		"workresults": cmdWorkresults,
		"worksign":    cmdWorksign,
		"jsonvar":     cmdJSONVar,
		"genfile":     cmdGenfile,
		"sha256":      cmdSHA256,
		"alive":       cmdAlive,
		"parentpid":   cmdParentpid,
		"ctlseq":      cmdCtlseq,
		// service proxies: cmd_proxy_test.go
		"echoserver": cmdEchoserver,
		"echoclient": cmdEchoclient,
		"tlsctl":     cmdTLSCtl, // control-service tcptls: cmd_tlsctl_test.go
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
