package bench

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	"meshd/ctlsock"
	"meshd/mesh"
)

// controlConnect serves n's control protocol on a Unix socket in dir,
// connects to it and sends "connect <dst> sink". It returns the bridged
// connection, a reader for its replies, and a function that closes the
// connection and the control server.
func controlConnect(dir string, n *mesh.Node, dst string) (net.Conn, io.Reader, func(), error) {
	srv := ctlsock.NewServer(n, ctlsock.Options{Logger: QuietLogger()})
	sock := filepath.Join(dir, "ctl.sock")
	ln, err := ctlsock.ListenUnix(sock, 0o600)
	if err != nil {
		srv.Close()
		return nil, nil, func() {}, err
	}
	go srv.Serve(ln)
	closeSrv := func() { ln.Close(); srv.Close() }
	c, err := net.DialTimeout("unix", sock, 10*time.Second)
	if err != nil {
		closeSrv()
		return nil, nil, func() {}, err
	}
	closeAll := func() { c.Close(); closeSrv() }
	c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	greeting, err := r.ReadString('\n')
	if err == nil && !strings.HasPrefix(greeting, "Receptor Control, node ") {
		err = fmt.Errorf("unexpected greeting %q", greeting)
	}
	if err == nil {
		_, err = io.WriteString(c, "connect "+dst+" "+SinkService+"\n")
	}
	var reply string
	if err == nil {
		reply, err = r.ReadString('\n')
	}
	if err == nil && strings.TrimSpace(reply) != "Connecting" {
		err = fmt.Errorf("connect %s %s: %q", dst, SinkService, reply)
	}
	if err != nil {
		closeAll()
		return nil, nil, func() {}, err
	}
	c.SetDeadline(time.Time{})
	return c, r, closeAll, nil
}
