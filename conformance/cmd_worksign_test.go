package conformance

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"meshd/work/signing"
)

const worksignUsage = "worksign -key FILE -node NODE [-cmd C] [-unit ID] [-worktype T] [-param K=V]... [-payload FILE] [-exp D] [-tamper FIELD=VALUE] VAR"

// cmdWorksign makes a work signature with chosen claims, as a submitting
// node's work-signing key would, to send in the "signature" field of a
// JSON work command:
//
//	worksign -key FILE -node NODE [-cmd C] [-unit ID] [-worktype T]
//	         [-param K=V]... [-payload FILE] [-exp D] [-tamper FIELD=VALUE] VAR
//
// -key is a private key file (`meshd keygen --work`); -node the executing
// node; -cmd submit (default), cancel, release or results; -unit the unit
// ID (for a submit, the ID the executing node must give the unit; default
// a fresh random one); -worktype and every -param (a submit's work params:
// `params` for runtime arguments) as the request will carry them;
// -payload the file whose SHA-256 a submit binds (default: an empty
// payload); -exp the lifetime from now (default 1m; negative: already
// expired). -tamper changes one claim after signing (worktype, node, unit,
// payload, or param.K): the token then carries the changed claims with the
// signature of the original ones.
//
// VAR is set to the token and VAR_UNIT to the unit ID.
func cmdWorksign(ts *testscript.TestScript, neg bool, args []string) {
	fs := newFlagSet("worksign")
	keyFile := fs.String("key", "", "private key file")
	node := fs.String("node", "", "executing node")
	command := fs.String("cmd", "submit", "submit, cancel, release or results")
	unit := fs.String("unit", "", "unit ID")
	workType := fs.String("worktype", "", "work type (submit)")
	payload := fs.String("payload", "", "payload file (submit)")
	exp := fs.Duration("exp", time.Minute, "lifetime")
	tamper := fs.String("tamper", "", "FIELD=VALUE to change after signing")
	params := map[string]string{}
	fs.Func("param", "K=V work param (repeatable)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("-param %q: want K=V", s)
		}
		params[k] = v
		return nil
	})
	rest := parseFlags(ts, fs, worksignUsage, args)
	if neg || len(rest) != 1 || *keyFile == "" || *node == "" {
		ts.Fatalf("usage: %s", worksignUsage)
	}
	key, err := signing.LoadPrivateKey(ts.MkAbs(*keyFile))
	ts.Check(err)
	c := signing.Claims{
		Command: *command, Node: *node, UnitID: *unit,
		Expires: time.Now().Add(*exp).Truncate(time.Second),
	}
	if c.UnitID == "" {
		c.UnitID = randomUnitID()
	}
	if *command == "submit" {
		c.WorkType, c.Params = *workType, params
		h := sha256.New()
		if *payload != "" {
			f, err := os.Open(ts.MkAbs(*payload))
			ts.Check(err)
			_, err = io.Copy(h, f)
			f.Close()
			ts.Check(err)
		}
		c.Payload = hex.EncodeToString(h.Sum(nil))
	}
	token, err := signing.Sign(key, c)
	if err != nil {
		ts.Fatalf("worksign: %v", err)
	}
	if *tamper != "" {
		token = tamperToken(ts, key, c, token, *tamper)
	}
	setenv(ts, rest[0], token)
	setenv(ts, rest[0]+"_UNIT", c.UnitID)
}

// tamperToken returns the claims part of a token for the changed claims
// followed by the signature of the original token.
func tamperToken(ts *testscript.TestScript, key crypto.Signer, c signing.Claims, token, change string) string {
	field, value, ok := strings.Cut(change, "=")
	if !ok {
		ts.Fatalf("worksign: -tamper %q: want FIELD=VALUE", change)
	}
	changed := c
	changed.Params = map[string]string{}
	for k, v := range c.Params {
		changed.Params[k] = v
	}
	switch {
	case field == "worktype":
		changed.WorkType = value
	case field == "node":
		changed.Node = value
	case field == "unit":
		changed.UnitID = value
	case field == "payload":
		sum := sha256.Sum256([]byte(value))
		changed.Payload = hex.EncodeToString(sum[:])
	case strings.HasPrefix(field, "param."):
		changed.Params[strings.TrimPrefix(field, "param.")] = value
	default:
		ts.Fatalf("worksign: -tamper: unknown field %q (worktype, node, unit, payload, param.K)", field)
	}
	other, err := signing.Sign(key, changed)
	if err != nil {
		ts.Fatalf("worksign: %v", err)
	}
	op, oc, _ := strings.Cut(other, ".")
	claims, _, _ := strings.Cut(oc, ".")
	tp, tc, _ := strings.Cut(token, ".")
	_, sig, _ := strings.Cut(tc, ".")
	if op != tp {
		ts.Fatalf("worksign: token versions differ: %s %s", op, tp)
	}
	return tp + "." + claims + "." + sig
}

// randomUnitID is a fresh unit ID in receptor's form: 8 of [0-9a-zA-Z].
func randomUnitID() string {
	const chars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, 8)
	rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}
