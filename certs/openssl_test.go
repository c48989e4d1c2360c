package certs

import (
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// opensslReq is an openssl config for a request carrying a receptor-style
// otherName, written the way receptor's documentation shows for openssl.
const opensslReq = `[req]
distinguished_name = dn
req_extensions = ext
prompt = no
[dn]
CN = node1
[ext]
subjectAltName = DNS:localhost, otherName:1.3.6.1.4.1.2312.19.1;UTF8:node1
`

func openssl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestOpenSSLInterop signs an openssl-made request carrying a receptor
// otherName and checks the node ID survives, then has openssl verify the
// chain and read the otherName of a certificate made here.
func TestOpenSSLInterop(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "req.cnf"), []byte(opensslReq))
	for _, kt := range []string{"ed25519", "rsa:2048", "ec"} {
		t.Run(kt, func(t *testing.T) {
			args := []string{"req", "-new", "-nodes", "-config", "req.cnf", "-keyout", "node.key", "-out", "node.csr"}
			if kt == "ec" {
				args = append(args, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256")
			} else {
				args = append(args, "-newkey", kt)
			}
			openssl(t, dir, args...)
			csr, err := os.ReadFile(filepath.Join(dir, "node.csr"))
			if err != nil {
				t.Fatal(err)
			}
			p := newPKI(t, Ed25519, "unused", SignOptions{})
			certPEM, err := SignRequest(csr, p.caCert, p.caKey, SignOptions{})
			if err != nil {
				t.Fatalf("SignRequest(openssl request): %v", err)
			}
			leaf, _ := ParseCertificate(certPEM)
			if ids, err := NodeIDs(leaf); err != nil || !slices.Equal(ids, []string{"node1"}) {
				t.Fatalf("NodeIDs = %q, %v", ids, err)
			}
			if err := VerifyPeer([][]byte{leaf.Raw}, VerifyOptions{Roots: p.pool, NodeID: "node1"}); err != nil {
				t.Fatalf("VerifyPeer: %v", err)
			}
			writeFile(t, filepath.Join(dir, "node.crt"), certPEM)
			writeFile(t, filepath.Join(dir, "ca.crt"), p.caCert)
			if _, err := LoadCertKey(filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key")); err != nil {
				t.Errorf("LoadCertKey(openssl key): %v", err)
			}
			if out := openssl(t, dir, "verify", "-CAfile", "ca.crt", "node.crt"); !strings.Contains(out, "OK") {
				t.Errorf("openssl verify: %s", out)
			}
		})
	}
	// openssl reads the otherName meshd writes.
	p := newPKI(t, ECDSA, "meshnode", SignOptions{})
	writeFile(t, filepath.Join(dir, "mesh.crt"), p.cert)
	out := openssl(t, dir, "x509", "-in", "mesh.crt", "-noout", "-text")
	if !strings.Contains(out, "1.3.6.1.4.1.2312.19.1") || !strings.Contains(out, "meshnode") {
		t.Errorf("openssl does not show the otherName:\n%s", out)
	}
}

// TestOpenSSLFixture signs a request made once by openssl 3 from the
// config above (testdata/openssl-node1.csr, Ed25519), so the interop is
// checked where openssl is not installed.
func TestOpenSSLFixture(t *testing.T) {
	csr, err := os.ReadFile("testdata/openssl-node1.csr")
	if err != nil {
		t.Fatal(err)
	}
	p := newPKI(t, RSA, "unused", SignOptions{})
	certPEM, err := SignRequest(csr, p.caCert, p.caKey, SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := ParseCertificate(certPEM)
	if err := VerifyPeer([][]byte{leaf.Raw}, VerifyOptions{Roots: p.pool, NodeID: "node1", Usage: x509.ExtKeyUsageServerAuth}); err != nil {
		t.Fatal(err)
	}
	if err := VerifyPeer([][]byte{leaf.Raw}, VerifyOptions{Roots: p.pool, NodeID: "node2"}); err == nil {
		t.Fatal("accepted for node2")
	}
}
