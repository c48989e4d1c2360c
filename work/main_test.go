package work

import (
	"os"
	"strings"
	"testing"
)

// TestMain makes the test binary a command runner when a Manager starts it
// as one (through /proc/self/exe, argv[1] = RunnerCommand), as meshd is.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == RunnerCommand {
		os.Exit(RunnerMain(os.Args[2:]))
	}
	// Under -race, a runner (this binary) would sleep a second before
	// exiting, and every unit would last that long.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	os.Exit(m.Run())
}
