package ctlsock

import (
	"fmt"
	"net"
	"strings"
)

// ListenTCP listens for control connections on receptor's tcplisten value:
// "port" binds 0.0.0.0:port, anything with a colon ("host:port") is used
// as given.
func ListenTCP(spec string) (net.Listener, error) {
	addr := spec
	if !strings.Contains(spec, ":") {
		addr = "0.0.0.0:" + spec
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("control service tcplisten %q: %w", spec, err)
	}
	return ln, nil
}
