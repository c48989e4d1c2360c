package mesh

import (
	"net"
	"testing"
	"time"
)

// TestRemovePeerAndListener: removing a peer entry takes its link down and
// stops redialing; removing a listener refuses new links but keeps the
// other links up.
func TestRemovePeerAndListener(t *testing.T) {
	a, b, c := testNode(t, "a"), testNode(t, "b"), testNode(t, "c")
	addrB := listen(t, b)
	lnC, err := c.AddListener(ListenerSpec{Network: "tcp", Address: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	a.AddPeer(PeerSpec{Network: "tcp", Address: addrB, Redial: true})
	a.AddPeer(PeerSpec{Network: "tcp", Address: lnC.String(), Redial: true})
	waitRoute(t, a, b)
	waitRoute(t, a, c)

	if err := a.RemovePeer("tcp", addrB); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "link a-b down", 10*time.Second, func() bool { return a.linkTo("b") == nil && b.linkTo("a") == nil })
	if a.linkTo("c") == nil {
		t.Fatal("removing peer b took down the link to c")
	}
	if err := a.RemovePeer("tcp", addrB); err == nil {
		t.Error("second RemovePeer succeeded")
	}
	// Longer than the first redial backoff: no redial happens.
	time.Sleep(3 * minBackoff)
	if a.linkTo("b") != nil {
		t.Error("a removed peer was redialed")
	}

	if err := c.RemoveListener(lnC); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", lnC.String(), time.Second); err == nil {
		t.Error("removed listener still accepts")
	}
	if a.linkTo("c") == nil {
		t.Error("removing c's listener took down the link accepted on it")
	}
	if err := c.RemoveListener(lnC); err == nil {
		t.Error("second RemoveListener succeeded")
	}
}

// TestSetAdvert: a changed advertisement reaches the other nodes.
func TestSetAdvert(t *testing.T) {
	a, b := testNode(t, "a"), testNode(t, "b")
	connect(t, a, b)
	waitRoute(t, a, b)
	ln, err := b.ListenStream("svc", &Advert{ConnType: ConnTypeStream, WorkCommands: []WorkCommand{{WorkType: "old"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	hasWork := func(wt string) bool {
		for _, ad := range a.Status().Advertisements {
			if ad.NodeID == "b" && ad.Service == "svc" && len(ad.WorkCommands) == 1 && ad.WorkCommands[0].WorkType == wt {
				return true
			}
		}
		return false
	}
	waitFor(t, "first advert", 10*time.Second, func() bool { return hasWork("old") })
	if err := b.SetAdvert("svc", &Advert{ConnType: ConnTypeStream, WorkCommands: []WorkCommand{{WorkType: "new", Secure: true}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "changed advert", 10*time.Second, func() bool { return hasWork("new") })
	if err := b.SetAdvert("nosuch", nil); err == nil {
		t.Error("SetAdvert of an unknown service succeeded")
	}
}
