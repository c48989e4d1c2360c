package mesh

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"testing"
)

func TestChainPingTraceroute(t *testing.T) {
	nodes := chain(t, 4)
	first, last := nodes[0], nodes[3]
	r := first.Ping(ctx(t), last.id)
	if r.Error != "" || r.From != last.id {
		t.Fatalf("ping: %+v", r)
	}
	hops := first.Traceroute(ctx(t), last.id)
	if len(hops) != 4 {
		t.Fatalf("traceroute: %+v", hops)
	}
	for i, h := range hops {
		if h.From != nodes[i].id {
			t.Errorf("hop %d from %s, want %s (%+v)", i, h.From, nodes[i].id, h)
		}
		if h.Error != "" {
			t.Errorf("hop %d: error %q", i, h.Error)
		}
	}
	if r := first.Ping(ctx(t), "nosuch"); r.Error != "no route to node" {
		t.Errorf("ping unknown: %+v", r)
	}
	if r := first.Ping(ctx(t), "localhost"); r.Error != "" || r.From != first.id {
		t.Errorf("ping self: %+v", r)
	}
}

func TestStreamEchoAcrossChain(t *testing.T) {
	nodes := chain(t, 4)
	echoService(t, nodes[3], "echo")
	s, err := nodes[0].DialStream(ctx(t), nodes[3].id, "echo")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	go func() {
		s.Write(data)
		s.CloseWrite()
	}()
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("echo mismatch: got %d bytes", len(got))
	}
	s.Close()
}

func TestDialUnknownService(t *testing.T) {
	nodes := chain(t, 2)
	_, err := nodes[0].DialStream(ctx(t), nodes[1].id, "nosvc")
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("service unknown")) {
		t.Fatalf("err = %v", err)
	}
}
