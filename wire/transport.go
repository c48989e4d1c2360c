package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"meshd/wire/udplink"
)

// Dial opens a link transport: network "tcp" or "udp" (address host:port;
// "udp" is udplink's reliable stream over UDP) or "unix" (address is a
// socket path).
func Dial(ctx context.Context, network, address string) (net.Conn, error) {
	if network == "udp" {
		return udplink.Dial(ctx, address, nil)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return c, nil
}

// Listen opens a link listener. For "unix", a stale socket file left by a
// dead process is removed, but a path that is not a socket is refused, and
// the socket gets mode perm.
func Listen(network, address string, perm os.FileMode) (net.Listener, error) {
	if network == "udp" {
		return udplink.Listen(address, nil)
	}
	if network != "unix" {
		return net.Listen(network, address)
	}
	if err := RemoveStaleSocket(address); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", address)
	if err != nil {
		return nil, err
	}
	if perm != 0 {
		if err := os.Chmod(address, perm); err != nil {
			ln.Close()
			return nil, err
		}
	}
	return ln, nil
}

// RemoveStaleSocket prepares path for a new Unix socket: a socket file
// nobody answers on (left by a dead process) is removed; a live socket,
// and anything that is not a socket, are refused and left alone.
func RemoveStaleSocket(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket; not replacing it", path)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return fmt.Errorf("%s is in use by another process", path)
	}
	return os.Remove(path)
}
