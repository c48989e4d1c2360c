package wire

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if goroutines started by this package (handshake
// writers, test peers) outlive the tests, as wireguard-go's leak check does.
func TestMain(m *testing.M) {
	code := m.Run()
	if f := flag.Lookup("test.fuzz"); code == 0 && (f == nil || f.Value.String() == "") {
		if leaks := waitForLeaks(5 * time.Second); len(leaks) > 0 {
			fmt.Fprintf(os.Stderr, "%d leaked goroutines:\n\n%s\n", len(leaks), strings.Join(leaks, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

// waitForLeaks polls until no goroutine runs code of this package other
// than TestMain, or the deadline passes; it returns the survivors.
func waitForLeaks(d time.Duration) []string {
	deadline := time.Now().Add(d)
	for {
		leaks := packageGoroutines()
		if len(leaks) == 0 || time.Now().After(deadline) {
			return leaks
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func packageGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "meshd/wire.") && !strings.Contains(g, "meshd/wire.TestMain") {
			out = append(out, g)
		}
	}
	return out
}
