// Package cli is meshd's command line: it loads receptor-style
// configuration, starts a node (mesh, control service), and runs the
// auxiliary commands (demo, keygen). It holds no protocol logic itself.
package cli

import (
	"fmt"
	"os"
)

// Main runs meshd with the given arguments (without the program name) and
// returns the process exit status.
func Main(args []string) int {
	fmt.Fprintln(os.Stderr, "meshd: not implemented yet")
	return 2
}
