package udplink

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var writeSeeds = flag.Bool("udplink.writeseeds", false, "rewrite testdata/fuzz/FuzzPacket from fuzzSeeds")

// fuzzCID is the connection the fuzzed datagrams may address.
const fuzzCID = 1

func seg(flags byte, seq, ack, wnd uint32, sack []sackRange, data []byte) []byte {
	return append(appendSegment(nil, flags, fuzzCID, seq, ack, wnd, sack), data...)
}

// fuzzSeeds are valid, truncated, oversize and hostile datagrams.
func fuzzSeeds() map[string][]byte {
	hs := func(h handshake) []byte { return appendHandshake(nil, &h) }
	return map[string][]byte{
		"seg-data":          seg(flagData, 0, 0, 64, nil, []byte("hello")),
		"seg-data-ooo":      seg(flagData, 3, 0, 64, nil, []byte("later")),
		"seg-fin":           seg(flagFIN, 0, 0, 64, nil, nil),
		"seg-ack-sack":      seg(0, 0, 2, 64, []sackRange{{4, 6}, {8, 9}}, nil),
		"seg-ack-forged":    seg(0, 0, 1000, 64, nil, nil),                    // acks data never sent
		"seg-sack-forged":   seg(0, 0, 0, 64, []sackRange{{5, 4000000}}, nil), // SACKs data never sent
		"seg-huge-window":   seg(flagPing, 0, 5, 0xffffffff, nil, nil),
		"seg-window-beyond": seg(flagData, 1000, 0, 64, nil, []byte("x")), // outside the receive window
		"seg-sack-count":    append(seg(0, 0, 0, 0, nil, nil)[:segHeader-1], 200),
		"seg-truncated":     seg(flagData, 0, 0, 64, nil, []byte("x"))[:segHeader-3],
		"seg-fin-and-data":  seg(flagFIN|flagData, 0, 0, 64, nil, []byte("x")),
		"oversize":          append(seg(flagData, 0, 0, 64, nil, nil), make([]byte, maxDatagram)...),
		"syn":               hs(handshake{typ: typeSYN, dialerCID: 9}),
		"synack":            hs(handshake{typ: typeSYNACK, dialerCID: fuzzCID, listenerCID: 2}),
		"cookie-forged":     hs(handshake{typ: typeCOOKIE, dialerCID: 9, listenerCID: 3, cookieTime: 1}),
		"rst":               appendRST(nil, fuzzCID),
		"garbage":           []byte("\xff\x00garbage"),
	}
}

func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -udplink.writeseeds to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzPacket")
	os.MkdirAll(dir, 0o755)
	for name, b := range fuzzSeeds() {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fuzzConn is a connection with a few segments in flight and some out of
// order data held, addressed as fuzzCID, whose packets go nowhere.
func fuzzConn(tb testing.TB, ln *Listener) (*Conn, netip.AddrPort) {
	peer := netip.MustParseAddrPort("127.0.0.1:9")
	c := newConn(ln.ep, peer, fuzzCID, 2, (&Config{RecvWindow: 64, SendBuffer: 32, MinWindow: 8, MaxWindow: 16}).withDefaults())
	ln.ep.mu.Lock()
	ln.ep.conns[fuzzCID] = c
	ln.ep.mu.Unlock()
	c.mu.Lock()
	c.queueLocked(make([]byte, 10*mss))
	c.flushLocked(mono())
	c.mu.Unlock()
	c.handleSegment(mustSeg(tb, seg(flagData, 2, 0, 64, nil, []byte("held"))))
	return c, peer
}

func mustSeg(tb testing.TB, b []byte) *segment {
	var s segment
	if err := parseSegment(b, &s); err != nil {
		tb.Fatal(err)
	}
	return &s
}

func FuzzPacket(f *testing.F) {
	for _, b := range fuzzSeeds() {
		f.Add(b)
	}
	ln, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	f.Fuzz(func(t *testing.T, b []byte) {
		var s segment
		if err := parseSegment(b, &s); err == nil {
			// What parses re-encodes to the same bytes.
			re := appendSegment(nil, s.flags, s.dest, s.seq, s.ack, s.window, s.sack[:s.nsack])
			if !bytes.Equal(append(re, s.data...), b) {
				t.Fatalf("re-encoding differs:\n%x\n%x", re, b)
			}
		}
		var h handshake
		if err := parseHandshake(b, &h); err == nil && h.typ != typeSYN {
			if re := appendHandshake(nil, &h); !bytes.Equal(re, b) {
				t.Fatalf("handshake re-encoding differs:\n%x\n%x", re, b)
			}
		}
		// Delivered twice to a live connection, from its peer: nothing
		// panics and every bound holds.
		c, peer := fuzzConn(t, ln)
		for range 2 {
			ln.ep.handle(b, peer, &s)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.timersLocked(mono() + time.Second)
		if c.pipe < 0 || c.lostN < 0 || c.pipe+c.lostN > len(c.sndQ) || len(c.sndQ) > c.cfg.SendBuffer+1 ||
			len(c.ready) > len(c.rcvBuf) || c.cwnd < c.cfg.MinWindow || c.cwnd > c.cfg.MaxWindow ||
			int(c.sndNxt-c.sndUna) > len(c.sndQ) {
			t.Fatalf("bounds broken: pipe %d lost %d queue %d ready %d cwnd %d unsent %d",
				c.pipe, c.lostN, len(c.sndQ), len(c.ready), c.cwnd, int(c.sndNxt-c.sndUna))
		}
		ln.ep.mu.Lock()
		delete(ln.ep.conns, fuzzCID)
		ln.ep.mu.Unlock()
	})
}
