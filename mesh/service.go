package mesh

import (
	"crypto/rand"
	"errors"
	"fmt"
	"maps"

	"meshd/wire"
)

// Advert is how a service presents itself in advertisements (receptor's
// ConnType, Tags and, for control services, WorkCommands).
type Advert struct {
	ConnType     int
	Tags         map[string]string
	WorkCommands []WorkCommand
}

func (a *Advert) wire(name string) wire.ServiceAd {
	s := wire.ServiceAd{Name: name, ConnType: uint8(a.ConnType), Tags: maps.Clone(a.Tags)}
	for _, w := range a.WorkCommands {
		s.WorkCommands = append(s.WorkCommands, wire.WorkCommandAd{WorkType: w.WorkType, Secure: w.Secure})
	}
	return s
}

// service is a registered local service: a datagram endpoint or a stream
// listener, advertised or not.
type service struct {
	name string
	ad   *Advert
	pc   *PacketConn
	sl   *Listener
}

// reservedServices are handled by the node itself.
var reservedServices = map[string]bool{"ping": true}

// register adds a service; an advertised one triggers a new LSA at once.
func (n *Node) register(s *service) error {
	if err := wire.CheckName("service name", s.name); err != nil {
		return err
	}
	if reservedServices[s.name] {
		return fmt.Errorf("service name %q is reserved", s.name)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errors.New("node is closed")
	}
	if _, ok := n.services[s.name]; ok {
		return fmt.Errorf("service %q is already in use", s.name)
	}
	n.services[s.name] = s
	if s.ad != nil {
		n.scheduleOriginateLocked()
	}
	return nil
}

func (n *Node) unregister(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	s, ok := n.services[name]
	if !ok {
		return
	}
	delete(n.services, name)
	if s.ad != nil {
		n.scheduleOriginateLocked()
	}
}

func (n *Node) lookupService(name string) *service {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.services[name]
}

// ephemeralName returns an unused random service name, like a source port.
func (n *Node) ephemeralName() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		name := string(b[:])
		if n.lookupService(name) == nil {
			return name
		}
	}
}
