package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meshd/certs"
)

// certCmd runs a cert command in dir with stdin in; it returns the output.
func certCmd(t *testing.T, dir, in string, args ...string) (string, error) {
	t.Helper()
	for i, a := range args {
		for _, f := range []string{"out", "req", "cacert", "cakey", "inkey"} {
			if v, ok := strings.CutPrefix(a, f); ok && strings.Contains(v, "=") && !strings.Contains(v, "/") {
				k, val, _ := strings.Cut(a, "=")
				args[i] = k + "=" + filepath.Join(dir, val)
			}
		}
	}
	var out bytes.Buffer
	err := runCert(strings.NewReader(in), &out, args)
	return out.String(), err
}

func loadLeaf(t *testing.T, file string) ([][]byte, *certs.VerifyOptions) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c, err := certs.ParseCertificate(data)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := certs.LoadPool(filepath.Join(filepath.Dir(file), "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{c.Raw}, &certs.VerifyOptions{Roots: pool}
}

// TestCertCommands runs init, makereq and signreq in both spellings for
// each key type and checks the certificate verifies for its node only.
func TestCertCommands(t *testing.T) {
	for _, kt := range []string{"ed25519", "ecdsa", "rsa"} {
		t.Run(kt, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := certCmd(t, dir, "", "cert", "init", "--commonname", "Mesh CA", "--keytype", kt,
				"--outcert="+filepath.Join(dir, "ca.crt"), "--outkey="+filepath.Join(dir, "ca.key")); err != nil {
				t.Fatal(err)
			}
			// receptor's spelling, mixed case keys as its docs write them
			if _, err := certCmd(t, dir, "", "--cert-makereq", "CommonName=node1", "NodeID=node1", "dnsname=localhost",
				"ipaddress=127.0.0.1", "keytype="+kt, "outreq=n1.csr", "outkey=n1.key"); err != nil {
				t.Fatal(err)
			}
			out, err := certCmd(t, dir, "yes\n", "cert", "signreq", "req=n1.csr", "cacert=ca.crt", "cakey=ca.key", "outcert=n1.crt")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "Receptor node ID: node1") || !strings.Contains(out, "fingerprint") {
				t.Errorf("signreq output:\n%s", out)
			}
			raw, opts := loadLeaf(t, filepath.Join(dir, "n1.crt"))
			opts.NodeID = "node1"
			if err := certs.VerifyPeer(raw, *opts); err != nil {
				t.Errorf("VerifyPeer(node1): %v", err)
			}
			opts.NodeID = "node2"
			if err := certs.VerifyPeer(raw, *opts); err == nil || !strings.Contains(err.Error(), "certificate is for node node1, not node2") {
				t.Errorf("VerifyPeer(node2): %v", err)
			}
			if _, err := certs.LoadCertKey(filepath.Join(dir, "n1.crt"), filepath.Join(dir, "n1.key")); err != nil {
				t.Errorf("LoadCertKey: %v", err)
			}
		})
	}
}

// TestCertReceptorBits: bits without keytype makes RSA keys, as receptor.
func TestCertReceptorBits(t *testing.T) {
	dir := t.TempDir()
	if _, err := certCmd(t, dir, "", "--cert-init", "commonname=CA", "bits=2048", "outcert=ca.crt", "outkey=ca.key"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	c, err := certs.ParseCertificate(data)
	if err != nil || c.PublicKeyAlgorithm.String() != "RSA" {
		t.Fatalf("CA key %v, %v; want RSA", c.PublicKeyAlgorithm, err)
	}
	// makereq with an existing key, then signreq with verify=true (no prompt)
	if _, err := certCmd(t, dir, "", "--cert-makereq", "commonname=n", "nodeid=n", "outreq=a.csr", "outkey=a.key"); err != nil {
		t.Fatal(err)
	}
	if _, err := certCmd(t, dir, "", "--cert-makereq", "commonname=n", "nodeid=n", "outreq=b.csr", "inkey=a.key"); err != nil {
		t.Fatal(err)
	}
	if _, err := certCmd(t, dir, "", "--cert-signreq", "req=b.csr", "cacert=ca.crt", "cakey=ca.key", "outcert=b.crt", "verify=true"); err != nil {
		t.Fatal(err)
	}
	if _, err := certs.LoadCertKey(filepath.Join(dir, "b.crt"), filepath.Join(dir, "a.key")); err != nil {
		t.Errorf("certificate for --inkey's key: %v", err)
	}
}

// TestCertExpiredAndOtherCA: notafter in the past gives a certificate
// VerifyPeer refuses as expired; one from another CA is refused.
func TestCertExpiredAndOtherCA(t *testing.T) {
	dir := t.TempDir()
	other := t.TempDir()
	for _, d := range []string{dir, other} {
		if _, err := certCmd(t, d, "", "cert", "init", "--commonname=CA", "--notbefore=-72h",
			"--outcert", filepath.Join(d, "ca.crt"), "--outkey", filepath.Join(d, "ca.key")); err != nil {
			t.Fatal(err)
		}
	}
	certCmd(t, dir, "", "cert", "makereq", "commonname=n1", "nodeid=n1", "outreq=n1.csr", "outkey=n1.key")
	if _, err := certCmd(t, dir, "", "cert", "signreq", "req=n1.csr", "cacert=ca.crt", "cakey=ca.key", "outcert=old.crt",
		"notbefore=-48h", "notafter="+time.Now().Add(-time.Hour).Format(time.RFC3339), "--verify"); err != nil {
		t.Fatal(err)
	}
	raw, opts := loadLeaf(t, filepath.Join(dir, "old.crt"))
	opts.NodeID = "n1"
	if err := certs.VerifyPeer(raw, *opts); !errors.Is(err, certs.ErrExpired) {
		t.Errorf("expired certificate: %v", err)
	}
	if _, err := certCmd(t, dir, "", "cert", "signreq", "req=n1.csr", "cacert=ca.crt", "cakey=ca.key", "outcert=n1.crt", "--verify"); err != nil {
		t.Fatal(err)
	}
	raw, _ = loadLeaf(t, filepath.Join(dir, "n1.crt"))
	_, otherOpts := loadLeaf(t, filepath.Join(other, "ca.crt"))
	otherOpts.NodeID = "n1"
	if err := certs.VerifyPeer(raw, *otherOpts); !errors.Is(err, certs.ErrUnknownAuthority) {
		t.Errorf("another CA: %v", err)
	}
}

// TestCertErrors: refused overwrites, missing flags, bad values and a
// declined prompt all fail with a message naming the problem, and leave
// no half-written files.
func TestCertErrors(t *testing.T) {
	dir := t.TempDir()
	certCmd(t, dir, "", "cert", "init", "commonname=CA", "outcert=ca.crt", "outkey=ca.key")
	certCmd(t, dir, "", "cert", "makereq", "commonname=n", "nodeid=n", "outreq=n.csr", "outkey=n.key")
	tests := []struct {
		in   string
		args []string
		want string
	}{
		{"", []string{"cert", "init", "commonname=CA", "outcert=ca.crt", "outkey=new.key"}, "ca.crt already exists"},
		{"", []string{"cert", "init", "outcert=x.crt", "outkey=x.key"}, "--commonname is required"},
		{"", []string{"cert", "init", "commonname=CA", "keytype=dsa", "outcert=x.crt", "outkey=x.key"}, `unknown key type "dsa"`},
		{"", []string{"cert", "init", "commonname=CA", "keytype=ed25519", "bits=2048", "outcert=x.crt", "outkey=x.key"}, "bits applies to rsa keys only"},
		{"", []string{"cert", "init", "commonname=CA", "notafter=soon", "outcert=x.crt", "outkey=x.key"}, "neither an RFC 3339 time"},
		{"", []string{"cert", "makereq", "commonname=n", "nodeid=n", "outreq=x.csr"}, "--outkey FILE for a new key or --inkey"},
		{"", []string{"cert", "makereq", "commonname=n", "ipaddress=1.2.3", "outreq=x.csr", "outkey=x.key"}, `"1.2.3" is not an IP address`},
		{"", []string{"cert", "makereq", "commonname=n", "outreq=x.csr", "inkey=ca.crt"}, "no PEM private key"},
		{"", []string{"cert", "makereq", "commonname=n", "outreq=x.csr", "outkey=n.key"}, "n.key already exists"},
		{"no\n", []string{"cert", "signreq", "req=n.csr", "cacert=ca.crt", "cakey=ca.key", "outcert=x.crt"}, "not signed"},
		{"", []string{"cert", "signreq", "req=n.csr", "cacert=ca.crt", "cakey=n.key", "outcert=x.crt", "verify=true"}, "CA key does not match"},
		{"", []string{"cert", "signreq", "req=ca.crt", "cacert=ca.crt", "cakey=ca.key", "outcert=x.crt", "verify=true"}, "no PEM certificate request"},
		{"", []string{"cert", "signreq", "req=missing.csr", "cacert=ca.crt", "cakey=ca.key", "outcert=x.crt"}, "missing.csr"},
		{"", []string{"cert", "frobnicate"}, `unknown command "frobnicate"`},
	}
	for _, tt := range tests {
		_, err := certCmd(t, dir, tt.in, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
		}
	}
	for _, f := range []string{"x.crt", "x.key", "x.csr", "new.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s was written by a failed command", f)
		}
	}
}

func TestCertTimes(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2030-01-02T03:04:05Z": time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		"8760h":                now.Add(8760 * time.Hour),
		"+30d":                 now.AddDate(0, 0, 30),
		"10y":                  now.AddDate(10, 0, 0),
		"-1h":                  now.Add(-time.Hour),
	} {
		if got, err := parseCertTime(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseCertTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "1dd", "tomorrow"} {
		if _, err := parseCertTime(bad, now); err == nil {
			t.Errorf("parseCertTime(%q) accepted", bad)
		}
	}
}
