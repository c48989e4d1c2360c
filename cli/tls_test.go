package cli

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"meshd/certs"
)

// testPKI is a CA in a temporary directory that issues certificates.
type testPKI struct {
	t              *testing.T
	dir            string
	caFile         string
	caPEM, caKey   []byte
	pool           *x509.CertPool
	issuedSequence int
}

func newTestPKI(t *testing.T, name string) *testPKI {
	t.Helper()
	caPEM, caKey, err := certs.InitCA(certs.CAOptions{CommonName: name})
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{t: t, dir: t.TempDir(), caPEM: caPEM, caKey: caKey, pool: x509.NewCertPool()}
	p.caFile = p.write("ca.crt", caPEM)
	p.pool.AppendCertsFromPEM(caPEM)
	return p
}

func (p *testPKI) write(name string, data []byte) string {
	p.t.Helper()
	f := filepath.Join(p.dir, name)
	if err := os.WriteFile(f, data, 0o600); err != nil {
		p.t.Fatal(err)
	}
	return f
}

// issue makes a certificate for 127.0.0.1 and localhost naming nodeIDs,
// and returns its files.
func (p *testPKI) issue(cn string, nodeIDs ...string) (certFile, keyFile string) {
	p.t.Helper()
	csr, key, err := certs.MakeRequest(certs.RequestOptions{CommonName: cn, NodeIDs: nodeIDs,
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		p.t.Fatal(err)
	}
	cert, err := certs.SignRequest(csr, p.caPEM, p.caKey, certs.SignOptions{})
	if err != nil {
		p.t.Fatal(err)
	}
	p.issuedSequence++
	base := cn + "-" + strconv.Itoa(p.issuedSequence)
	return p.write(base+".crt", cert), p.write(base+".key", key)
}

func (p *testPKI) pair(cn string, nodeIDs ...string) tls.Certificate {
	p.t.Helper()
	c, k := p.issue(cn, nodeIDs...)
	pair, err := tls.LoadX509KeyPair(c, k)
	if err != nil {
		p.t.Fatal(err)
	}
	return pair
}

func freeTCPPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func startTestNode(t *testing.T, args ...string) (*runningNode, error) {
	t.Helper()
	cfg, err := ParseArgsConfig(append([]string{"--node", "id=n1", "datadir=" + t.TempDir()}, args...))
	if err != nil {
		t.Fatal(err)
	}
	r, err := startNode(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		t.Cleanup(r.Close)
	}
	return r, err
}

// TestTLSStartErrors: files named by tls-server and tls-client entries are
// read at start, and a bad one stops the node with an error naming the
// entry.
func TestTLSStartErrors(t *testing.T) {
	pki := newTestPKI(t, "CA")
	cert, key := pki.issue("n1", "n1")
	_, otherKey := pki.issue("n2", "n2")
	empty := pki.write("empty.pem", []byte("no certificates here\n"))
	missing := filepath.Join(pki.dir, "missing.crt")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"missing cert", []string{"--tls-server", "name=s", "cert=" + missing, "key=" + key},
			[]string{"command line: entry 2 (--tls-server)", "read certificate", "missing.crt"}},
		{"missing key", []string{"--tls-client", "name=c", "cert=" + cert, "key=" + missing},
			[]string{"command line: entry 2 (--tls-client)", "read key"}},
		{"key of another cert", []string{"--tls-server", "name=s", "cert=" + cert, "key=" + otherKey},
			[]string{"command line: entry 2 (--tls-server)", "does not match certificate"}},
		{"key is not a key", []string{"--tls-server", "name=s", "cert=" + cert, "key=" + cert},
			[]string{"command line: entry 2 (--tls-server)", cert}},
		{"clientcas without certificates", []string{"--tls-server", "name=s", "cert=" + cert, "key=" + key, "clientcas=" + empty},
			[]string{`command line: entry 2 (--tls-server): key "clientcas"`, "no PEM certificates"}},
		{"rootcas missing", []string{"--tls-client", "name=c", "rootcas=" + missing},
			[]string{`command line: entry 2 (--tls-client): key "rootcas"`, "read CA bundle"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := startTestNode(t, tt.args...)
			if err == nil {
				t.Fatal("the node started")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %v, want %q", err, w)
				}
			}
		})
	}
	// Good files start.
	if _, err := startTestNode(t, "--tls-server", "name=s", "cert="+cert, "key="+key, "clientcas="+pki.caFile,
		"--tls-client", "name=c", "cert="+cert, "key="+key, "rootcas="+pki.caFile); err != nil {
		t.Fatal(err)
	}
}

func TestTLSConfigVersions(t *testing.T) {
	pki := newTestPKI(t, "CA")
	cert, key := pki.issue("n1", "n1")
	for _, tls13 := range []bool{false, true} {
		sc, err := serverTLSConfig(&TLSServerEntry{Name: "s", Cert: cert, Key: key, MinTLS13: tls13})
		if err != nil {
			t.Fatal(err)
		}
		cc, err := clientTLSConfig(&TLSClientEntry{Name: "c", MinTLS13: tls13}, "h:1")
		if err != nil {
			t.Fatal(err)
		}
		want := uint16(tls.VersionTLS12)
		if tls13 {
			want = tls.VersionTLS13
		}
		if sc.MinVersion != want || cc.MinVersion != want {
			t.Errorf("mintls13=%v: server %x client %x, want %x", tls13, sc.MinVersion, cc.MinVersion, want)
		}
		if sc.ClientAuth != tls.NoClientCert {
			t.Errorf("client certificates asked for without requireclientcert/clientcas")
		}
	}
}

// ctlTLSDial connects to a control service over TLS and returns its
// first line, or the error reading it.
func ctlTLSDial(t *testing.T, addr string, cfg *tls.Config) (string, net.Conn, error) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return "", nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		c.Close()
		return "", nil, err
	}
	return line, c, nil
}

// TestControlTCPTLS: control-service tcptls serves the control protocol
// over TLS on tcplisten, and with clientcas only clients with a
// certificate from that CA naming a node ID get in.
func TestControlTCPTLS(t *testing.T) {
	pki := newTestPKI(t, "mesh CA")
	other := newTestPKI(t, "other CA")
	cert, key := pki.issue("n1", "n1")
	port := freeTCPPort(t)
	addr := "127.0.0.1:" + port
	if _, err := startTestNode(t, "--control-service", "service=ctls", "tcplisten="+addr, "tcptls=srv",
		"--tls-server", "name=srv", "cert="+cert, "key="+key, "clientcas="+pki.caFile, "mintls13=true"); err != nil {
		t.Fatal(err)
	}
	good := &tls.Config{RootCAs: pki.pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{pki.pair("admin", "admin")}}
	line, c, err := ctlTLSDial(t, addr, good)
	if err != nil {
		t.Fatal(err)
	}
	if line != "Receptor Control, node n1\n" {
		t.Fatalf("greeting %q", line)
	}
	if c.(*tls.Conn).ConnectionState().Version != tls.VersionTLS13 {
		t.Errorf("not TLS 1.3")
	}
	io.WriteString(c, "ping n1\n")
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(reply, `"Success":true`) {
		t.Fatalf("ping: %q %v", reply, err)
	}
	c.Close()

	// TLS 1.2 is refused with mintls13.
	old := good.Clone()
	old.MaxVersion = tls.VersionTLS12
	if _, _, err := ctlTLSDial(t, addr, old); err == nil {
		t.Error("a TLS 1.2 client got in despite mintls13")
	}
	refused := map[string]*tls.Config{
		"no client certificate":     {RootCAs: pki.pool, ServerName: "127.0.0.1"},
		"certificate of another CA": {RootCAs: pki.pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{other.pair("admin", "admin")}},
		"certificate without node":  {RootCAs: pki.pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{pki.pair("admin")}},
	}
	for name, cfg := range refused {
		if line, _, err := ctlTLSDial(t, addr, cfg); err == nil {
			t.Errorf("%s: got in (%q)", name, line)
		}
	}
	// A plain-text client gets no greeting.
	pc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	io.WriteString(pc, "status\n")
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, _ := io.ReadAll(pc); strings.Contains(string(b), "Receptor Control") {
		t.Errorf("plain text client greeted: %q", b)
	}
}

// TestControlTCPTLSSkipNames: skipreceptornamescheck accepts a client
// certificate that names no node; without clientcas or requireclientcert
// no certificate is asked for.
func TestControlTCPTLSSkipNames(t *testing.T) {
	pki := newTestPKI(t, "mesh CA")
	cert, key := pki.issue("n1", "n1")
	a1, a2 := "127.0.0.1:"+freeTCPPort(t), "127.0.0.1:"+freeTCPPort(t)
	if _, err := startTestNode(t,
		"--control-service", "service=c1", "tcplisten="+a1, "tcptls=skip",
		"--control-service", "service=c2", "tcplisten="+a2, "tcptls=open",
		"--tls-server", "name=skip", "cert="+cert, "key="+key, "clientcas="+pki.caFile, "skipreceptornamescheck=true",
		"--tls-server", "name=open", "cert="+cert, "key="+key); err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{RootCAs: pki.pool, ServerName: "localhost", Certificates: []tls.Certificate{pki.pair("admin")}}
	if _, c, err := ctlTLSDial(t, a1, cfg); err != nil {
		t.Fatalf("skipreceptornamescheck: %v", err)
	} else {
		c.Close()
	}
	if _, c, err := ctlTLSDial(t, a2, &tls.Config{RootCAs: pki.pool, ServerName: "localhost"}); err != nil {
		t.Fatalf("no client certificates: %v", err)
	} else {
		c.Close()
	}
}

// TestProxyTLS: a tcp-server with tlsserver serves TLS to local clients;
// a tcp-client with tlsclient dials its address with TLS, checking the
// server's certificate against rootcas and pins.
func TestProxyTLS(t *testing.T) {
	pki := newTestPKI(t, "proxy CA")
	cert, key := pki.issue("n1", "n1")
	// A TLS echo server behind the tcp-client.
	echoLn, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pki.pair("echo")}})
	if err != nil {
		t.Fatal(err)
	}
	defer echoLn.Close()
	go func() {
		for {
			c, err := echoLn.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	echoAddr := echoLn.Addr().String()
	pTLS, pPin, pPlain := freeTCPPort(t), freeTCPPort(t), freeTCPPort(t)
	wrongPin := strings.Repeat("00", 32)
	if _, err := startTestNode(t,
		"--tls-server", "name=srv", "cert="+cert, "key="+key,
		"--tls-client", "name=cli", "rootcas="+pki.caFile,
		"--tls-client", "name=pinned", "rootcas="+pki.caFile, "pinnedservercert="+wrongPin,
		"--tcp-server", "port="+pTLS, "bindaddr=127.0.0.1", "remotenode=localhost", "remoteservice=echo", "tlsserver=srv",
		"--tcp-server", "port="+pPin, "bindaddr=127.0.0.1", "remotenode=localhost", "remoteservice=echopin",
		"--tcp-server", "port="+pPlain, "bindaddr=127.0.0.1", "remotenode=localhost", "remoteservice=echoplai",
		"--tcp-client", "service=echo", "address="+echoAddr, "tlsclient=cli",
		"--tcp-client", "service=echopin", "address="+echoAddr, "tlsclient=pinned",
		"--tcp-client", "service=echoplai", "address="+echoAddr,
	); err != nil {
		t.Fatal(err)
	}
	// TLS on both ends.
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", "127.0.0.1:"+pTLS,
		&tls.Config{RootCAs: pki.pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	msg := "hello through two TLS hops\n"
	io.WriteString(c, msg)
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != msg {
		t.Fatalf("echo: %q %v", got, err)
	}
	// A plain-text client of the TLS port gets nothing back.
	pc, err := net.DialTimeout("tcp", "127.0.0.1:"+pTLS, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	pc.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(pc, msg)
	if b, _ := io.ReadAll(pc); strings.Contains(string(b), "hello") {
		t.Errorf("plain client echoed: %q", b)
	}
	// A pinned fingerprint that does not match, or plain TCP to a TLS
	// server: the local dial fails, and the client is closed unanswered.
	for _, port := range []string{pPin, pPlain} {
		pc, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		pc.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(pc, msg)
		b, _ := io.ReadAll(pc)
		pc.Close()
		if strings.Contains(string(b), "hello") {
			t.Errorf("port %s: echoed %q", port, b)
		}
	}
}
