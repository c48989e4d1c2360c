package proxy

import (
	"fmt"
	"net"
	"testing"
	"time"

	"meshd/mesh"
)

// udpEcho answers every datagram with "echo:" and the datagram.
func udpEcho(t *testing.T) *net.UDPConn {
	t.Helper()
	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uc.Close() })
	go func() {
		buf := make([]byte, udpBufSize)
		for {
			n, from, err := uc.ReadFromUDP(buf)
			if err != nil {
				return
			}
			uc.WriteToUDP(append([]byte("echo:"), buf[:n]...), from)
		}
	}()
	return uc
}

func TestUDP(t *testing.T) {
	nodes := chain(t, 3)
	server := udpEcho(t)
	o := Options{Logger: quiet(), IdleTimeout: 200 * time.Millisecond}
	out, err := NewUDPOutbound(nodes[2], "udpecho", &mesh.Advert{ConnType: mesh.ConnTypeDatagram}, server.LocalAddr().String(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	in := NewUDPInbound(nodes[0], front, "n3", "udpecho", o)
	defer in.Close()

	// Three clients, each must get its own answers back. Datagrams may be
	// lost, so each request is retried until answered.
	for i := range 3 {
		c, err := net.DialUDP("udp", nil, front.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for j := range 5 {
			msg := fmt.Sprintf("client %d message %d", i, j)
			if got := udpAsk(t, c, msg); got != "echo:"+msg {
				t.Fatalf("got %q, want %q", got, "echo:"+msg)
			}
		}
	}
	if in.Sessions() != 3 || out.Sessions() != 3 {
		t.Fatalf("sessions: inbound %d, outbound %d; want 3 each", in.Sessions(), out.Sessions())
	}
	// A large datagram fits.
	c, err := net.DialUDP("udp", nil, front.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	big := string(make([]byte, 60000))
	if got := udpAsk(t, c, big); got != "echo:"+big {
		t.Fatalf("a 60000-byte datagram came back as %d bytes", len(got))
	}
	waitFor(t, "idle sessions to expire", 5*time.Second, func() bool {
		return in.Sessions() == 0 && out.Sessions() == 0
	})
}

// TestUDPLocalhost: remotenode "localhost" reaches a datagram service of
// the node itself.
func TestUDPLocalhost(t *testing.T) {
	n := testNode(t, "solo")
	server := udpEcho(t)
	out, err := NewUDPOutbound(n, "udpecho", nil, server.LocalAddr().String(), Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	in := NewUDPInbound(n, front, "localhost", "udpecho", Options{Logger: quiet()})
	defer in.Close()
	c, err := net.DialUDP("udp", nil, front.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := udpAsk(t, c, "hi"); got != "echo:hi" {
		t.Fatalf("got %q", got)
	}
}

// udpAsk sends msg until its echo arrives (up to 5 s) and returns the
// echo. Late answers to earlier (resent) requests are skipped.
func udpAsk(t *testing.T, c *net.UDPConn, msg string) string {
	t.Helper()
	buf := make([]byte, udpBufSize)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		for {
			n, err := c.Read(buf)
			if err != nil {
				break
			}
			if got := string(buf[:n]); got == "echo:"+msg {
				return got
			}
		}
	}
	t.Fatalf("no answer to %.40q", msg)
	return ""
}
