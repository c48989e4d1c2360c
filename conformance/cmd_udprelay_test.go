package conformance

import (
	"net"
	"strconv"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"meshd/internal/lossy"
)

const udpRelayUsage = `udprelay NAME PORTVAR TARGET [loss dup reorder delay jitter seed]`

// cmdUDPRelay starts a lossy UDP relay (internal/lossy) in front of a
// udp-listener:
//
//	udprelay NAME PORTVAR TARGET [LOSS DUP REORDER DELAY JITTER SEED]
//
// listens on a free 127.0.0.1 UDP port, sets PORTVAR to it and forwards
// datagrams to TARGET (host:port), dropping a LOSS fraction, duplicating a
// DUP fraction, holding back a REORDER fraction, delaying each by DELAY ±
// JITTER, on the seeded schedule SEED (defaults: 0 0 0 0s 0s 1). Point a
// udp-peer at it. The relay stops when the script ends.
func cmdUDPRelay(ts *testscript.TestScript, neg bool, args []string) {
	if neg || (len(args) != 3 && len(args) != 9) {
		ts.Fatalf("usage: %s", udpRelayUsage)
	}
	cfg := lossy.Config{Seed: 1}
	if len(args) == 9 {
		num := func(s string) float64 {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || f < 0 || f > 1 {
				ts.Fatalf("udprelay: %q is not a fraction in [0,1]", s)
			}
			return f
		}
		dur := func(s string) time.Duration {
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 {
				ts.Fatalf("udprelay: %q is not a duration", s)
			}
			return d
		}
		seed, err := strconv.ParseUint(args[8], 10, 64)
		ts.Check(err)
		cfg = lossy.Config{Loss: num(args[3]), Duplicate: num(args[4]), Reorder: num(args[5]),
			Delay: dur(args[6]), Jitter: dur(args[7]), Seed: seed}
	}
	r, err := lossy.New(args[2], cfg)
	ts.Check(err)
	ts.Defer(func() { r.Close() })
	_, port, err := net.SplitHostPort(r.Addr())
	ts.Check(err)
	ts.Setenv(args[1], port)
}
