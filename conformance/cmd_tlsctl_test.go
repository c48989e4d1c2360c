package conformance

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

const tlsctlUsage = `tlsctl [-ca FILE] [-cert FILE -key FILE] [-servername NAME] [-timeout D] HOST:PORT COMMAND...`

// cmdTLSCtl talks to a control service served over TLS (control-service
// tcptls), as receptorctl does with --rootcas/--cert/--key:
//
//	tlsctl [-ca FILE] [-cert FILE -key FILE] [-servername NAME] [-timeout D] HOST:PORT COMMAND...
//
// verifies the server's certificate against the CA bundle FILE (and the
// name NAME, default the host), presents the client certificate if given,
// prints the greeting line, sends COMMAND as one line and prints the reply
// line. `! tlsctl` expects the session to fail: the handshake, or the
// greeting the server never sends to a client it refuses.
func cmdTLSCtl(ts *testscript.TestScript, neg bool, args []string) {
	fs := newFlagSet("tlsctl")
	ca := fs.String("ca", "", "CA bundle the server's certificate must chain to")
	cert := fs.String("cert", "", "client certificate")
	key := fs.String("key", "", "client key")
	serverName := fs.String("servername", "", "name the server's certificate must have")
	timeout := fs.Duration("timeout", defaultTimeout, "deadline of the session")
	rest := parseFlags(ts, fs, tlsctlUsage, args)
	if len(rest) < 2 || (*cert == "") != (*key == "") {
		ts.Fatalf("usage: %s", tlsctlUsage)
	}
	cfg := &tls.Config{ServerName: *serverName}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(rest[0])
		ts.Check(err)
		cfg.ServerName = host
	}
	if *ca != "" {
		pem, err := os.ReadFile(ts.MkAbs(*ca))
		ts.Check(err)
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			ts.Fatalf("%s: no certificates", *ca)
		}
	}
	if *cert != "" {
		pair, err := tls.LoadX509KeyPair(ts.MkAbs(*cert), ts.MkAbs(*key))
		ts.Check(err)
		cfg.Certificates = []tls.Certificate{pair}
	}
	out, err := tlsCtlOnce(rest[0], strings.Join(rest[1:], " "), cfg, *timeout)
	switch {
	case err != nil && !neg:
		ts.Fatalf("tlsctl %s: %v", rest[0], err)
	case err == nil && neg:
		ts.Fatalf("tlsctl %s: unexpectedly succeeded: %q", rest[0], out)
	case err != nil:
		ts.Logf("tlsctl %s: %v (as expected)", rest[0], err)
	}
	fmt.Fprint(ts.Stdout(), out)
}

func tlsCtlOnce(addr, command string, cfg *tls.Config, timeout time.Duration) (string, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", addr, cfg)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	r := bufio.NewReader(c)
	greeting, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("no greeting: %w", err)
	}
	if !strings.HasPrefix(greeting, "Receptor Control, node ") {
		return "", fmt.Errorf("unexpected greeting %q", greeting)
	}
	if _, err := fmt.Fprintf(c, "%s\n", command); err != nil {
		return "", err
	}
	reply, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("no reply: %w", err)
	}
	return greeting + reply, nil
}
