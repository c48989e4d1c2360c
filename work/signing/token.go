package signing

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxToken is the longest token, in bytes, that Verify accepts.
const MaxToken = 64 << 10

const (
	tokenVersion = "v1"
	// signedPrefix separates these signatures from anything else the same
	// key might sign.
	signedPrefix = "meshd work signature v1\x00"

	algEdDSA = "EdDSA" // Ed25519
	algRS512 = "RS512" // RSA PKCS#1 v1.5 over SHA-512
)

// Claims are what a signature binds.
type Claims struct {
	Command  string            // "submit", "cancel", "release" or "results"
	Node     string            // the node that must execute / own the unit
	UnitID   string            // submit: the unit ID the executing node must give the unit; others: the unit
	WorkType string            // submit only
	Params   map[string]string // submit only: every work param; nil and empty are equal
	Payload  string            // submit only: hex SHA-256 of the stdin payload (lower case)
	Expires  time.Time         // whole seconds
}

// wireClaims is the claims JSON of a token. Its field order is the order in
// which Sign writes the fields.
type wireClaims struct {
	Alg      string            `json:"alg"`
	Command  string            `json:"cmd"`
	Node     string            `json:"node"`
	UnitID   string            `json:"unit"`
	WorkType string            `json:"worktype,omitempty"`
	Params   map[string]string `json:"params,omitempty"`
	Payload  string            `json:"payload,omitempty"`
	Exp      *int64            `json:"exp"`
}

var commands = []string{"submit", "cancel", "release", "results"}

// Sign returns a token binding c, signed with key, which must be an Ed25519
// key or an RSA key of at least MinRSABits bits (RS512). c.Expires is
// truncated to whole seconds.
func Sign(key crypto.Signer, c Claims) (string, error) {
	if key == nil {
		return "", errors.New("signing key not specified")
	}
	if err := c.validate(); err != nil {
		return "", fmt.Errorf("cannot sign claims: %w", err)
	}
	if c.Expires.IsZero() {
		return "", errors.New("cannot sign claims: no expiry")
	}
	alg, err := signingAlg(key.Public())
	if err != nil {
		return "", err
	}
	exp := c.Expires.Unix()
	claims, err := json.Marshal(wireClaims{
		Alg: alg, Command: c.Command, Node: c.Node, UnitID: c.UnitID,
		WorkType: c.WorkType, Params: c.Params, Payload: c.Payload, Exp: &exp,
	})
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	msg := signedMessage(claims)
	var sig []byte
	switch alg {
	case algEdDSA:
		sig, err = key.Sign(rand.Reader, msg, crypto.Hash(0))
	case algRS512:
		sum := sha512.Sum512(msg)
		sig, err = key.Sign(rand.Reader, sum[:], crypto.SHA512)
	}
	if err != nil {
		return "", fmt.Errorf("sign claims: %w", err)
	}
	enc := base64.RawURLEncoding
	return tokenVersion + "." + enc.EncodeToString(claims) + "." + enc.EncodeToString(sig), nil
}

// Verify checks the token's signature against any of keys and its expiry against now,
// and returns its claims. It does not compare the claims with the request: see Expect.
//
// keys hold ed25519.PublicKey and *rsa.PublicKey values, as returned by
// ParsePublicKey; an EdDSA token is checked only against the Ed25519 keys and
// an RS512 token only against the RSA keys. A token expires at the second
// its claims name.
func Verify(token string, keys []crypto.PublicKey, now time.Time) (Claims, error) {
	if len(keys) == 0 {
		return Claims{}, errors.New("verifying key not specified")
	}
	claims, sig, err := splitToken(token)
	if err != nil {
		return Claims{}, err
	}
	w, err := decodeClaims(claims)
	if err != nil {
		return Claims{}, err
	}
	if err := verifySignature(w.Alg, signedMessage(claims), sig, keys); err != nil {
		return Claims{}, err
	}
	c := Claims{
		Command: w.Command, Node: w.Node, UnitID: w.UnitID,
		WorkType: w.WorkType, Params: w.Params, Payload: w.Payload,
		Expires: time.Unix(*w.Exp, 0).UTC(),
	}
	if !now.Before(c.Expires) {
		return Claims{}, fmt.Errorf("signature expired at %s", c.Expires.Format(time.RFC3339))
	}
	if err := c.validate(); err != nil {
		return Claims{}, fmt.Errorf("signature claims: %w", err)
	}
	return c, nil
}

// Expect returns an error naming the first field in which c differs from want
// (Payload is compared only when want.Payload != ""), e.g. `signature is for node "x", not "y"`,
// `signature is for work type "a", not "b"`, `signature does not cover these params`.
// Expires is not compared: Verify has checked it.
func (c Claims) Expect(want Claims) error {
	switch {
	case c.Command != want.Command:
		return fmt.Errorf("signature is for command %q, not %q", c.Command, want.Command)
	case c.Node != want.Node:
		return fmt.Errorf("signature is for node %q, not %q", c.Node, want.Node)
	case c.UnitID != want.UnitID:
		return fmt.Errorf("signature is for unit %q, not %q", c.UnitID, want.UnitID)
	case c.WorkType != want.WorkType:
		return fmt.Errorf("signature is for work type %q, not %q", c.WorkType, want.WorkType)
	case !maps.Equal(c.Params, want.Params):
		return fmt.Errorf("signature does not cover these params: %s", paramsDiff(c.Params, want.Params))
	case want.Payload != "" && c.Payload != want.Payload:
		return fmt.Errorf("signature is for payload %q, not %q", c.Payload, want.Payload)
	}
	return nil
}

// paramsDiff names the first param, in sorted order, that differs between
// signed and got.
func paramsDiff(signed, got map[string]string) string {
	keys := slices.Sorted(maps.Keys(signed))
	keys = slices.AppendSeq(keys, maps.Keys(got))
	slices.Sort(keys)
	for _, k := range keys {
		sv, sok := signed[k]
		gv, gok := got[k]
		switch {
		case !sok:
			return fmt.Sprintf("param %q is not signed", k)
		case !gok:
			return fmt.Sprintf("signed param %q is missing", k)
		case sv != gv:
			return fmt.Sprintf("param %q differs", k)
		}
	}
	return "params differ"
}

// validate checks that c names a known command and a node, that its payload
// hash looks like one, and that its strings survive JSON encoding unchanged.
func (c Claims) validate() error {
	if !slices.Contains(commands, c.Command) {
		return fmt.Errorf("unknown command %q", c.Command)
	}
	if c.Node == "" {
		return errors.New("no node")
	}
	if c.Payload != "" && !isSHA256Hex(c.Payload) {
		return fmt.Errorf("payload %q is not a lower-case hex SHA-256", c.Payload)
	}
	for name, s := range map[string]string{"node": c.Node, "unit": c.UnitID, "work type": c.WorkType} {
		if !utf8.ValidString(s) {
			return fmt.Errorf("%s is not valid UTF-8", name)
		}
	}
	for k, v := range c.Params {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("param %q is not valid UTF-8", k)
		}
	}
	return nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// signingAlg returns the algorithm a key signs with.
func signingAlg(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return algEdDSA, nil
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			break
		}
		if bits := k.N.BitLen(); bits < MinRSABits {
			return "", fmt.Errorf("RSA key is %d bits: meshd needs at least %d", bits, MinRSABits)
		}
		return algRS512, nil
	}
	return "", fmt.Errorf("unsupported key type %T: %s", pub, useEd25519OrRSA)
}

func signedMessage(claims []byte) []byte {
	return append([]byte(signedPrefix), claims...)
}

// splitToken returns the decoded claims and signature of a token.
func splitToken(token string) (claims, sig []byte, err error) {
	if token == "" {
		return nil, nil, errors.New("signature is empty")
	}
	if len(token) > MaxToken {
		return nil, nil, fmt.Errorf("signature is %d bytes, longer than %d", len(token), MaxToken)
	}
	version, rest, _ := strings.Cut(token, ".")
	if version != tokenVersion {
		if len(version) <= 8 && strings.HasPrefix(version, "v") {
			return nil, nil, fmt.Errorf("unsupported signature version %q: want %q", version, tokenVersion)
		}
		return nil, nil, fmt.Errorf("signature is not a meshd %s token", tokenVersion)
	}
	claims64, sig64, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig64, ".") {
		return nil, nil, fmt.Errorf("malformed signature: want %s.<claims>.<signature>", tokenVersion)
	}
	enc := base64.RawURLEncoding.Strict()
	if claims, err = enc.DecodeString(claims64); err != nil {
		return nil, nil, fmt.Errorf("malformed signature claims: %w", err)
	}
	if sig, err = enc.DecodeString(sig64); err != nil {
		return nil, nil, fmt.Errorf("malformed signature: %w", err)
	}
	return claims, sig, nil
}

// decodeClaims decodes a token's claims JSON, refusing unknown fields,
// trailing data and a missing alg or exp.
func decodeClaims(claims []byte) (wireClaims, error) {
	var w wireClaims
	dec := json.NewDecoder(bytes.NewReader(claims))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return wireClaims{}, fmt.Errorf("malformed signature claims: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return wireClaims{}, errors.New("malformed signature claims: data after the claims object")
	}
	if w.Alg != algEdDSA && w.Alg != algRS512 {
		return wireClaims{}, fmt.Errorf("unsupported signature algorithm %q", w.Alg)
	}
	if w.Exp == nil {
		return wireClaims{}, errors.New("signature has no expiry")
	}
	return w, nil
}

// verifySignature reports whether sig over msg verifies, by alg, with any of
// keys of the type alg requires.
func verifySignature(alg string, msg, sig []byte, keys []crypto.PublicKey) error {
	tried := 0
	for _, key := range keys {
		switch k := key.(type) {
		case ed25519.PublicKey:
			if alg != algEdDSA || len(k) != ed25519.PublicKeySize {
				continue
			}
			tried++
			if ed25519.Verify(k, msg, sig) {
				return nil
			}
		case *rsa.PublicKey:
			if alg != algRS512 || k == nil || k.N == nil || k.N.BitLen() < MinRSABits {
				continue
			}
			tried++
			sum := sha512.Sum512(msg)
			if rsa.VerifyPKCS1v15(k, crypto.SHA512, sum[:], sig) == nil {
				return nil
			}
		}
	}
	if tried == 0 {
		want := "Ed25519"
		if alg == algRS512 {
			want = "RSA"
		}
		return fmt.Errorf("signature is %s but no %s verifying key is configured", alg, want)
	}
	return errors.New("signature does not verify with any configured key")
}
