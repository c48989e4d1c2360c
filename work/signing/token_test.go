package signing

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"maps"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var (
	testNow     = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	testExpires = testNow.Add(time.Minute)
)

func submitClaims() Claims {
	return Claims{
		Command:  "submit",
		Node:     "n2",
		UnitID:   "Ab3dEf7h",
		WorkType: "echo",
		Params:   map[string]string{"params": "-c 'echo hi'", "secret_x": "1"},
		Payload:  strings.Repeat("0a", 32),
		Expires:  testExpires.Add(900 * time.Millisecond),
	}
}

// roundTrip signs claims for every command with priv and verifies them with
// pub.
func roundTrip(t *testing.T, priv crypto.Signer, pub crypto.PublicKey) {
	t.Helper()
	for _, c := range []Claims{
		submitClaims(),
		{Command: "cancel", Node: "n3", UnitID: "u1", Expires: testExpires},
		{Command: "release", Node: "n3", UnitID: "u1", Expires: testExpires},
		{Command: "results", Node: "n3", UnitID: "u1", Expires: testExpires},
		{Command: "submit", Node: "n3", WorkType: "cat", Params: map[string]string{}, Expires: testExpires},
	} {
		token, err := Sign(priv, c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Verify(token, []crypto.PublicKey{pub}, testNow)
		if err != nil {
			t.Fatalf("Verify(Sign(%+v)): %v", c, err)
		}
		if err := got.Expect(c); err != nil {
			t.Errorf("Expect: %v", err)
		}
		want := c
		want.Expires = c.Expires.Truncate(time.Second)
		if len(want.Params) == 0 {
			want.Params = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Verify = %+v, want %+v", got, want)
		}
	}
}

func TestSignVerifyFixtures(t *testing.T) {
	for _, tc := range []struct{ priv, pub string }{
		{"ed25519.pem", "ed25519.pub.pem"},
		{"ed25519.openssh", "ed25519.openssh.pub"},
		{"ed25519.pem", "ed25519.openssh.pub"},
		{"rsa-pkcs1.pem", "rsa-pkcs1.pub.pem"},
		{"rsa-pkcs8.pem", "rsa.pub.pem"},
		{"rsa.openssh", "rsa.openssh.pub"},
		{"rsa-pkcs1.pem", "rsa.openssh.pub"},
	} {
		t.Run(tc.priv+"+"+tc.pub, func(t *testing.T) {
			roundTrip(t, mustLoadPrivate(t, tc.priv), mustLoadPublic(t, tc.pub))
		})
	}
}

func TestTokenFormat(t *testing.T) {
	c := Claims{Command: "cancel", Node: "n2", UnitID: "u1", Expires: time.Unix(1767225600, 0)}
	token, err := Sign(mustLoadPrivate(t, "ed25519.pem"), c)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		t.Fatalf("token %q: want v1.<claims>.<signature>", token)
	}
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"alg":"EdDSA","cmd":"cancel","node":"n2","unit":"u1","exp":1767225600}`
	if string(claims) != want {
		t.Errorf("claims %s, want %s", claims, want)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	pub := mustLoadPublic(t, "ed25519.pub.pem").(ed25519.PublicKey)
	if !ed25519.Verify(pub, []byte("meshd work signature v1\x00"+want), sig) {
		t.Error("signature is not over the domain prefix and the claims bytes")
	}

	token, err = Sign(mustLoadPrivate(t, "rsa-pkcs1.pem"), c)
	if err != nil {
		t.Fatal(err)
	}
	claims, _ = base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	if !strings.HasPrefix(string(claims), `{"alg":"RS512",`) {
		t.Errorf("RSA claims %s, want alg RS512", claims)
	}
}

// forge returns token with its claims replaced by edit(claims), re-encoded
// the way Sign encodes them, keeping the original signature.
func forge(t *testing.T, token string, edit func(*wireClaims)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var w wireClaims
	if err := json.Unmarshal(raw, &w); err != nil {
		t.Fatal(err)
	}
	edit(&w)
	raw, err = json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
}

// signRaw returns a token over arbitrary claims bytes, signed with an
// Ed25519 key.
func signRaw(key ed25519.PrivateKey, claims string) string {
	sig := ed25519.Sign(key, []byte(signedPrefix+claims))
	enc := base64.RawURLEncoding
	return "v1." + enc.EncodeToString([]byte(claims)) + "." + enc.EncodeToString(sig)
}

func TestVerifyRefusesTamperedClaims(t *testing.T) {
	for _, keyName := range []string{"ed25519.pem", "rsa-pkcs1.pem"} {
		priv := mustLoadPrivate(t, keyName)
		keys := []crypto.PublicKey{priv.Public()}
		token, err := Sign(priv, submitClaims())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(forge(t, token, func(*wireClaims) {}), keys, testNow); err != nil {
			t.Fatalf("%s: re-encoding the claims unchanged: %v", keyName, err)
		}
		withParams := func(edit func(map[string]string)) func(*wireClaims) {
			return func(w *wireClaims) {
				p := maps.Clone(w.Params)
				edit(p)
				w.Params = p
			}
		}
		for field, edit := range map[string]func(*wireClaims){
			"cmd":      func(w *wireClaims) { w.Command = "cancel" },
			"node":     func(w *wireClaims) { w.Node = "n3" },
			"unit":     func(w *wireClaims) { w.UnitID = "other" },
			"worktype": func(w *wireClaims) { w.WorkType = "shell" },
			"params":   withParams(func(p map[string]string) { p["params"] = "-c 'rm -rf /'" }),
			"params+":  withParams(func(p map[string]string) { p["extra"] = "1" }),
			"params-":  withParams(func(p map[string]string) { delete(p, "secret_x") }),
			"payload":  func(w *wireClaims) { w.Payload = strings.Repeat("0b", 32) },
			"exp":      func(w *wireClaims) { exp := *w.Exp + 3600; w.Exp = &exp },
			"alg":      func(w *wireClaims) { w.Alg = map[string]string{algEdDSA: algRS512, algRS512: algEdDSA}[w.Alg] },
		} {
			_, err := Verify(forge(t, token, edit), keys, testNow)
			if err == nil || !strings.HasPrefix(err.Error(), "signature ") || !strings.Contains(err.Error(), " verify") {
				t.Errorf("%s: tampered %s: error %v, want a signature failure", keyName, field, err)
			}
		}
		parts := strings.Split(token, ".")
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sig[len(sig)/2] ^= 1
		bad := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
		if _, err := Verify(bad, keys, testNow); err == nil {
			t.Errorf("%s: flipped signature bit accepted", keyName)
		}
	}
}

func TestVerifyExpiry(t *testing.T) {
	priv := mustLoadPrivate(t, "ed25519.pem")
	keys := []crypto.PublicKey{priv.Public()}
	c := submitClaims()
	token, err := Sign(priv, c)
	if err != nil {
		t.Fatal(err)
	}
	exp := c.Expires.Truncate(time.Second)
	if _, err := Verify(token, keys, exp.Add(-time.Nanosecond)); err != nil {
		t.Errorf("just before expiry: %v", err)
	}
	for _, now := range []time.Time{exp, exp.Add(time.Hour)} {
		_, err := Verify(token, keys, now)
		want := "signature expired at " + exp.Format(time.RFC3339)
		if err == nil || err.Error() != want {
			t.Errorf("at %v: error %v, want %q", now, err, want)
		}
	}
}

func TestVerifyKeySelection(t *testing.T) {
	ed := mustLoadPrivate(t, "ed25519.pem")
	rs := mustLoadPrivate(t, "rsa-pkcs1.pem")
	other, _, _, err := GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	edToken, err := Sign(ed, submitClaims())
	if err != nil {
		t.Fatal(err)
	}
	rsToken, err := Sign(rs, submitClaims())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		token string
		keys  []crypto.PublicKey
		want  string // "" for success
	}{
		{"right key among others", edToken, []crypto.PublicKey{rs.Public(), other.Public(), ed.Public()}, ""},
		{"RSA among others", rsToken, []crypto.PublicKey{other.Public(), rs.Public()}, ""},
		{"wrong key", edToken, []crypto.PublicKey{other.Public()}, "signature does not verify with any configured key"},
		{"no keys", edToken, nil, "verifying key not specified"},
		{"EdDSA token, RSA keys only", edToken, []crypto.PublicKey{rs.Public()}, "signature is EdDSA but no Ed25519 verifying key is configured"},
		{"RS512 token, Ed25519 keys only", rsToken, []crypto.PublicKey{ed.Public()}, "signature is RS512 but no RSA verifying key is configured"},
		{"unusable keys are ignored", edToken, []crypto.PublicKey{nil, (*rsa.PublicKey)(nil), ed25519.PublicKey{1, 2}, "x"}, "no Ed25519 verifying key"},
	} {
		_, err := Verify(tc.token, tc.keys, testNow)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// A token cannot choose a weaker or different check than its key's.
func TestVerifyAlgConfusion(t *testing.T) {
	ed := mustLoadPrivate(t, "ed25519.pem").(ed25519.PrivateKey)
	rs := mustLoadPrivate(t, "rsa-pkcs1.pem")
	keys := []crypto.PublicKey{ed.Public(), rs.Public()}
	exp := testExpires.Unix()
	claims := func(alg string) string {
		return `{"alg":"` + alg + `","cmd":"cancel","node":"n2","unit":"u1","exp":` + jsonInt(exp) + `}`
	}
	// An Ed25519 signature presented as RS512: only RSA keys are tried.
	if _, err := Verify(signRaw(ed, claims("RS512")), keys, testNow); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("Ed25519 signature labelled RS512: error %v", err)
	}
	// An RS512 signature labelled EdDSA.
	token, err := Sign(rs, Claims{Command: "cancel", Node: "n2", UnitID: "u1", Expires: testExpires})
	if err != nil {
		t.Fatal(err)
	}
	relabelled := forge(t, token, func(w *wireClaims) { w.Alg = algEdDSA })
	if _, err := Verify(relabelled, keys, testNow); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("RSA signature labelled EdDSA: error %v", err)
	}
	for _, alg := range []string{"none", "HS512", "RS256", "PS512", "eddsa", ""} {
		enc := base64.RawURLEncoding
		unsigned := "v1." + enc.EncodeToString([]byte(claims(alg))) + "."
		for _, token := range []string{unsigned, signRaw(ed, claims(alg))} {
			if _, err := Verify(token, keys, testNow); err == nil || !strings.Contains(err.Error(), "unsupported signature algorithm") {
				t.Errorf("alg %q: error %v, want unsupported algorithm", alg, err)
			}
		}
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestVerifyMalformed(t *testing.T) {
	ed := mustLoadPrivate(t, "ed25519.pem").(ed25519.PrivateKey)
	keys := []crypto.PublicKey{ed.Public()}
	exp := jsonInt(testExpires.Unix())
	enc := base64.RawURLEncoding
	for _, tc := range []struct{ name, token, want string }{
		{"empty", "", "signature is empty"},
		{"oversize", "v1." + strings.Repeat("A", MaxToken), "longer than"},
		{"JWT", "eyJhbGciOiJSUzUxMiJ9.e30.c2ln", "not a meshd v1 token"},
		{"v2", "v2.e30.c2ln", `unsupported signature version "v2"`},
		{"no parts", "v1", "malformed signature"},
		{"one part", "v1.e30", "malformed signature"},
		{"four parts", "v1.e30.c2ln.x", "malformed signature"},
		{"bad base64 claims", "v1.e3!.c2ln", "malformed signature claims"},
		{"padded base64", "v1.e30=.c2ln", "malformed signature claims"},
		{"bad base64 signature", "v1.e30.c2l*", "malformed signature"},
		{"claims not JSON", signRaw(ed, "not json"), "malformed signature claims"},
		{"claims an array", signRaw(ed, "[]"), "malformed signature claims"},
		{"unknown field", signRaw(ed, `{"alg":"EdDSA","cmd":"cancel","node":"n2","unit":"u1","exp":`+exp+`,"admin":true}`), `unknown field "admin"`},
		{"trailing data", signRaw(ed, `{"alg":"EdDSA","cmd":"cancel","node":"n2","unit":"u1","exp":`+exp+`}{}`), "data after the claims object"},
		{"missing exp", signRaw(ed, `{"alg":"EdDSA","cmd":"cancel","node":"n2","unit":"u1"}`), "signature has no expiry"},
		{"null exp", signRaw(ed, `{"alg":"EdDSA","cmd":"cancel","node":"n2","unit":"u1","exp":null}`), "signature has no expiry"},
		{"fractional exp", signRaw(ed, `{"alg":"EdDSA","cmd":"cancel","node":"n2","unit":"u1","exp":1.5}`), "malformed signature claims"},
		{"unknown command", signRaw(ed, `{"alg":"EdDSA","cmd":"shell","node":"n2","unit":"u1","exp":`+exp+`}`), `signature claims: unknown command "shell"`},
		{"no node", signRaw(ed, `{"alg":"EdDSA","cmd":"cancel","node":"","unit":"u1","exp":`+exp+`}`), "signature claims: no node"},
		{"bad payload", signRaw(ed, `{"alg":"EdDSA","cmd":"submit","node":"n2","unit":"u1","payload":"xyz","exp":`+exp+`}`), "not a lower-case hex SHA-256"},
		{"empty signature", "v1." + enc.EncodeToString([]byte(`{"alg":"EdDSA","cmd":"cancel","node":"n2","unit":"u1","exp":`+exp+`}`)) + ".", "does not verify"},
	} {
		_, err := Verify(tc.token, keys, testNow)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestVerifyTruncated(t *testing.T) {
	for _, name := range []string{"ed25519.pem", "rsa-pkcs1.pem"} {
		priv := mustLoadPrivate(t, name)
		keys := []crypto.PublicKey{priv.Public()}
		token, err := Sign(priv, submitClaims())
		if err != nil {
			t.Fatal(err)
		}
		for i := range len(token) {
			if _, err := Verify(token[:i], keys, testNow); err == nil {
				t.Fatalf("%s: token truncated to %d bytes verified", name, i)
			}
		}
		if _, err := Verify(token+"A", keys, testNow); err == nil {
			t.Errorf("%s: token with a byte appended verified", name)
		}
	}
}

func TestSignRefuses(t *testing.T) {
	ed := mustLoadPrivate(t, "ed25519.pem")
	good := Claims{Command: "cancel", Node: "n2", UnitID: "u1", Expires: testExpires}
	for _, tc := range []struct {
		name string
		edit func(*Claims)
		want string
	}{
		{"unknown command", func(c *Claims) { c.Command = "exec" }, `unknown command "exec"`},
		{"no node", func(c *Claims) { c.Node = "" }, "no node"},
		{"no expiry", func(c *Claims) { c.Expires = time.Time{} }, "no expiry"},
		{"raw payload", func(c *Claims) { c.Payload = "hello" }, "not a lower-case hex SHA-256"},
		{"upper-case payload", func(c *Claims) { c.Payload = strings.Repeat("0A", 32) }, "not a lower-case hex SHA-256"},
		{"invalid UTF-8 param", func(c *Claims) { c.Params = map[string]string{"k": "\xff"} }, `param "k" is not valid UTF-8`},
		{"invalid UTF-8 unit", func(c *Claims) { c.UnitID = "\xff" }, "unit is not valid UTF-8"},
	} {
		c := good
		tc.edit(&c)
		if _, err := Sign(ed, c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}

	data, err := os.ReadFile(fixture("rsa1024.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	small, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := x509.ParseECPrivateKey(mustPEM(t, "ecdsa.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key  crypto.Signer
		want string
	}{
		{small, "RSA key is 1024 bits"},
		{ec, "unsupported key type *ecdsa.PublicKey"},
		{nil, "signing key not specified"},
	} {
		if _, err := Sign(tc.key, good); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Sign with %T: error %v, want %q", tc.key, err, tc.want)
		}
	}
}

func mustPEM(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(fixture(name))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	return block.Bytes
}

func TestExpect(t *testing.T) {
	signed := submitClaims()
	if err := signed.Expect(signed); err != nil {
		t.Fatal(err)
	}
	noPayload := signed
	noPayload.Payload = ""
	if err := signed.Expect(noPayload); err != nil {
		t.Errorf("payload not expected: %v", err)
	}
	empty := Claims{Command: "cancel", Node: "n", Params: map[string]string{}}
	if err := empty.Expect(Claims{Command: "cancel", Node: "n"}); err != nil {
		t.Errorf("empty and nil params: %v", err)
	}
	for _, tc := range []struct {
		edit func(*Claims)
		want string
	}{
		{func(c *Claims) { c.Command = "cancel" }, `signature is for command "submit", not "cancel"`},
		{func(c *Claims) { c.Node = "y" }, `signature is for node "n2", not "y"`},
		{func(c *Claims) { c.UnitID = "u" }, `signature is for unit "Ab3dEf7h", not "u"`},
		{func(c *Claims) { c.WorkType = "b" }, `signature is for work type "echo", not "b"`},
		{func(c *Claims) { c.Params = nil }, `signature does not cover these params: signed param "params" is missing`},
		{func(c *Claims) { c.Params = map[string]string{"params": "-c 'echo hi'", "secret_x": "1", "a": ""} }, `signature does not cover these params: param "a" is not signed`},
		{func(c *Claims) { c.Params = map[string]string{"params": "x", "secret_x": "1"} }, `signature does not cover these params: param "params" differs`},
		{func(c *Claims) { c.Payload = strings.Repeat("ff", 32) }, `signature is for payload "0a0a`},
		{func(c *Claims) { c.Node, c.WorkType = "y", "b" }, `signature is for node "n2", not "y"`},
	} {
		want := submitClaims()
		tc.edit(&want)
		if err := signed.Expect(want); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Expect error %v, want %q", err, tc.want)
		}
	}
}
