// Package conformance holds meshd's end-to-end scenarios: testscript files
// under testdata/script that start real meshd processes, link them into a
// mesh and talk to their control sockets as a user would.
//
// Everything lives in _test.go files; this package has no code of its own
// and must not grow any: it tests meshd from the outside, through its
// command line, its logs and its control protocol only. See README.md for
// the custom script commands.
package conformance
