package cli

import (
	"os"
	"strings"
	"testing"

	"meshd/work"
)

// TestMain lets this test binary serve as the command runner of the work
// units its nodes start: they re-execute /proc/self/exe as meshd does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == work.RunnerCommand {
		os.Exit(work.RunnerMain(os.Args[2:]))
	}
	// Under -race, a runner (this binary) would sleep a second before
	// exiting, and every unit would last that long.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	os.Exit(m.Run())
}
