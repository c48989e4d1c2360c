package mesh

import (
	"encoding/binary"
	"errors"
	"fmt"

	"meshd/wire"
)

// Problems reported in unreachable replies, as receptor words them.
const (
	problemNoRoute        = "no route to node"
	problemExpired        = "message expired"
	problemServiceUnknown = "service unknown"
)

// handleFrame dispatches one frame read from link l; it owns frame. An
// error cuts the link off.
func (n *Node) handleFrame(l *link, typ byte, frame *wire.Buf) error {
	switch typ {
	case wire.FrameRouted:
		return n.handleRouted(l, frame)
	case wire.FrameLSA:
		n.stats.lsaReceived.Add(1)
		defer wire.PutBuf(frame)
		return n.handleLSA(l, frame.B[wire.FrameHeaderLen:])
	case wire.FrameIdentityAd:
		n.stats.identityReceived.Add(1)
		defer wire.PutBuf(frame)
		return n.handleIdentityAd(l, frame.B[wire.FrameHeaderLen:])
	case wire.FrameKeepalive:
		wire.PutBuf(frame)
		return nil
	case wire.FrameReject:
		reason := string(frame.B[wire.FrameHeaderLen:])
		wire.PutBuf(frame)
		return &wire.RejectedError{Reason: reason}
	}
	wire.PutBuf(frame)
	return fmt.Errorf("unexpected frame type %d", typ)
}

// handleRouted delivers or forwards a routed frame; from is nil for frames
// this node originates. It owns frame.
func (n *Node) handleRouted(from *link, frame *wire.Buf) error {
	body := frame.B[wire.FrameHeaderLen:]
	r, err := wire.ParseRouted(body)
	if err != nil {
		wire.PutBuf(frame)
		return err
	}
	if from != nil && string(r.Src) == n.id {
		// Only a forger sends us frames "from" ourselves.
		n.stats.forgedSource.Add(1)
		n.logLimited("forged:"+from.peer, "dropping frame that claims this node as its source", "via", from.peer)
		wire.PutBuf(frame)
		return nil
	}
	if fw := n.firewall.Load(); fw != nil && !n.firewallPasses(*fw, r) {
		wire.PutBuf(frame)
		return nil
	}
	if string(r.Dst) == n.id {
		n.deliver(r, frame)
		return nil
	}
	if r.Hop == 0 {
		n.stats.expired.Add(1)
		n.sendUnreachable(r, problemExpired)
		wire.PutBuf(frame)
		return nil
	}
	body[wire.RoutedHopOffset]--
	next := n.routes.Load().next[string(r.Dst)]
	if next == nil {
		n.stats.noRoute.Add(1)
		n.sendUnreachable(r, problemNoRoute)
		wire.PutBuf(frame)
		return nil
	}
	next.send(frame, isCtrlKind(r.Kind))
	return nil
}

// isCtrlKind says which routed frames jump the bulk queue. Stream data and
// FIN must stay in order with each other; datagrams are bulk.
func isCtrlKind(kind byte) bool {
	switch kind {
	case wire.KindDatagram, wire.KindStreamData, wire.KindStreamFin:
		return false
	}
	return true
}

// deliver hands a frame addressed to this node to its service or stream.
func (n *Node) deliver(r wire.Routed, frame *wire.Buf) {
	switch r.Kind {
	case wire.KindDatagram:
		n.deliverDatagram(r, frame)
	case wire.KindUnreachable:
		n.deliverUnreachable(r)
		wire.PutBuf(frame)
	default:
		n.deliverStream(r, frame)
	}
}

// sendUnreachable tells the source of r that it could not be delivered.
// Unreachables are never answered with unreachables.
func (n *Node) sendUnreachable(r wire.Routed, problem string) {
	if r.Kind == wire.KindUnreachable {
		return
	}
	u := wire.Unreachable{Kind: r.Kind, DstNode: string(r.Dst), Problem: problem}
	switch r.Kind {
	case wire.KindDatagram:
		if dg, err := wire.ParseDatagram(r.Rest); err == nil {
			u.SrcService, u.DstService = string(dg.SrcService), string(dg.DstService)
		}
	default:
		if len(r.Rest) >= 4 {
			u.StreamID = binary.BigEndian.Uint32(r.Rest)
		}
	}
	rest := u.Marshal()
	src := string(r.Src)
	f := wire.GetBuf(wire.RoutedLen(n.id, src, len(rest)))
	b := wire.AppendRouted(f.B[:0], byte(n.cfg.HopLimit), wire.KindUnreachable, n.id, src, len(rest))
	f.B = append(b, rest...)
	_ = n.originate(f, src, true)
}

// errNoRoute is returned to local senders when the destination is unknown.
var errNoRoute = errors.New(problemNoRoute)

// originate sends a frame built by this node: to itself directly, or to
// the next hop. It owns frame. The firewall sees a frame to this node in
// handleRouted, any other here.
func (n *Node) originate(frame *wire.Buf, dst string, ctrl bool) error {
	if dst == n.id {
		return n.handleRouted(nil, frame)
	}
	body := frame.B[wire.FrameHeaderLen:]
	if fw := n.firewall.Load(); fw != nil {
		if r, err := wire.ParseRouted(body); err == nil && !n.firewallPasses(*fw, r) {
			wire.PutBuf(frame)
			return nil
		}
	}
	if body[wire.RoutedHopOffset] == 0 {
		r, err := wire.ParseRouted(body)
		if err == nil {
			n.sendUnreachable(r, problemExpired)
		}
		wire.PutBuf(frame)
		return nil
	}
	next := n.routes.Load().next[dst]
	if next == nil {
		wire.PutBuf(frame)
		return errNoRoute
	}
	body[wire.RoutedHopOffset]--
	if !next.send(frame, ctrl) {
		return errQueueFull
	}
	return nil
}

// errQueueFull is returned to local senders whose frame the next link
// could not take (closing, or its queue full).
var errQueueFull = errors.New("link queue full or closing")

// nextHop returns the link towards dst, or nil.
func (n *Node) nextHop(dst string) *link { return n.routes.Load().next[dst] }
