package ctlsock

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"meshd/wire"
)

// ListenUnix listens on the Unix socket path as receptor's UnixSocketListen
// does: it takes a non-blocking exclusive flock on <path>.lock, so that two
// nodes cannot fight over one socket, removes a stale socket file (but
// refuses a live one or a path that is not a socket), listens,
// and sets the file mode to perm. Closing the listener removes the socket
// and releases the lock.
func ListenUnix(path string, perm os.FileMode) (net.Listener, error) {
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("could not acquire lock on socket file %s: %w", path, err)
	}
	ln, err := listenUnixLocked(path, perm)
	if err != nil {
		lock.Close()
		return nil, err
	}
	return &unixListener{Listener: ln, lock: lock}, nil
}

func listenUnixLocked(path string, perm os.FileMode) (net.Listener, error) {
	// Unlike receptor (os.RemoveAll), never delete what is not a socket.
	if err := wire.RemoveStaleSocket(path); err != nil {
		return nil, fmt.Errorf("could not overwrite socket file: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("could not listen on socket file: %w", err)
	}
	if err := os.Chmod(path, perm); err != nil {
		ln.Close()
		return nil, fmt.Errorf("error setting socket file permissions: %w", err)
	}
	return ln, nil
}

// lockFile opens path and locks it without waiting. The lock lives as long
// as the returned file stays open.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s is held by another process", path)
		}
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	return f, nil
}

// unixListener releases the lock file when closed.
type unixListener struct {
	net.Listener
	lock *os.File
	once sync.Once
	err  error
}

func (l *unixListener) Close() error {
	l.once.Do(func() {
		l.err = l.Listener.Close()
		l.lock.Close()
	})
	return l.err
}
