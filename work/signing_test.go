package work_test

import (
	"crypto"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"meshd/ctlclient"
	"meshd/work"
	"meshd/work/signing"
)

// newSignedPair is a pair where node1 signs with a key that exec trusts
// for its "signed" work type.
func newSignedPair(t *testing.T) (*pair, crypto.Signer) {
	t.Helper()
	key, _, _, err := signing.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	p := newPair(t, work.Config{SigningKey: key}, work.Config{VerifyKeys: []crypto.PublicKey{key.Public()}})
	return p, key
}

func TestSignedRemoteWork(t *testing.T) {
	p, _ := newSignedPair(t)
	id := mustSubmit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "signed", Params: params("-"), SignWork: true}, "signed payload\n")
	waitState(t, p.local, id, work.Succeeded)
	if got := results(t, p.local, id, 0); got != "signed payload\n" {
		t.Errorf("results %q", got)
	}
	x := remoteExtra(t, p.local, id)
	if !x.SignWork {
		t.Errorf("ExtraData %+v: SignWork not recorded", x)
	}
	rid := x.RemoteUnitID

	// Over the mesh, the executing node's unit answers only signed
	// requests; over its Unix socket, anyone.
	c := p.net.session(t, "exec", false)
	if _, err := c.Results(rid, 0, ""); !isRemote(err, "could not verify signature: signature is empty") {
		t.Errorf("unsigned results over the mesh: %v", err)
	}
	c = p.net.session(t, "exec", false)
	if _, err := c.CommandJSON(map[string]string{"command": "work", "subcommand": "release", "unitid": rid}); !isRemote(err, "signature is empty") {
		t.Errorf("unsigned release over the mesh: %v", err)
	}
	c = p.net.session(t, "exec", true)
	r, err := c.Results(rid, 0, "")
	if err != nil {
		t.Fatalf("results over the Unix socket: %v", err)
	}
	if b, _ := io.ReadAll(r); string(b) != "signed payload\n" {
		t.Errorf("results over the Unix socket: %q", b)
	}

	// The submitting node signs its release.
	if _, err := p.local.Release(t.Context(), id, false, work.Auth{Trusted: true}); err != nil {
		t.Fatalf("release: %v", err)
	}
	if _, err := p.exec.Status(rid); !errors.Is(err, work.ErrUnknownUnit) {
		t.Errorf("remote unit after a signed release: %v", err)
	}

	// ... and its cancel.
	id = mustSubmit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "signed", Params: params(fifo(t)), SignWork: true}, "")
	rid = execID(t, p.local, id)
	waitState(t, p.exec, rid, work.Running)
	killGroupAtEnd(t, commandPid(t, p.exec, rid))
	if pending, err := p.local.Cancel(t.Context(), id, work.Auth{Trusted: true}); err != nil || pending {
		t.Fatalf("cancel: pending %v, %v", pending, err)
	}
	waitState(t, p.exec, rid, work.Canceled)
}

// isRemote reports an ERROR reply containing want.
func isRemote(err error, want string) bool {
	var rerr *ctlclient.RemoteError
	return errors.As(err, &rerr) && strings.Contains(rerr.Msg, want)
}

func TestUnsignedWorkRefused(t *testing.T) {
	p, _ := newSignedPair(t)
	id, _, err := submit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "signed", Params: params("-")}, strings.NewReader("x"))
	if err == nil || !strings.Contains(err.Error(), "could not verify signature: signature is empty") {
		t.Fatalf("unsigned submit over the mesh: %v", err)
	}
	if st := status(t, p.local, id); st.StateName != "Failed" || !strings.Contains(st.Detail, "signature is empty") {
		t.Errorf("local unit: %+v", st)
	}
	// A signature the work type does not expect is refused too.
	_, _, err = submit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "cat", SignWork: true}, nil)
	if err == nil || !strings.Contains(err.Error(), "work type did not expect a signature") {
		t.Errorf("signed submit of an unsigned work type: %v", err)
	}
	if list, _ := p.exec.List(""); len(list) != 0 {
		t.Errorf("refused submits left units on the executing node: %v", list)
	}

	// Over the executing node's Unix socket, no signature is needed.
	c := p.net.session(t, "exec", true)
	reply, err := c.Submit(map[string]string{"command": "work", "subcommand": "submit", "node": "exec", "worktype": "signed", "params": "-"}, strings.NewReader("trusted\n"))
	if err != nil || reply.Result != "Job Started" {
		t.Fatalf("unsigned submit over the Unix socket: %+v, %v", reply, err)
	}
	waitState(t, p.exec, reply.UnitID, work.Succeeded)
	if got := results(t, p.exec, reply.UnitID, 0); got != "trusted\n" {
		t.Errorf("results %q", got)
	}
}

// Each way to misuse a signed request is refused with an error that says
// what is wrong, and creates nothing.
func TestSignatureRefusals(t *testing.T) {
	p, key := newSignedPair(t)
	otherKey, _, _, err := signing.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	const payload = "the payload\n"
	good := func(unitID string) signing.Claims {
		return signing.Claims{
			Command: "submit", Node: "exec", UnitID: unitID, WorkType: "signed",
			Params: params("-"), Payload: sha(payload), Expires: time.Now().Add(time.Minute),
		}
	}
	// send submits with a token for c, with sent params and payload.
	send := func(key crypto.Signer, c signing.Claims, sent map[string]string, payload string) (ctlclient.SubmitReply, error) {
		t.Helper()
		tok, err := signing.Sign(key, c)
		if err != nil {
			t.Fatal(err)
		}
		req := map[string]string{"command": "work", "subcommand": "submit", "node": "exec", "worktype": "signed", "signature": tok}
		for k, v := range sent {
			req[k] = v
		}
		return p.net.session(t, "exec", false).Submit(req, strings.NewReader(payload))
	}

	// The control: a well-signed request runs, under the unit ID it names.
	reply, err := send(key, good("Crafted1"), params("-"), payload)
	if err != nil || reply.Result != "Job Started" || reply.UnitID != "Crafted1" {
		t.Fatalf("a well-signed submit: %+v, %v", reply, err)
	}
	waitState(t, p.exec, "Crafted1", work.Succeeded)

	expired := good("Expired1")
	expired.Expires = time.Now().Add(-time.Minute)
	otherNode := good("Other1")
	otherNode.Node = "node2"
	otherType := good("Type1")
	otherType.WorkType = "cat"
	otherCommand := good("Command1")
	otherCommand.Command = "cancel"
	badID := good("a/b")
	for _, tc := range []struct {
		name    string
		key     crypto.Signer
		claims  signing.Claims
		sent    map[string]string
		payload string
		want    string
	}{
		{"expired", key, expired, params("-"), payload, "could not verify signature: signature expired at "},
		{"another node", key, otherNode, params("-"), payload, `could not verify signature: signature is for node "node2", not "exec"`},
		{"tampered params", key, good("Params1"), params("/etc/hostname"), payload, `could not verify signature: signature does not cover these params: param "params" differs`},
		{"added param", key, good("Params2"), map[string]string{"params": "-", "extra": "1"}, payload, `param "extra" is not signed`},
		{"another work type", key, otherType, params("-"), payload, `signature is for work type "cat", not "signed"`},
		{"another command", key, otherCommand, params("-"), payload, `signature is for command "cancel", not "submit"`},
		{"unknown key", otherKey, good("Key1"), params("-"), payload, "could not verify signature: signature does not verify with any configured key"},
		{"wrong payload", key, good("Payload1"), params("-"), "another payload\n", "could not verify signature: signature does not match the payload"},
		{"bad unit ID", key, badID, params("-"), payload, "the signed unit ID is not alphanumeric"},
		{"replayed", key, good("Crafted1"), params("-"), payload, "already used (replay refused)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := p.exec.List("")
			reply, err := send(tc.key, tc.claims, tc.sent, tc.payload)
			if !isRemote(err, tc.want) {
				t.Fatalf("submit: %+v, %v; want ERROR: ...%s", reply, err, tc.want)
			}
			after, _ := p.exec.List("")
			if len(after) != len(before) {
				t.Errorf("a refused submit left a unit: %d units before, %d after", len(before), len(after))
			}
		})
	}

	// A signed request of the submitting node, captured on the way and
	// sent again as it was: refused, also once its unit is released, and
	// after a restart of the executing node.
	id := mustSubmit(t, p.local, work.SubmitRequest{Node: "exec", WorkType: "signed", Params: params("-"), SignWork: true}, payload)
	rid := execID(t, p.local, id)
	line := p.net.lastSubmit()
	if !strings.Contains(line, `"signature":"v1.`) {
		t.Fatalf("captured submit %q has no signature", line)
	}
	_, err = p.net.session(t, "exec", false).SubmitLine(line, strings.NewReader(payload))
	if !isRemote(err, "already used (replay refused)") {
		t.Errorf("replayed submit: %v", err)
	}
	waitState(t, p.local, id, work.Succeeded)
	if _, err := p.local.Release(t.Context(), id, false, work.Auth{Trusted: true}); err != nil {
		t.Fatal(err)
	}
	_, err = p.net.session(t, "exec", false).SubmitLine(line, strings.NewReader(payload))
	if !isRemote(err, "already used (replay refused)") {
		t.Errorf("replayed submit after release of %s: %v", rid, err)
	}
	var captured map[string]string
	if err := json.Unmarshal([]byte(line), &captured); err != nil {
		t.Fatal(err)
	}
	p.exec.Close()
	restarted := newManager(t, work.Config{NodeID: "exec", DataDir: p.execDir, Types: remoteTypes, VerifyKeys: []crypto.PublicKey{key.Public()}})
	_, err = restarted.Submit(work.SubmitRequest{Node: "exec", WorkType: "signed", Params: params("-"), Signature: captured["signature"]})
	if err == nil || !strings.Contains(err.Error(), "already used (replay refused)") {
		t.Errorf("replayed submit after a restart: %v", err)
	}
}

// results, cancel and release of a signed unit check that the signature
// names that unit and that command.
func TestSignedUnitCommands(t *testing.T) {
	p, key := newSignedPair(t)
	c := p.net.session(t, "exec", true)
	reply, err := c.Submit(map[string]string{"command": "work", "subcommand": "submit", "node": "exec", "worktype": "signed", "params": "-"}, strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	id := reply.UnitID
	waitState(t, p.exec, id, work.Succeeded)
	token := func(command, unit string) string {
		tok, err := signing.Sign(key, signing.Claims{Command: command, Node: "exec", UnitID: unit, Expires: time.Now().Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if _, err := p.net.session(t, "exec", false).Results(id, 0, token("results", "Other123")); !isRemote(err, `signature is for unit "Other123"`) {
		t.Errorf("results with another unit's token: %v", err)
	}
	if _, err := p.net.session(t, "exec", false).Results(id, 0, token("cancel", id)); !isRemote(err, `signature is for command "cancel", not "results"`) {
		t.Errorf("results with a cancel token: %v", err)
	}
	r, err := p.net.session(t, "exec", false).Results(id, 0, token("results", id))
	if err != nil {
		t.Fatalf("results with its token: %v", err)
	}
	if b, _ := io.ReadAll(r); string(b) != "x" {
		t.Errorf("results %q", b)
	}
	release := map[string]string{"command": "work", "subcommand": "release", "unitid": id, "signature": token("release", id)}
	if _, err := p.net.session(t, "exec", false).CommandJSON(release); err != nil {
		t.Fatalf("signed release: %v", err)
	}
	if _, err := p.exec.Status(id); !errors.Is(err, work.ErrUnknownUnit) {
		t.Errorf("after the signed release: %v", err)
	}
}
