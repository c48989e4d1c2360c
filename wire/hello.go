package wire

import (
	"errors"
	"fmt"
)

// helloMagic starts every hello so that a peer speaking something else is
// recognised at once.
const helloMagic = "MESHD"

// Hello is the first frame each side sends once TLS is up.
//
// Body: "MESHD" | version u8 | node ID (str8) | cost float64 bits u64
//
// Cost is the sender's configured cost for this link (after nodecost);
// both ends use the larger of the two so that the link is symmetric.
type Hello struct {
	Version uint8
	NodeID  string
	Cost    float64
}

// Marshal encodes the hello body.
func (h *Hello) Marshal() []byte {
	b := make([]byte, 0, len(helloMagic)+2+len(h.NodeID)+8)
	b = append(b, helloMagic...)
	b = append(b, h.Version)
	b = appendStr8(b, h.NodeID)
	return appendCost(b, h.Cost)
}

// ParseHello decodes a hello body.
func ParseHello(body []byte) (Hello, error) {
	d := decoder{b: body}
	if string(d.take(len(helloMagic))) != helloMagic {
		return Hello{}, errors.New("hello: not a meshd peer (bad magic)")
	}
	h := Hello{Version: d.u8(), NodeID: d.str8(), Cost: d.cost()}
	if err := d.finish(); err != nil {
		return Hello{}, fmt.Errorf("hello: %w", err)
	}
	if err := CheckName("node ID", h.NodeID); err != nil {
		return Hello{}, fmt.Errorf("hello: %w", err)
	}
	if h.Version != ProtocolVersion {
		return Hello{}, fmt.Errorf("hello: unsupported protocol version %d (want %d)", h.Version, ProtocolVersion)
	}
	return h, nil
}
