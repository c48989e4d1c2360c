package mesh

import (
	"bytes"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// TestStalledReaderIsContained: a stream whose reader never reads holds at
// most one window anywhere on the path, while another stream over the same
// links and pings keep flowing.
func TestStalledReaderIsContained(t *testing.T) {
	nodes := chain(t, 3)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	stalled, err := n3.ListenStream("stall", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	go func() {
		for {
			c, err := stalled.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accept, never read
		}
	}()
	echoService(t, n3, "echo")

	s, err := n1.DialStream(ctx(t), n3.id, "stall")
	if err != nil {
		t.Fatal(err)
	}
	wrote := make(chan int64, 1)
	go func() {
		s.SetWriteDeadline(time.Now().Add(3 * time.Second))
		n, _ := io.Copy(s, io.LimitReader(zeroReader{}, 64<<20))
		wrote <- n
	}()

	// Meanwhile a second stream moves 16 MiB through the same links.
	e, err := n1.DialStream(ctx(t), n3.id, "echo")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 16<<20)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	go func() { e.Write(data); e.CloseWrite() }()
	got, err := io.ReadAll(e)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("echo stream beside a stalled one: %d bytes, err %v", len(got), err)
	}
	if r := n1.Ping(ctx(t), n3.id); r.Error != "" {
		t.Fatalf("ping beside a stalled stream: %+v", r)
	}
	n := <-wrote
	if n > streamWindow {
		t.Errorf("writer pushed %d bytes into a stalled stream (window %d)", n, streamWindow)
	}
	// Nothing of it waits in n2's queues, and n3 buffers at most a window.
	for _, l := range n2.Status().Connections {
		q := n2.links[l.NodeID].q
		q.mu.Lock()
		bulk := q.bulkBytes
		q.mu.Unlock()
		if bulk > 0 {
			t.Errorf("n2 queue to %s holds %d bytes", l.NodeID, bulk)
		}
	}
	for _, st := range n3.streams.snapshot(func(*Stream) bool { return true }) {
		st.mu.Lock()
		if st.rqBytes > streamWindow {
			t.Errorf("n3 buffers %d bytes for a stream", st.rqBytes)
		}
		st.mu.Unlock()
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestDatagramService: datagrams reach a service several hops away, and an
// unknown service is reported back.
func TestDatagramService(t *testing.T) {
	nodes := chain(t, 3)
	srv, err := nodes[2].ListenPacket("dgram", &Advert{ConnType: ConnTypeDatagram})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cl, err := nodes[0].ListenPacket("client", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.WriteTo([]byte("hello"), Addr{nodes[2].id, "dgram"}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := srv.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "hello" || from.String() != nodes[0].id+":client" {
		t.Fatalf("got %q from %v, err %v", buf[:n], from, err)
	}
	cl.WriteTo([]byte("x"), Addr{nodes[2].id, "nosvc"})
	cl.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = cl.ReadFrom(buf)
	if ue, ok := err.(*UnreachableError); !ok || ue.Problem != "service unknown" || ue.From != nodes[2].id {
		t.Fatalf("unknown service: %v", err)
	}
}

// TestRerouteAndStreamReset: killing the middle of a ring reroutes, and a
// stream to a node that disappears fails instead of hanging.
func TestRerouteAndStreamReset(t *testing.T) {
	a, b, c, d := testNode(t, "a"), testNode(t, "b"), testNode(t, "c"), testNode(t, "d")
	connect(t, b, a)
	connect(t, c, b)
	connect(t, d, c)
	// The long way round a-d costs more, so a reaches c via b.
	aAddr := listen(t, a)
	d.AddPeer(PeerSpec{Network: "tcp", Address: aAddr, Cost: 5, Redial: true})
	waitFor(t, "a routes to c via b", 10*time.Second, func() bool { return a.Status().RoutingTable["c"] == "b" })
	b.Close()
	waitFor(t, "a routes to c via d", 5*time.Second, func() bool { return a.Status().RoutingTable["c"] == "d" })
	// The reply takes c's route back, which may learn of b's end a moment
	// later than a did.
	waitFor(t, "c routes to a via d", 5*time.Second, func() bool { return c.Status().RoutingTable["a"] == "d" })
	if r := a.Ping(ctx(t), "c"); r.Error != "" {
		t.Fatalf("ping after reroute: %+v", r)
	}
	echoService(t, d, "echo")
	s, err := a.DialStream(ctx(t), "d", "echo")
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	s.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.Read(make([]byte, 10)); err == nil {
		t.Fatal("read from a stream to a dead node succeeded")
	} else if _, ok := err.(*StreamError); !ok {
		t.Fatalf("read error %v, want a stream reset", err)
	}
}

// TestRestartRejoins: a node restarted with the same key and ID is
// accepted again and its new advertisements win over its old ones.
func TestRestartRejoins(t *testing.T) {
	a := testNode(t, "a")
	addr := listen(t, a)
	b1 := testNode(t, "b")
	b1.AddPeer(PeerSpec{Network: "tcp", Address: addr, Redial: true})
	waitRoute(t, a, b1)
	key := b1.cfg.Key
	b1.Close()
	waitFor(t, "b gone", 5*time.Second, func() bool { return a.nextHop("b") == nil })
	b2 := testNode(t, "b", func(c *Config) { c.Key = key })
	b2.AddPeer(PeerSpec{Network: "tcp", Address: addr, Redial: true})
	waitRoute(t, a, b2)
	waitRoute(t, b2, a)
	if r := a.Ping(ctx(t), "b"); r.Error != "" {
		t.Fatal(r)
	}
	// A node with the same ID but another key is refused while b is known.
	b3 := testNode(t, "b")
	b3.AddPeer(PeerSpec{Network: "tcp", Address: addr})
	waitFor(t, "impostor refused", 5*time.Second, func() bool { return a.stats.linksRefused.Load() > 0 })
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.bindings["b"].Equal(key.Public()) || a.links["b"].peerKey.Equal(b3.PublicKey()) {
		t.Fatal("impostor replaced the original b")
	}
}

func TestStreamHalfClose(t *testing.T) {
	nodes := chain(t, 2)
	ln, err := nodes[1].ListenStream("upper", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		in, _ := io.ReadAll(c) // until the client half-closes
		c.Write(bytes.ToUpper(in))
		c.Close()
	}()
	s, err := nodes[0].DialStream(ctx(t), nodes[1].id, "upper")
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("hello"))
	s.CloseWrite()
	out, err := io.ReadAll(s)
	if err != nil || string(out) != "HELLO" {
		t.Fatalf("got %q, %v", out, err)
	}
	s.Close()
	waitFor(t, "streams cleaned up", 5*time.Second, func() bool {
		return nodes[0].StreamCount() == 0 && nodes[1].StreamCount() == 0
	})
}

// TestCloseCreditsUnreadData: a reader that closes with a full window
// unread must not leave the writer blocked forever.
func TestCloseCreditsUnreadData(t *testing.T) {
	s, r := streamPair(t)
	var wrote atomic.Int64
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := s.Write(buf)
			wrote.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	waitFor(t, "window full", 10*time.Second, func() bool { return wrote.Load() >= streamWindow })
	r.Close() // discards a full window unread
	before := wrote.Load()
	waitFor(t, "writer moving again", 10*time.Second, func() bool { return wrote.Load() >= before+2*streamWindow })
	s.Close()
}

// TestTinyFramesStayCompact: one-byte frames to a reader that does not
// read are stored compactly, not one pooled buffer each.
func TestTinyFramesStayCompact(t *testing.T) {
	s, r := streamPair(t)
	defer s.Close()
	for i := 0; i < 5000; i++ {
		if _, err := s.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all bytes queued", 10*time.Second, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.rqBytes == 5000
	})
	r.mu.Lock()
	chunks := len(r.rq)
	r.mu.Unlock()
	if chunks > 5 {
		t.Fatalf("5000 one-byte frames kept in %d chunks", chunks)
	}
	got := make([]byte, 5000)
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatal(err)
	}
	for i, b := range got {
		if b != byte(i) {
			t.Fatalf("byte %d = %d", i, b)
		}
	}
}

// streamPair links two nodes and returns both ends of one stream between
// them: the dialing end and the accepted end.
func streamPair(t *testing.T) (dialer, acceptor *Stream) {
	t.Helper()
	nodes := chain(t, 2)
	ln, err := nodes[1].ListenStream("pair", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s, err := nodes[0].DialStream(ctx(t), nodes[1].id, "pair")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept() // queued before the dial returned
	if err != nil {
		t.Fatal(err)
	}
	return s, c.(*Stream)
}
