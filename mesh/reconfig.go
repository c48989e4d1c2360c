package mesh

import (
	"errors"
	"fmt"
	"net"
)

// Changing a running node (configuration reload): listeners and peers come
// and go without touching the other links, and advertisements change in
// place.

// RemoveListener closes the link listener bound to addr, as AddListener
// returned it. Links already accepted on it stay up.
func (n *Node) RemoveListener(addr net.Addr) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, ln := range n.listeners {
		if ln.Addr().Network() == addr.Network() && ln.Addr().String() == addr.String() {
			n.listeners = append(n.listeners[:i], n.listeners[i+1:]...)
			return ln.Close()
		}
	}
	return fmt.Errorf("no link listener on %s", addr)
}

// RemovePeer stops dialing network/address (every AddPeer of it) and takes
// down the links those dials made.
func (n *Node) RemovePeer(network, address string) error {
	n.mu.Lock()
	key := peerKey(network, address)
	cancels := n.peers[key]
	delete(n.peers, key)
	n.mu.Unlock()
	if cancels == nil {
		return fmt.Errorf("no peer %s %s", network, address)
	}
	for _, cancel := range cancels {
		cancel()
	}
	return nil
}

// SetAdvert replaces how a local service is advertised (nil: not at all)
// and advertises the change at once.
func (n *Node) SetAdvert(name string, ad *Advert) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	s, ok := n.services[name]
	if !ok {
		return errors.New("no service " + name)
	}
	s.ad = ad
	n.scheduleOriginateLocked()
	return nil
}
