package conformance

import (
	"net"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdFreeport reserves TCP ports on 127.0.0.1:
//
//	freeport VAR...
//
// sets each VAR to a port that was free a moment ago: the ports are bound
// together (so they differ) and released before the command returns. Some
// other process may take one in between; that small race is accepted.
func cmdFreeport(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: freeport VAR...")
	}
	lns := make([]net.Listener, 0, len(args))
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for _, name := range args {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		lns = append(lns, ln)
		setenv(ts, name, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
}
