package wire

import (
	"context"
	"testing"
	"time"

	"meshd/internal/lossy"
)

// The link handshake and framing run unchanged over a udplink connection
// from Dial("udp") and Listen("udp"), directly and through a lossy path.
func TestHandshakeOverUDP(t *testing.T) {
	for _, path := range []string{"direct", "lossy"} {
		t.Run(path, func(t *testing.T) {
			ln, err := Listen("udp", "127.0.0.1:0", 0)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			addr := ln.Addr().String()
			if path == "lossy" {
				r, err := lossy.New(addr, lossy.Config{Seed: 7, Loss: 0.05, Delay: 20 * time.Millisecond,
					Jitter: 5 * time.Millisecond, Reorder: 0.02, Duplicate: 0.02})
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				addr = r.Addr()
			}
			trust := trustOf(t, "node-a", 1, "node-b", 2)
			a := testConfig(t, "node-a", 1, 1, trust)
			b := testConfig(t, "node-b", 2, 2, trust)
			a.Timeout, b.Timeout = hangBound, hangBound
			sch := make(chan outcome, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					sch <- outcome{nil, err}
					return
				}
				p, err := Handshake(context.Background(), c, true, b)
				sch <- outcome{p, err}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), hangBound)
			defer cancel()
			c, err := Dial(ctx, "udp", addr)
			if err != nil {
				t.Fatal(err)
			}
			dp, err := Handshake(context.Background(), c, false, a)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { dp.Conn.NetConn().Close() })
			s := await(t, "server", sch)
			if s.err != nil {
				t.Fatal(s.err)
			}
			if dp.NodeID != "node-b" || s.peer.NodeID != "node-a" || dp.Cost != 2 {
				t.Fatalf("dialer sees %s cost %v; server sees %s", dp.NodeID, dp.Cost, s.peer.NodeID)
			}
			exchangeFrames(t, dp, s.peer)
		})
	}
}

// BenchmarkLinkTLS moves 64 KiB frames over a handshaken link (TLS 1.3,
// batched flushes, the frame reader): the mesh link data path, over TCP
// and over udplink on loopback. Compare the MB/s of the two.
func BenchmarkLinkTLS(b *testing.B) {
	for _, network := range []string{"tcp", "udp"} {
		b.Run(network, func(b *testing.B) {
			ln, err := Listen(network, "127.0.0.1:0", 0)
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			trust := trustOf(b, "node-a", 1, "node-b", 2)
			sch := make(chan outcome, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					sch <- outcome{nil, err}
					return
				}
				p, err := Handshake(context.Background(), c, true, testConfig(b, "node-b", 2, 1, trust))
				sch <- outcome{p, err}
			}()
			c, err := Dial(context.Background(), network, ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			dp, err := Handshake(context.Background(), c, false, testConfig(b, "node-a", 1, 1, trust))
			if err != nil {
				b.Fatal(err)
			}
			defer dp.Conn.NetConn().Close()
			s := <-sch
			if s.err != nil {
				b.Fatal(s.err)
			}
			defer s.peer.Conn.NetConn().Close()
			body := make([]byte, 64<<10)
			b.SetBytes(int64(len(body)))
			done := make(chan error, 1)
			go func() {
				for range b.N {
					_, buf, err := s.peer.Reader.ReadFrame()
					if err != nil {
						done <- err
						return
					}
					PutBuf(buf)
				}
				done <- nil
			}()
			b.ResetTimer()
			for i := range b.N {
				if err := WriteFrame(dp.Conn, FrameRouted, body); err != nil {
					b.Fatal(err)
				}
				if i%4 == 3 {
					if err := dp.Flush(); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := dp.Flush(); err != nil {
				b.Fatal(err)
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}
