package ctlsock

import (
	"os"
	"syscall"
	"time"
)

// SendFile sends up to n bytes of f, from offset off, to the client with
// sendfile(2): the kernel copies them from the page cache into the socket,
// and they never pass through this process. That is how a unit's output
// (work results) leaves a node, which makes it the bulk path of a client
// on a Unix or TCP socket. handled is false, with nothing sent, when the
// connection is not a kernel socket (TLS, a mesh stream): the caller then
// writes the bytes itself. written is 0 at f's end. Like Write, each call
// must complete within IdleTimeout.
func (ss *Session) SendFile(f *os.File, off int64, n int) (written int, handled bool, err error) {
	sc, ok := ss.conn.(syscall.Conn)
	if !ok {
		return 0, false, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	src := int(f.Fd())
	ss.conn.SetWriteDeadline(time.Now().Add(ss.srv.opts.IdleTimeout))
	var serr error
	werr := rc.Write(func(fd uintptr) bool {
		for written < n {
			m, e := syscall.Sendfile(int(fd), src, &off, n-written)
			written += max(m, 0)
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN:
				return false // the socket is full: wait until it drains
			case e != nil:
				serr = e
				return true
			case m == 0:
				return true // the end of the file
			}
		}
		return true
	})
	if serr == nil {
		serr = werr
	}
	if serr != nil {
		return written, true, &os.SyscallError{Syscall: "sendfile", Err: serr}
	}
	return written, true, nil
}
