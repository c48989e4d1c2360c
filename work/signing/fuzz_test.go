package signing

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The seed corpora are in testdata/fuzz/<FuzzName>: valid, expired,
// truncated, relabelled and malformed tokens for FuzzVerify, and every key
// fixture of testdata/keys (plus garbage) for the key parsers.

// FuzzVerify checks that Verify never panics, and that whatever it accepts
// is a valid, unexpired claim set. Its keys are the ed25519 and RSA fixtures
// that signed the valid seeds.
func FuzzVerify(f *testing.F) {
	keys := []crypto.PublicKey{mustLoadPublic(f, "ed25519.pub.pem"), mustLoadPublic(f, "rsa.pub.pem")}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := Verify(token, keys, testNow)
		if err != nil {
			return
		}
		if err := c.validate(); err != nil {
			t.Fatalf("Verify accepted invalid claims %+v: %v", c, err)
		}
		if !c.Expires.After(testNow) {
			t.Fatalf("Verify accepted claims expired at %v", c.Expires)
		}
		if err := c.Expect(c); err != nil {
			t.Fatalf("claims do not match themselves: %v", err)
		}
	})
}

// FuzzParsePrivateKey checks that ParsePrivateKey never panics, and that a
// key it accepts is a supported key that signs tokens its public half
// verifies, and that ParsePublicKey finds the same public half.
func FuzzParsePrivateKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := ParsePrivateKey(data)
		if err != nil {
			return
		}
		switch k := key.(type) {
		case ed25519.PrivateKey:
		case *rsa.PrivateKey:
			if k.N.BitLen() < MinRSABits {
				t.Fatalf("accepted a %d-bit RSA key", k.N.BitLen())
			}
		default:
			t.Fatalf("accepted a %T", key)
		}
		pub, err := ParsePublicKey(data)
		if err != nil {
			t.Fatalf("ParsePublicKey refuses a private key ParsePrivateKey accepts: %v", err)
		}
		if !samePublicKey(pub, key.Public()) {
			t.Fatal("ParsePublicKey found another public key")
		}
		token, err := Sign(key, Claims{Command: "cancel", Node: "n", UnitID: "u", Expires: testExpires})
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if _, err := Verify(token, []crypto.PublicKey{pub}, testNow); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
}

// FuzzParsePublicKey checks that ParsePublicKey never panics and accepts
// only supported keys.
func FuzzParsePublicKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := ParsePublicKey(data)
		if err != nil {
			return
		}
		switch k := key.(type) {
		case ed25519.PublicKey:
			if len(k) != ed25519.PublicKeySize {
				t.Fatalf("accepted a %d-byte Ed25519 key", len(k))
			}
		case *rsa.PublicKey:
			if k.N.BitLen() < MinRSABits {
				t.Fatalf("accepted a %d-bit RSA key", k.N.BitLen())
			}
		default:
			t.Fatalf("accepted a %T", key)
		}
	})
}

// The valid-* seeds of FuzzVerify still verify, so the fuzzer starts from
// tokens that reach every check.
func TestFuzzVerifyValidSeeds(t *testing.T) {
	keys := []crypto.PublicKey{mustLoadPublic(t, "ed25519.pub.pem"), mustLoadPublic(t, "rsa.pub.pem")}
	for _, name := range []string{"valid-ed25519", "valid-rsa"} {
		data, err := os.ReadFile(filepath.Join("testdata/fuzz/FuzzVerify", name))
		if err != nil {
			t.Fatal(err)
		}
		_, value, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
		token, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(value, "string("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := Verify(token, keys, testNow); err != nil {
			t.Errorf("seed %s: %v", name, err)
		}
	}
}
