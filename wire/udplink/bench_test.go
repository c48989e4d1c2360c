package udplink

import (
	"io"
	"net"
	"testing"
)

// benchStream writes b.N chunks of 64 KiB from a to b, which discards.
func benchStream(b *testing.B, a, r net.Conn) {
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	done := make(chan int64)
	go func() {
		n, _ := io.Copy(io.Discard, r)
		done <- n
	}()
	b.ResetTimer()
	for range b.N {
		if _, err := a.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if cw, ok := a.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	if n := <-done; n != int64(b.N*len(buf)) {
		b.Fatalf("received %d bytes, want %d", n, b.N*len(buf))
	}
	b.StopTimer()
}

// BenchmarkUDPLink and BenchmarkTCPLink move a raw byte stream over
// loopback; compare their MB/s (run together: go test -bench Link).
func BenchmarkUDPLink(b *testing.B) {
	ln := listen(b, nil)
	c := dial(b, ln.Addr().String(), nil)
	s := accept(b, ln)
	benchStream(b, c, s)
	st := c.Stats()
	b.ReportMetric(float64(st.Retransmits)/float64(max(st.Segments, 1))*100, "%retx")
}

func BenchmarkTCPLink(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s := <-ch
	defer s.Close()
	benchStream(b, c, s)
}
