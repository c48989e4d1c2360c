package signing

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const keyDir = "testdata/keys"

// fixture returns the path of a key fixture in testdata/keys (see gen.sh).
func fixture(name string) string { return filepath.Join(keyDir, name) }

func mustLoadPrivate(t testing.TB, name string) crypto.Signer {
	t.Helper()
	key, err := LoadPrivateKey(fixture(name))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func mustLoadPublic(t testing.TB, name string) crypto.PublicKey {
	t.Helper()
	key, err := LoadPublicKey(fixture(name))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func samePublicKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// Every format of one key gives the same key, for both Load functions.
func TestLoadFixtureFormats(t *testing.T) {
	for _, tc := range []struct {
		want    string // PKIX public key file
		private []string
		public  []string
	}{
		{
			want:    "ed25519.pub.pem",
			private: []string{"ed25519.pem", "ed25519.openssh"},
			public:  []string{"ed25519.openssh.pub"},
		},
		{
			want:    "rsa.pub.pem",
			private: []string{"rsa-pkcs1.pem", "rsa-pkcs8.pem", "rsa.openssh"},
			public:  []string{"rsa-pkcs1.pub.pem", "rsa.openssh.pub"},
		},
	} {
		want := mustLoadPublic(t, tc.want)
		switch k := want.(type) {
		case ed25519.PublicKey:
		case *rsa.PublicKey:
			if k.N.BitLen() != 2048 {
				t.Errorf("%s: %d bits, want 2048", tc.want, k.N.BitLen())
			}
		default:
			t.Fatalf("%s: got %T", tc.want, want)
		}
		for _, name := range tc.private {
			priv := mustLoadPrivate(t, name)
			if _, ok := priv.(*ed25519.PrivateKey); ok {
				t.Errorf("%s: got *ed25519.PrivateKey, want a value", name)
			}
			if !samePublicKey(priv.Public(), want) {
				t.Errorf("%s: private key's public half differs from %s", name, tc.want)
			}
			if pub := mustLoadPublic(t, name); !samePublicKey(pub, want) {
				t.Errorf("LoadPublicKey(%s) differs from %s", name, tc.want)
			}
		}
		for _, name := range tc.public {
			if pub := mustLoadPublic(t, name); !samePublicKey(pub, want) {
				t.Errorf("%s differs from %s", name, tc.want)
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		file    string
		private bool // LoadPrivateKey, else LoadPublicKey
		want    string
	}{
		{"ecdsa.pem", true, "unsupported key type *ecdsa.PrivateKey: use an Ed25519 or RSA key"},
		{"ecdsa-pkcs8.pem", true, "unsupported key type *ecdsa.PrivateKey"},
		{"ecdsa.openssh", true, "unsupported key type *ecdsa.PrivateKey"},
		{"ecdsa.pem", false, "unsupported key type *ecdsa.PrivateKey"},
		{"ecdsa.openssh.pub", false, `unsupported OpenSSH key type "ecdsa-sha2-nistp256"`},
		{"ecdsa.openssh.pub", true, "found an OpenSSH public key, not a private key"},
		{"encrypted.openssh", true, "key is encrypted with a passphrase; meshd needs an unencrypted key"},
		{"encrypted.openssh", false, "key is encrypted with a passphrase"},
		{"encrypted-pkcs8.pem", true, "key is encrypted with a passphrase"},
		{"encrypted-pkcs1.pem", true, "key is encrypted with a passphrase"},
		{"rsa1024.pem", true, "RSA key is 1024 bits: meshd needs at least 2048"},
		{"rsa1024.pem", false, "RSA key is 1024 bits"},
		{"ed25519.pub.pem", true, `found a PEM "PUBLIC KEY" block, which is not a private key`},
		{"rsa-pkcs1.pub.pem", true, `found a PEM "RSA PUBLIC KEY" block, which is not a private key`},
		{"ed25519.openssh.pub", true, "found an OpenSSH public key, not a private key"},
		{"gen.sh", true, "no PEM or OpenSSH private key found"},
		{"gen.sh", false, "no PEM public key, OpenSSH public key line or private key found"},
		{"missing.pem", true, "no such file"},
		{"missing.pem", false, "no such file"},
	} {
		var err error
		if tc.private {
			_, err = LoadPrivateKey(fixture(tc.file))
		} else {
			_, err = LoadPublicKey(fixture(tc.file))
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.file) {
			t.Errorf("Load(%s, private=%v) error %v, want it to name the file and contain %q", tc.file, tc.private, err, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	read := func(name string) string {
		data, err := os.ReadFile(fixture(name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	pemBlock := func(typ string, body []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: body}))
	}
	for _, tc := range []struct {
		name, data, wantPriv, wantPub string
	}{
		{"empty", "", "key data is empty", "key data is empty"},
		{"blank", " \n\t\n", "key data is empty", "key data is empty"},
		{"garbage", "\x00\x01hello", "no PEM or OpenSSH private key found", "no PEM public key"},
		{"oversize", strings.Repeat("A", MaxKeyFile+1), "larger than", "larger than"},
		{"certificate only", pemBlock("CERTIFICATE", []byte("x")), `found PEM block "CERTIFICATE" but no key`, `found PEM block "CERTIFICATE" but no key`},
		{"DSA", pemBlock("DSA PRIVATE KEY", []byte("x")), `unsupported key type: PEM "DSA PRIVATE KEY" block`, `unsupported key type: PEM "DSA PRIVATE KEY" block`},
		{"unknown key block", pemBlock("FOO KEY", []byte("x")), `found a PEM "FOO KEY" block, which is not a private key`, `unsupported PEM block "FOO KEY"`},
		{"corrupt PKCS#8", pemBlock("PRIVATE KEY", []byte("x")), `PEM "PRIVATE KEY" block: asn1`, `PEM "PRIVATE KEY" block: asn1`},
		{"corrupt PKIX", pemBlock("PUBLIC KEY", []byte("x")), `found a PEM "PUBLIC KEY" block`, `PEM "PUBLIC KEY" block: asn1`},
		{"two PEM keys", read("ed25519.pem") + read("rsa-pkcs1.pem"), "more than one PEM key block", "more than one PEM key block"},
		{"two OpenSSH lines", read("ed25519.openssh.pub") + read("rsa.openssh.pub"), "OpenSSH public key, not a private key", "more than one OpenSSH public key line"},
		{"broken OpenSSH line", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA broken\n", "no PEM or OpenSSH private key found", "malformed OpenSSH public key line"},
	} {
		if _, err := ParsePrivateKey([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.wantPriv) {
			t.Errorf("%s: ParsePrivateKey error %v, want %q", tc.name, err, tc.wantPriv)
		}
		if _, err := ParsePublicKey([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.wantPub) {
			t.Errorf("%s: ParsePublicKey error %v, want %q", tc.name, err, tc.wantPub)
		}
	}
}

// Comment lines, options and a trailing comment around an OpenSSH key line
// are allowed, as in authorized_keys.
func TestParsePublicKeyAuthorizedKeysLine(t *testing.T) {
	want := mustLoadPublic(t, "ed25519.pub.pem")
	line, err := os.ReadFile(fixture("ed25519.openssh.pub"))
	if err != nil {
		t.Fatal(err)
	}
	data := "# the signing host\n\n" + `from="10.0.0.1",no-pty ` + string(line)
	got, err := ParsePublicKey([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if !samePublicKey(got, want) {
		t.Error("key differs from ed25519.pub.pem")
	}
}

func TestLoadOversizeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.pem")
	if err := os.WriteFile(path, bytes.Repeat([]byte("A"), MaxKeyFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, load := range []func(string) (any, error){
		func(p string) (any, error) { return LoadPrivateKey(p) },
		func(p string) (any, error) { return LoadPublicKey(p) },
	} {
		if _, err := load(path); err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("error %v, want one saying the file is too large", err)
		}
	}
}

func TestGenerateEd25519(t *testing.T) {
	priv, privPEM, pubPEM, err := GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(privPEM, []byte("-----BEGIN PRIVATE KEY-----\n")) || !bytes.HasPrefix(pubPEM, []byte("-----BEGIN PUBLIC KEY-----\n")) {
		t.Fatalf("unexpected PEM:\n%s%s", privPEM, pubPEM)
	}
	parsed, err := ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !samePublicKey(parsed.Public(), priv.Public()) || !samePublicKey(pub, priv.Public()) {
		t.Fatal("PEM encodings do not hold the generated key")
	}
	roundTrip(t, priv, pub)
}

// Keys made by the tools users use, now, round trip: this catches format
// changes in newer ssh-keygen and openssl that the fixtures cannot.
func TestToolGeneratedKeys(t *testing.T) {
	run := func(t *testing.T, dir string, name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	check := func(t *testing.T, privPath, pubPath string) {
		t.Helper()
		priv, err := LoadPrivateKey(privPath)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := LoadPublicKey(pubPath)
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, priv, pub)
	}
	t.Run("ssh-keygen", func(t *testing.T) {
		if _, err := exec.LookPath("ssh-keygen"); err != nil {
			t.Skip("ssh-keygen is not installed: only the checked-in fixtures are tested")
		}
		dir := t.TempDir()
		for _, typ := range []string{"ed25519", "rsa"} {
			run(t, dir, "ssh-keygen", "-q", "-t", typ, "-N", "", "-C", "test", "-f", "id_"+typ)
			check(t, filepath.Join(dir, "id_"+typ), filepath.Join(dir, "id_"+typ+".pub"))
		}
	})
	t.Run("openssl", func(t *testing.T) {
		if _, err := exec.LookPath("openssl"); err != nil {
			t.Skip("openssl is not installed: only the checked-in fixtures are tested")
		}
		dir := t.TempDir()
		run(t, dir, "openssl", "genpkey", "-algorithm", "ed25519", "-out", "ed.pem")
		run(t, dir, "openssl", "pkey", "-in", "ed.pem", "-pubout", "-out", "ed.pub.pem")
		check(t, filepath.Join(dir, "ed.pem"), filepath.Join(dir, "ed.pub.pem"))
		run(t, dir, "openssl", "genrsa", "-traditional", "-out", "rsa1.pem", "2048")
		run(t, dir, "openssl", "pkcs8", "-topk8", "-nocrypt", "-in", "rsa1.pem", "-out", "rsa8.pem")
		run(t, dir, "openssl", "rsa", "-in", "rsa1.pem", "-pubout", "-out", "rsa.pub.pem")
		run(t, dir, "openssl", "rsa", "-in", "rsa1.pem", "-RSAPublicKey_out", "-out", "rsa1.pub.pem")
		check(t, filepath.Join(dir, "rsa1.pem"), filepath.Join(dir, "rsa.pub.pem"))
		check(t, filepath.Join(dir, "rsa8.pem"), filepath.Join(dir, "rsa1.pub.pem"))
	})
}
