package cli

import (
	"testing"
)

// nodeIdentity takes the certificate naming the node from the tls
// entries its links use, and pools the CAs of those that verify peers.
func TestNodeIdentity(t *testing.T) {
	mesh, other := newTestPKI(t, "Mesh CA"), newTestPKI(t, "Other CA")
	n1Cert, n1Key := mesh.issue("n1", "n1")
	n9Cert, n9Key := mesh.issue("n9", "n9")
	parse := func(args ...string) linkIdentity {
		t.Helper()
		cfg, err := ParseArgsConfig(append([]string{"--node", "id=n1", "datadir=" + t.TempDir()}, args...))
		if err != nil {
			t.Fatal(err)
		}
		lt, err := loadTLSEntries(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return nodeIdentity(cfg, lt)
	}
	server := func(cert, key string, extra ...string) []string {
		return append([]string{"--tls-server", "name=srv", "cert=" + cert, "key=" + key}, extra...)
	}
	listener := []string{"--tcp-listener", "port=0", "tls=srv"}
	peer := []string{"--tcp-peer", "address=127.0.0.1:1", "tls=cli"}

	t.Run("no tls links", func(t *testing.T) {
		// An unused entry counts for nothing.
		id := parse(server(n1Cert, n1Key, "clientcas="+mesh.caFile)...)
		if id.caLinks || id.cert != nil || id.roots != nil {
			t.Fatalf("%+v", id)
		}
	})
	t.Run("server and client entries", func(t *testing.T) {
		args := append(server(n9Cert, n9Key, "clientcas="+mesh.caFile), listener...)
		args = append(args, "--tls-client", "name=cli", "cert="+n1Cert, "key="+n1Key, "rootcas="+other.caFile)
		id := parse(append(args, peer...)...)
		if id.cert == nil || id.from != "tls-client cli" || !names(id.cert, "n1") {
			t.Fatalf("advertised under %q", id.from)
		}
		if id.roots == nil || id.cas != 2 {
			t.Fatalf("%d CAs", id.cas)
		}
	})
	t.Run("entries that verify nothing add no CA", func(t *testing.T) {
		args := append(server(n1Cert, n1Key), listener...) // no clientcas: clients not verified
		args = append(args, "--tls-client", "name=cli", "rootcas="+mesh.caFile, "insecureskipverify=true")
		id := parse(append(args, peer...)...)
		if id.from != "tls-server srv" || id.roots != nil || !id.caLinks {
			t.Fatalf("%+v", id)
		}
	})
}
