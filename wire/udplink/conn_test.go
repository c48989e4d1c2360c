package udplink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"meshd/internal/lossy"
)

// hangBound is a deadlock detector, not a performance threshold.
const hangBound = 60 * time.Second

func listen(t testing.TB, cfg *Config) *Listener {
	t.Helper()
	ln, err := Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func dial(t testing.TB, addr string, cfg *Config) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echoServer echoes every accepted connection until EOF, then half-closes.
func echoServer(ln *Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
			c.(*Conn).CloseWrite()
		}()
	}
}

func TestEcho(t *testing.T) {
	ln := listen(t, nil)
	go echoServer(ln)
	c := dial(t, ln.Addr().String(), nil)
	c.SetDeadline(time.Now().Add(hangBound))
	buf := make([]byte, 100)
	for i := range 50 {
		msg := bytes.Repeat([]byte{byte(i)}, 1+i*37)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("round %d: echo differs", i)
		}
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("after CloseWrite: read %d, %v; want EOF", n, err)
	}
}

// transfer sends size random bytes from a to b and checks the sha256.
func transfer(t *testing.T, a, b net.Conn, size int) {
	t.Helper()
	a.SetDeadline(time.Now().Add(hangBound))
	b.SetDeadline(time.Now().Add(hangBound))
	want := sha256.New()
	errc := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(1, 2))
		buf := make([]byte, 64<<10)
		for left := size; left > 0; {
			n := min(left, len(buf))
			for i := range buf[:n] {
				buf[i] = byte(rng.Uint32())
			}
			want.Write(buf[:n])
			if _, err := a.Write(buf[:n]); err != nil {
				errc <- err
				return
			}
			left -= n
		}
		errc <- a.(*Conn).CloseWrite()
	}()
	got := sha256.New()
	n, err := io.Copy(got, b)
	if err != nil {
		t.Fatalf("receive after %d bytes: %v", n, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if n != int64(size) || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("received %d bytes, sha256 %x; want %d bytes, %x", n, got.Sum(nil), size, want.Sum(nil))
	}
}

func accept(t testing.TB, ln *Listener) net.Conn {
	t.Helper()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestBulkLoopback(t *testing.T) {
	ln := listen(t, nil)
	c := dial(t, ln.Addr().String(), nil)
	s := accept(t, ln)
	transfer(t, c, s, 32<<20)
}

// lossyPath is the fault schedule: 5% loss, 20 ms ± 5 ms delay,
// 2% reordering, 2% duplication.
var lossyPath = lossy.Config{Seed: 42, Loss: 0.05, Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond, Reorder: 0.02, Duplicate: 0.02}

func lossyPair(t *testing.T, cfg lossy.Config) (*Conn, net.Conn, *lossy.Relay) {
	ln := listen(t, nil)
	r, err := lossy.New(ln.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	c := dial(t, r.Addr(), nil)
	return c, accept(t, ln), r
}

func TestLossyTransfer(t *testing.T) {
	size := 4 << 20
	if !testing.Short() && !raceEnabled {
		size = 50 << 20
	}
	c, s, r := lossyPair(t, lossyPath)
	start := time.Now()
	transfer(t, c, s, size)
	el := time.Since(start)
	t.Logf("%d MiB through the lossy relay in %v (%.1f MB/s); sender %+v; relay %+v",
		size>>20, el.Round(time.Millisecond), float64(size)/el.Seconds()/1e6, c.Stats(), r.Stats())
}

func TestPeerVanishes(t *testing.T) {
	c, s, r := lossyPair(t, lossy.Config{Seed: 1, Delay: time.Millisecond})
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(s, buf); err != nil {
		t.Fatal(err)
	}
	r.SetBlackhole(true)
	start := time.Now()
	errc := make(chan error, 2)
	go func() { _, err := c.Read(buf); errc <- err }()
	go func() { _, err := s.Read(buf); errc <- err }()
	for range 2 {
		select {
		case err := <-errc:
			if !errors.Is(err, ErrIdle) {
				t.Fatalf("read: %v; want ErrIdle", err)
			}
		case <-time.After(hangBound):
			t.Fatal("vanished peer not detected")
		}
	}
	t.Logf("vanished peer detected after %v (idle timeout 2.5 s)", time.Since(start).Round(time.Millisecond))
	if _, err := c.Write([]byte("x")); !errors.Is(err, ErrIdle) {
		t.Fatalf("write after idle: %v", err)
	}
}

func TestManyConns(t *testing.T) {
	ln := listen(t, nil)
	go echoServer(ln)
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), hangBound)
			defer cancel()
			c, err := Dial(ctx, ln.Addr().String(), nil)
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(hangBound))
			msg := bytes.Repeat([]byte{byte(i)}, 20000+i)
			go c.Write(msg)
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil {
				errc <- err
				return
			}
			if !bytes.Equal(got, msg) {
				errc <- errors.New("echo differs")
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

func TestDeadlines(t *testing.T) {
	ln := listen(t, nil)
	c := dial(t, ln.Addr().String(), &Config{SendBuffer: 4})
	s := accept(t, ln)
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %v; want deadline exceeded", err)
	}
	// Nobody reads s: the peer's window and our send buffer fill up.
	c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	big := make([]byte, 8<<20)
	n, err := c.Write(big)
	if !errors.Is(err, os.ErrDeadlineExceeded) || n >= len(big) {
		t.Fatalf("write: %d, %v; want a short write and deadline exceeded", n, err)
	}
	// Reading opens the window again: everything written arrives.
	c.SetDeadline(time.Time{})
	s.SetDeadline(time.Now().Add(hangBound))
	got := make([]byte, n)
	if _, err := io.ReadFull(s, got); err != nil {
		t.Fatalf("reading the %d bytes written: %v", n, err)
	}
}

func TestCloseResetsPeerWrites(t *testing.T) {
	ln := listen(t, nil)
	c := dial(t, ln.Addr().String(), nil)
	s := accept(t, ln)
	c.Close()
	s.SetDeadline(time.Now().Add(hangBound))
	if _, err := s.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after peer Close: %v; want EOF", err)
	}
	// The closed side resets once its FIN is acked and the linger passes:
	// writes fail in time rather than block forever.
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if _, err := s.Write([]byte("x")); err != nil {
			break
		}
		if time.Since(start) > hangBound {
			t.Fatal("writes to a closed peer never fail")
		}
	}
}

// A flood of SYNs from one address leaves no state behind.
func TestSYNFloodKeepsNoState(t *testing.T) {
	ln := listen(t, nil)
	pc, err := net.Dial("udp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for i := range 10000 {
		pc.Write(appendHandshake(nil, &handshake{typ: typeSYN, dialerCID: uint64(i + 1)}))
	}
	bogus := appendHandshake(nil, &handshake{typ: typeCOOKIE, dialerCID: 1, listenerCID: 2, cookieTime: uint32(time.Now().Unix())})
	for range 1000 {
		pc.Write(bogus)
	}
	// A real dial still works and is the only connection.
	dial(t, ln.Addr().String(), nil)
	ln.ep.mu.Lock()
	n := len(ln.ep.conns)
	ln.ep.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d connections after a SYN flood and a dial; want 1", n)
	}
}

func TestDialRefused(t *testing.T) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), hangBound)
	defer cancel()
	if _, err := Dial(ctx, addr, nil); err == nil || ctx.Err() != nil {
		t.Fatalf("dial to a closed port: %v (ctx %v); want a prompt refusal", err, ctx.Err())
	}
}

// Closing both ends and the listener releases every goroutine.
func TestCloseReleasesGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	ln, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	go echoServer(ln)
	for range 4 {
		c := dial(t, ln.Addr().String(), nil)
		c.SetDeadline(time.Now().Add(hangBound))
		c.Write([]byte("ping"))
		io.ReadFull(c, make([]byte, 4))
		c.CloseWrite()
		io.Copy(io.Discard, c)
		c.Close()
	}
	ln.Close()
	for start := time.Now(); runtime.NumGoroutine() > before; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > hangBound {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left over:\n%s", runtime.NumGoroutine()-before, buf[:runtime.Stack(buf, true)])
		}
	}
}
