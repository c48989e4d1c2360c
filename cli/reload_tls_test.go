package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"meshd/certs"
	"meshd/mesh"
)

// Reload with changed tls-server and tls-client entries, on real nodes
// linked over 127.0.0.1.

// linkEvents records the "link up" and "link down" lines a node logs, by
// peer, so that a test can tell a link that stayed up from one that
// dropped and came back, and why its dials failed.
type linkEvents struct {
	mu         sync.Mutex
	ups, downs map[string]int
	dialErrs   []string
}

func (h *linkEvents) Enabled(context.Context, slog.Level) bool { return true }
func (h *linkEvents) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *linkEvents) WithGroup(string) slog.Handler            { return h }

func (h *linkEvents) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message == "link to peer failed" {
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" {
				h.mu.Lock()
				h.dialErrs = append(h.dialErrs, a.Value.String())
				h.mu.Unlock()
			}
			return true
		})
		return nil
	}
	if rec.Message != "link up" && rec.Message != "link down" {
		return nil
	}
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key != "peer" {
			return true
		}
		h.mu.Lock()
		if rec.Message == "link up" {
			h.ups[a.Value.String()]++
		} else {
			h.downs[a.Value.String()]++
		}
		h.mu.Unlock()
		return false
	})
	return nil
}

// counts returns how often the link to peer came up and went down.
func (h *linkEvents) counts(peer string) (ups, downs int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ups[peer], h.downs[peer]
}

// dialFailed says whether a dial logged a failure containing what.
func (h *linkEvents) dialFailed(what string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.ContainsFunc(h.dialErrs, func(e string) bool { return strings.Contains(e, what) })
}

// tlsNode is a node started from a YAML file in its own directory, with a
// control socket there, that a test rewrites and reloads.
type tlsNode struct {
	t      *testing.T
	id     string
	dir    string
	file   string
	sock   string
	events *linkEvents
	*runningNode
}

// startTLSNode writes the node's configuration (the node and control
// entries, then extra) and starts it.
func startTLSNode(t *testing.T, id, extra string) *tlsNode {
	t.Helper()
	dir := t.TempDir()
	n := &tlsNode{t: t, id: id, dir: dir, file: filepath.Join(dir, id+".yaml"), sock: filepath.Join(dir, "ctl.sock"),
		events: &linkEvents{ups: map[string]int{}, downs: map[string]int{}}}
	n.write(extra)
	args := []string{"-c", n.file}
	cfg, err := ParseArgsConfig(args)
	if err != nil {
		t.Fatal(err)
	}
	r, err := startNode(cfg, slog.New(n.events))
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	t.Cleanup(r.Close)
	r.setReloadArgs(args)
	n.runningNode = r
	return n
}

// write replaces the node's configuration file.
func (n *tlsNode) write(extra string) {
	n.t.Helper()
	conf := fmt.Sprintf("- node: {id: %s, datadir: %s}\n- control-service: {service: control, filename: %s}\n%s",
		n.id, n.dir, n.sock, extra)
	if err := os.WriteFile(n.file, []byte(conf), 0o600); err != nil {
		n.t.Fatal(err)
	}
}

// session opens the node's control socket and reads the greeting.
func (n *tlsNode) session() (*net.UnixConn, *bufio.Reader) {
	n.t.Helper()
	c, err := net.Dial("unix", n.sock)
	if err != nil {
		n.t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	if _, err := br.ReadString('\n'); err != nil {
		n.t.Fatalf("%s: greeting: %v", n.id, err)
	}
	return c.(*net.UnixConn), br
}

// command sends one control command on the node's socket and returns
// the reply line.
func (n *tlsNode) command(line string) string {
	n.t.Helper()
	c, br := n.session()
	defer c.Close()
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		n.t.Fatal(err)
	}
	reply, err := br.ReadString('\n')
	if err != nil {
		n.t.Fatalf("%s: %s: %v", n.id, line, err)
	}
	return strings.TrimSpace(reply)
}

// reloadReply writes the node's configuration, reloads it through the
// control socket as receptorctl does, and returns the reply.
func (n *tlsNode) reloadReply(extra string) (ok bool, errText string) {
	n.t.Helper()
	n.write(extra)
	reply := n.command("reload")
	var r struct {
		Success bool
		Error   string
	}
	if err := json.Unmarshal([]byte(reply), &r); err != nil {
		n.t.Fatalf("%s: reload reply %q: %v", n.id, reply, err)
	}
	return r.Success, r.Error
}

// linkedTo says whether the node has a direct link to peer.
func (n *tlsNode) linkedTo(peer string) bool {
	return slices.ContainsFunc(n.mesh.Status().Connections, func(c mesh.Connection) bool { return c.NodeID == peer })
}

// submitSleep starts a unit of the node's sleep work type, waits until
// it runs, and cancels it when the test ends (a node's Close leaves its
// units running).
func (n *tlsNode) submitSleep() string {
	n.t.Helper()
	c, br := n.session()
	defer c.Close()
	c.Write([]byte("work submit " + n.id + " sleep\n"))
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "Work unit created") {
		n.t.Fatalf("work submit: %q %v", line, err)
	}
	c.CloseWrite()
	var started struct{ Result, UnitID string }
	line, err := br.ReadString('\n')
	if err != nil || json.Unmarshal([]byte(line), &started) != nil || started.Result != "Job Started" {
		n.t.Fatalf("work submit: %q %v", line, err)
	}
	n.t.Cleanup(func() {
		n.command("work cancel " + started.UnitID)
		waitFor(n.t, "the unit to end", func() bool { return n.unitState(started.UnitID) == 4 })
		n.command("work release " + started.UnitID)
	})
	waitFor(n.t, "the unit to run", func() bool { return n.unitState(started.UnitID) == 1 })
	return started.UnitID
}

// unitState is the State of a unit in `work status`.
func (n *tlsNode) unitState(id string) int {
	n.t.Helper()
	reply := n.command("work status " + id)
	var st struct{ State int }
	if err := json.Unmarshal([]byte(reply), &st); err != nil {
		n.t.Fatalf("work status: %q", reply)
	}
	return st.State
}

// waitFor polls cond every 10 ms until it holds, failing the test after
// 15 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// linkCertIssuer dials a link listener as a CA-mode peer would and
// returns the common name of the issuer of the certificate it presents.
func linkCertIssuer(t *testing.T, addr string) string {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{InsecureSkipVerify: true, NextProtos: []string{"meshd-link-x509/1"}, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Issuer.CommonName
}

func tlsServerEntry(name, cert, key, extra string) string {
	return fmt.Sprintf("- tls-server: {name: %s, cert: %s, key: %s%s}\n", name, cert, key, extra)
}

func tlsClientEntry(name, rootcas string) string {
	return fmt.Sprintf("- tls-client: {name: %s, rootcas: %s}\n", name, rootcas)
}

func tcpListenerEntry(port, tlsName string) string {
	if tlsName == "" {
		return "- tcp-listener: {bindaddr: 127.0.0.1, port: " + port + "}\n"
	}
	return "- tcp-listener: {bindaddr: 127.0.0.1, port: " + port + ", tls: " + tlsName + "}\n"
}

func tcpPeerEntry(port, tlsName string) string {
	if tlsName == "" {
		return "- tcp-peer: {address: 127.0.0.1:" + port + "}\n"
	}
	return "- tcp-peer: {address: 127.0.0.1:" + port + ", tls: " + tlsName + "}\n"
}

// name is the common name of the CA.
func (p *testPKI) name() string {
	p.t.Helper()
	ca, err := certs.ParseCertificate(p.caPEM)
	if err != nil {
		p.t.Fatal(err)
	}
	return ca.Subject.CommonName
}

// copyFile replaces dst's content with src's, as a certificate rotated in
// place is.
func copyFile(t *testing.T, dst string, srcs ...string) {
	t.Helper()
	var data []byte
	for _, src := range srcs {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b...)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// portOpen says whether something accepts connections on 127.0.0.1:port.
func portOpen(port string) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 5*time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// checkLinks fails the test unless the node's links to peers are up and
// came up exactly ups times (went down ups-1 times).
func (n *tlsNode) checkLinks(ups int, peers ...string) {
	n.t.Helper()
	for _, peer := range peers {
		u, d := n.events.counts(peer)
		if u != ups || d != ups-1 || !n.linkedTo(peer) {
			n.t.Errorf("%s: link to %s came up %d times and went down %d times (want %d, %d); up now: %v",
				n.id, peer, u, d, ups, ups-1, n.linkedTo(peer))
		}
	}
}

// TestReloadTLSServerCert: a tls-server entry of a link listener changed
// to a certificate of another CA (same node ID), by naming other files or
// by replacing its files in place, is used for the links accepted after
// the reload: a peer that trusts only the new CA links. The listener's
// port stays the same; the links already up (over that listener and
// another) and a running unit are not touched, and a reload that changes
// nothing leaves the listener as it is.
func TestReloadTLSServerCert(t *testing.T) {
	oldCA, newCA, thirdCA := newTestPKI(t, "old CA"), newTestPKI(t, "new CA"), newTestPKI(t, "third CA")
	oldCert, oldKey := oldCA.issue("s1", "s1")
	newCert, newKey := newCA.issue("s1", "s1")
	thirdCert, thirdKey := thirdCA.issue("s1", "s1")
	tlsPort, plainPort := freeTCPPort(t), freeTCPPort(t)
	tlsAddr := "127.0.0.1:" + tlsPort
	base := tcpListenerEntry(tlsPort, "srv") + tcpListenerEntry(plainPort, "") +
		"- work-command: {worktype: sleep, command: sleep, params: \"60\"}\n"
	s1 := startTLSNode(t, "s1", base+tlsServerEntry("srv", oldCert, oldKey, ""))
	startTLSNode(t, "c1", tcpPeerEntry(tlsPort, "cli")+tlsClientEntry("cli", oldCA.caFile))
	startTLSNode(t, "u1", tcpPeerEntry(plainPort, ""))
	waitFor(t, "s1 linked to c1 and u1", func() bool { return s1.linkedTo("c1") && s1.linkedTo("u1") })
	if got := linkCertIssuer(t, tlsAddr); got != "old CA" {
		t.Fatalf("before reload: issuer %q", got)
	}
	unit := s1.submitSleep()
	// reloadTo reloads conf and checks that new links get a certificate
	// of ca, and that peer, trusting only ca, links.
	reloadTo := func(conf string, ca *testPKI, peer string) {
		t.Helper()
		if ok, e := s1.reloadReply(conf); !ok {
			t.Fatalf("reload: %s", e)
		}
		if got, want := linkCertIssuer(t, tlsAddr), ca.name(); got != want {
			t.Errorf("after reload: links get a certificate of %q, want %q", got, want)
		}
		startTLSNode(t, peer, tcpPeerEntry(tlsPort, "cli")+tlsClientEntry("cli", ca.caFile))
		waitFor(t, "a peer trusting only "+ca.name()+" to link", func() bool { return s1.linkedTo(peer) })
	}

	// Other files.
	conf := base + tlsServerEntry("srv", newCert, newKey, "")
	reloadTo(conf, newCA, "c2")
	s1.checkLinks(1, "c1", "u1")

	// The same configuration again: nothing is reopened.
	before := maps.Clone(s1.listeners)
	if ok, e := s1.reloadReply(conf); !ok {
		t.Fatalf("unchanged reload: %s", e)
	}
	if !maps.EqualFunc(before, s1.listeners, func(a, b openListener) bool { return a.spec.X509 == b.spec.X509 }) {
		t.Errorf("an unchanged reload reopened listeners: %v, then %v", before, s1.listeners)
	}

	// The same files, rotated in place.
	copyFile(t, newCert, thirdCert)
	copyFile(t, newKey, thirdKey)
	reloadTo(conf, thirdCA, "c3")
	s1.checkLinks(1, "c1", "u1", "c2")
	if st := s1.unitState(unit); st != 1 {
		t.Errorf("the running unit is in state %d after the reloads", st)
	}
}

// TestReloadTLSServerRefused: a reload whose tls-server entry names a
// missing file, or a key that does not match its certificate (named so, or
// after the certificate alone was replaced in place), is refused with
// ERRORCODE 4 and changes nothing: the links stay up, new links still get
// the old certificate, a listener added in the same configuration is not
// opened.
func TestReloadTLSServerRefused(t *testing.T) {
	ca, otherCA := newTestPKI(t, "old CA"), newTestPKI(t, "other CA")
	cert, key := ca.issue("s1", "s1")
	otherCert, otherKey := otherCA.issue("s1", "s1")
	tlsPort, extraPort := freeTCPPort(t), freeTCPPort(t)
	base := tcpListenerEntry(tlsPort, "srv")
	s1 := startTLSNode(t, "s1", base+tlsServerEntry("srv", cert, key, ""))
	startTLSNode(t, "c1", tcpPeerEntry(tlsPort, "cli")+tlsClientEntry("cli", ca.caFile))
	waitFor(t, "s1 linked to c1", func() bool { return s1.linkedTo("c1") })

	missing := filepath.Join(t.TempDir(), "missing.crt")
	for _, tt := range []struct {
		name    string
		entry   string
		prepare func()
		want    string
	}{
		{"missing cert", tlsServerEntry("srv", missing, key, ""), nil, "missing.crt"},
		{"missing key", tlsServerEntry("srv", cert, missing, ""), nil, "read key"},
		{"key of another certificate", tlsServerEntry("srv", cert, otherKey, ""), nil, "does not match certificate"},
		{"certificate replaced in place, key not", tlsServerEntry("srv", cert, key, ""),
			func() { copyFile(t, cert, otherCert) }, "does not match certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.prepare != nil {
				tt.prepare()
			}
			ok, e := s1.reloadReply(base + tcpListenerEntry(extraPort, "") + tt.entry)
			if ok || !strings.HasSuffix(e, " ERRORCODE 4") || !strings.Contains(e, tt.want) || !strings.Contains(e, "tls-server") {
				t.Errorf("reload: success %v, %q; want ERRORCODE 4 naming the tls-server entry and %q", ok, e, tt.want)
			}
			if portOpen(extraPort) {
				t.Errorf("the refused configuration's new listener is open")
			}
			if got := linkCertIssuer(t, "127.0.0.1:"+tlsPort); got != "old CA" {
				t.Errorf("new links get a certificate of %q, want the old one", got)
			}
			s1.checkLinks(1, "c1")
		})
	}
	// The running configuration is still the one that applies: a new
	// peer that trusts only the old CA links.
	startTLSNode(t, "c2", tcpPeerEntry(tlsPort, "cli")+tlsClientEntry("cli", ca.caFile))
	waitFor(t, "a peer trusting the old CA to link", func() bool { return s1.linkedTo("c2") })
	s1.checkLinks(1, "c1")
}

// TestReloadTLSClientRootCAs: a tcp-peer's tls-client entry with other
// rootcas (another file, or its file replaced in place) takes the peer's
// link down and dials it anew under the new trust: refused while the roots
// do not lead to the server's CA, up again once they do. A link of the
// same node to another peer is not touched, and rootcas naming a missing
// file is refused with ERRORCODE 4 with the link left up.
func TestReloadTLSClientRootCAs(t *testing.T) {
	ca, otherCA := newTestPKI(t, "server CA"), newTestPKI(t, "other CA")
	cert, key := ca.issue("s1", "s1")
	tlsPort, plainPort := freeTCPPort(t), freeTCPPort(t)
	s1 := startTLSNode(t, "s1", tcpListenerEntry(tlsPort, "srv")+tlsServerEntry("srv", cert, key, ""))
	u1 := startTLSNode(t, "u1", tcpListenerEntry(plainPort, ""))
	c1base := tcpPeerEntry(tlsPort, "cli") + tcpPeerEntry(plainPort, "")
	c1 := startTLSNode(t, "c1", c1base+tlsClientEntry("cli", ca.caFile))
	waitFor(t, "c1 linked to s1 and u1", func() bool { return s1.linkedTo("c1") && u1.linkedTo("c1") })

	// A missing file: refused, the link stays.
	missing := filepath.Join(t.TempDir(), "missing-ca.crt")
	if ok, e := c1.reloadReply(c1base + tlsClientEntry("cli", missing)); ok || !strings.HasSuffix(e, " ERRORCODE 4") ||
		!strings.Contains(e, `tls-client): key "rootcas"`) {
		t.Errorf("rootcas missing: success %v, %q; want ERRORCODE 4 naming the entry", ok, e)
	}
	s1.checkLinks(1, "c1")

	// Roots of another CA: the link is dialed anew and refused.
	if ok, e := c1.reloadReply(c1base + tlsClientEntry("cli", otherCA.caFile)); !ok {
		t.Fatalf("reload: %s", e)
	}
	waitFor(t, "the link to go down and its dial to be refused", func() bool {
		_, downs := s1.events.counts("c1")
		return downs == 1 && !c1.linkedTo("s1") && c1.events.dialFailed("certificate signed by unknown authority")
	})
	// Roots that include the server's CA: up again.
	both := filepath.Join(c1.dir, "both.crt")
	copyFile(t, both, otherCA.caFile, ca.caFile)
	if ok, e := c1.reloadReply(c1base + tlsClientEntry("cli", both)); !ok {
		t.Fatalf("reload: %s", e)
	}
	waitFor(t, "the link to come back", func() bool { return s1.linkedTo("c1") })
	s1.checkLinks(2, "c1")

	// The same configuration again: the peer is not dialed anew.
	before := maps.Clone(c1.peers)
	if ok, e := c1.reloadReply(c1base + tlsClientEntry("cli", both)); !ok {
		t.Fatalf("unchanged reload: %s", e)
	}
	if !maps.EqualFunc(before, c1.peers, func(a, b mesh.PeerSpec) bool { return a.X509 == b.X509 }) {
		t.Errorf("an unchanged reload replaced peers")
	}

	// The file replaced in place (by a node of its own, whose log has not
	// reported a refused dial yet).
	roots := filepath.Join(t.TempDir(), "roots.crt")
	copyFile(t, roots, ca.caFile)
	c2conf := tcpPeerEntry(tlsPort, "cli") + tlsClientEntry("cli", roots)
	c2 := startTLSNode(t, "c2", c2conf)
	waitFor(t, "c2 linked to s1", func() bool { return s1.linkedTo("c2") })
	copyFile(t, roots, otherCA.caFile)
	if ok, e := c2.reloadReply(c2conf); !ok {
		t.Fatalf("reload: %s", e)
	}
	waitFor(t, "c2's link to go down and its dial to be refused", func() bool {
		_, downs := s1.events.counts("c2")
		return downs == 1 && !c2.linkedTo("s1") && c2.events.dialFailed("certificate signed by unknown authority")
	})
	copyFile(t, roots, ca.caFile)
	if ok, e := c2.reloadReply(c2conf); !ok {
		t.Fatalf("reload: %s", e)
	}
	waitFor(t, "c2's link to come back", func() bool { return s1.linkedTo("c2") })
	s1.checkLinks(2, "c1", "c2")
	u1.checkLinks(1, "c1")
}

// TestReloadControlTCPTLS: the TLS of a control service's tcplisten needs a
// restart: another certificate in its tls-server entry, or another (or no)
// tcptls, is refused with ERRORCODE 3, and the control service goes on
// with its certificate.
func TestReloadControlTCPTLS(t *testing.T) {
	ca, newCA := newTestPKI(t, "old CA"), newTestPKI(t, "new CA")
	cert, key := ca.issue("s1", "s1")
	newCert, newKey := newCA.issue("s1", "s1")
	addr := "127.0.0.1:" + freeTCPPort(t)
	control := func(tcptls string) string {
		return "- control-service: {service: ctls, tcplisten: \"" + addr + "\"" + tcptls + "}\n"
	}
	conf := control(", tcptls: ctls") + tlsServerEntry("ctls", cert, key, "")
	s1 := startTLSNode(t, "s1", conf)
	for name, c := range map[string]string{
		"other certificate": control(", tcptls: ctls") + tlsServerEntry("ctls", newCert, newKey, ""),
		"clientcas added":   control(", tcptls: ctls") + tlsServerEntry("ctls", cert, key, ", clientcas: "+ca.caFile),
		"tcptls removed":    control("") + tlsServerEntry("ctls", cert, key, ""),
		"other tcptls":      control(", tcptls: ctls2") + tlsServerEntry("ctls", cert, key, "") + tlsServerEntry("ctls2", newCert, newKey, ""),
	} {
		if ok, e := s1.reloadReply(c); ok || !strings.HasSuffix(e, " ERRORCODE 3") || !strings.Contains(e, "restart meshd") {
			t.Errorf("%s: success %v, %q; want ERRORCODE 3", name, ok, e)
		}
		line, c, err := ctlTLSDial(t, addr, &tls.Config{RootCAs: ca.pool, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatalf("%s: the control service's TLS changed: %v", name, err)
		}
		c.Close()
		if line != "Receptor Control, node s1\n" {
			t.Errorf("%s: greeting %q", name, line)
		}
	}
	if ok, e := s1.reloadReply(conf); !ok {
		t.Errorf("unchanged reload: %s", e)
	}
}
