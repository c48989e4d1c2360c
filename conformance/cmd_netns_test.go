package conformance

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
)

const netnsUsage = `netns add VAR...
netns link NS1 ADDR1/PREFIX NS2 ADDR2/PREFIX
netns cut NS1 NS2
netns mend NS1 NS2`

// testSubnet is the only address range netns links may use: addresses that
// exist only inside the namespaces a script creates.
var testSubnet = netip.MustParsePrefix("10.213.0.0/16")

// netnsState is what the netns command remembers for one script.
type netnsState struct {
	names []string   // namespaces this script created
	links []vethPair // veth pairs created
}

// vethPair is one wire: interface ifA in namespace nsA, ifB in nsB.
type vethPair struct{ nsA, ifA, nsB, ifB string }

func netnsOf(ts *testscript.TestScript) *netnsState { return &stateOf(ts).netns }

// cmdNetns builds a private network out of namespaces (needs root; gate
// the script with [!netns] skip):
//
//	netns add VAR...
//
// creates one network namespace per VAR, named meshd-<random>, with its
// loopback up, and sets VAR to its name. The namespaces are deleted when
// the script ends (after its nodes are killed).
//
//	netns link NS1 ADDR1/PREFIX NS2 ADDR2/PREFIX
//
// joins two of those namespaces with a veth pair and gives each end its
// address. Addresses must lie in 10.213.0.0/16, a range that exists only
// inside the script's namespaces.
//
//	netns cut NS1 NS2
//	netns mend NS1 NS2
//
// sets both ends of the wire between NS1 and NS2 down (packets vanish, no
// connection is reset: peers notice only by their own timeouts) or up again.
func cmdNetns(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage:\n%s", netnsUsage)
	}
	switch args[0] {
	case "add":
		netnsAdd(ts, args[1:])
	case "link":
		netnsLink(ts, args[1:])
	case "cut":
		netnsSetWire(ts, args[1:], "down")
	case "mend":
		netnsSetWire(ts, args[1:], "up")
	default:
		ts.Fatalf("unknown netns subcommand %q; usage:\n%s", args[0], netnsUsage)
	}
}

func netnsAdd(ts *testscript.TestScript, vars []string) {
	if len(vars) == 0 {
		ts.Fatalf("usage: netns add VAR...")
	}
	ns := netnsOf(ts)
	for _, v := range vars {
		name := "meshd-" + randomSuffix()
		ts.Check(runIP(ts, "netns", "add", name))
		ns.names = append(ns.names, name)
		ts.Defer(func() {
			if err := runIP(ts, "netns", "delete", name); err != nil {
				ts.Logf("cleanup: %v", err)
			}
		})
		ts.Check(runIP(ts, "-n", name, "link", "set", "lo", "up"))
		setenv(ts, v, name)
	}
	// Nodes started later must die before their namespaces go: the node
	// cleanup has to be registered after the namespace deletions (defers
	// run last-in, first-out).
	registerNodeCleanup(ts)
}

func netnsLink(ts *testscript.TestScript, args []string) {
	const usage = "netns link NS1 ADDR1/PREFIX NS2 ADDR2/PREFIX"
	if len(args) != 4 {
		ts.Fatalf("usage: %s", usage)
	}
	ns := netnsOf(ts)
	for _, name := range []string{args[0], args[2]} {
		if !slices.Contains(ns.names, name) {
			ts.Fatalf("netns link: %s is not a namespace this script created with `netns add`", name)
		}
	}
	for _, a := range []string{args[1], args[3]} {
		p, err := netip.ParsePrefix(a)
		if err != nil || !p.Addr().Is4() || !testSubnet.Contains(p.Addr()) || p.Bits() < testSubnet.Bits() {
			ts.Fatalf("netns link: %s: want an address/prefix inside %s", a, testSubnet)
		}
	}
	k := len(ns.links) + 1
	w := vethPair{nsA: args[0], ifA: fmt.Sprintf("mv%da", k), nsB: args[2], ifB: fmt.Sprintf("mv%db", k)}
	ts.Check(runIP(ts, "link", "add", "name", w.ifA, "netns", w.nsA, "type", "veth", "peer", "name", w.ifB, "netns", w.nsB))
	ns.links = append(ns.links, w)
	for _, end := range [][3]string{{w.nsA, w.ifA, args[1]}, {w.nsB, w.ifB, args[3]}} {
		ts.Check(runIP(ts, "-n", end[0], "addr", "add", end[2], "dev", end[1]))
		ts.Check(runIP(ts, "-n", end[0], "link", "set", end[1], "up"))
	}
}

// netnsSetWire sets both ends of the wire between two namespaces up or down.
func netnsSetWire(ts *testscript.TestScript, args []string, state string) {
	if len(args) != 2 {
		ts.Fatalf("usage: netns cut|mend NS1 NS2")
	}
	for _, w := range netnsOf(ts).links {
		if (w.nsA == args[0] && w.nsB == args[1]) || (w.nsA == args[1] && w.nsB == args[0]) {
			ts.Check(runIP(ts, "-n", w.nsA, "link", "set", w.ifA, state))
			ts.Check(runIP(ts, "-n", w.nsB, "link", "set", w.ifB, state))
			return
		}
	}
	ts.Fatalf("netns: no wire between %s and %s (make one with `netns link`)", args[0], args[1])
}

// runIP runs the ip command of the script's PATH.
func runIP(ts *testscript.TestScript, args ...string) error {
	ip, err := lookPath(ts, "ip")
	if err != nil {
		return err
	}
	out, err := exec.Command(ip, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func randomSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

var netnsProbe = sync.OnceValue(func() bool {
	if os.Geteuid() != 0 {
		return false
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		return false
	}
	name := "meshd-probe-" + randomSuffix()
	if exec.Command(ip, "netns", "add", name).Run() != nil {
		return false
	}
	defer exec.Command(ip, "netns", "delete", name).Run()
	return exec.Command(ip, "-n", name, "link", "add", "name", "pa", "type", "veth", "peer", "name", "pb").Run() == nil
})

// netnsAvailable is the [netns] condition: running as root, and ip can
// create a namespace with a veth pair in it. Probed once per test binary.
func netnsAvailable() bool { return netnsProbe() }
