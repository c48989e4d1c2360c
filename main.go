// Command meshd is a receptor-compatible work mesh in one static binary.
// Everything lives in package cli so that the conformance suite can run the
// very same entry point inside its test binary (testscript.Main).
package main

import (
	"os"

	"meshd/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
