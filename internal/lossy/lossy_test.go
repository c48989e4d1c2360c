package lossy

import (
	"net"
	"testing"
	"time"
)

// echo is a UDP echo server.
func echo(t *testing.T) *net.UDPConn {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			pc.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	return pc
}

// The relay forwards both ways, applies its schedule, and stops on Close.
func TestRelaySchedule(t *testing.T) {
	srv := echo(t)
	r, err := New(srv.LocalAddr().String(), Config{Seed: 3, Loss: 0.1, Duplicate: 0.1, Reorder: 0.1,
		Delay: 2 * time.Millisecond, Jitter: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const sent = 2000
	for i := range sent {
		c.Write([]byte{byte(i), byte(i >> 8)})
		if i%100 == 99 {
			time.Sleep(time.Millisecond) // stay within socket buffers
		}
	}
	got := 0
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 16)
	for {
		if _, err := c.Read(buf); err != nil {
			break
		}
		got++
	}
	st := r.Stats()
	t.Logf("sent %d, echoed %d; %+v", sent, got, st)
	if got == 0 || st.Dropped == 0 || st.Duplicated == 0 || st.Reordered == 0 {
		t.Fatalf("schedule not applied: got %d, %+v", got, st)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if r.Close() == nil {
		t.Fatal("second Close succeeded")
	}
}

func TestRelayBlackholeAndQueueBound(t *testing.T) {
	srv := echo(t)
	r, err := New(srv.LocalAddr().String(), Config{Delay: time.Hour, MaxQueue: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := net.Dial("udp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 50 {
		c.Write([]byte("x"))
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.Stats().Overflow < 40 {
		if time.Now().After(deadline) {
			t.Fatalf("queue bound not applied: %+v", r.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.SetBlackhole(true)
	c.Write([]byte("y"))
	for r.Stats().Blackholed == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("blackhole not applied: %+v", r.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
