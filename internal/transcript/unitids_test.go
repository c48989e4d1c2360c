package transcript

import (
	"strings"
	"testing"
	"time"
)

func TestUnitIDsLearnAndSubstitute(t *testing.T) {
	m := NewUnitIDs()
	steps := []struct{ want, got string }{
		{"Work unit created with ID 0jCVzclF. Send stdin data and EOF.\n", "Work unit created with ID liveAAAA. Send stdin data and EOF.\n"},
		{`{"result":"Job Started","unitid":"0jCVzclF"}` + "\n", `{"result":"Job Started","unitid":"liveAAAA"}` + "\n"},
		// a remote unit: its ID on the executing node comes with RemoteUnitID
		{`{"Detail":"x","ExtraData":{"RemoteNode":"node3","RemoteUnitID":"PtWN0eJW"},"State":2}`, `{"Detail":"x","ExtraData":{"RemoteNode":"node3","RemoteUnitID":"liveBBBB"},"State":2}`},
		// a work list orders its keys by ID: pairs go by value
		{
			`{"0jCVzclF":{"Detail":"a","State":2},"AW2oyYU2":{"Detail":"b","State":2}}`,
			`{"aaaaaaaa":{"Detail":"b","State":2},"liveAAAA":{"Detail":"a","State":2}}`,
		},
	}
	for _, s := range steps {
		if err := m.Learn([]byte(s.want), []byte(s.got)); err != nil {
			t.Fatalf("Learn(%s): %v", s.want, err)
		}
	}
	for tid, lid := range map[string]string{"0jCVzclF": "liveAAAA", "PtWN0eJW": "liveBBBB", "AW2oyYU2": "aaaaaaaa"} {
		if got, ok := m.Live(tid); !ok || got != lid {
			t.Errorf("Live(%s) = %q, %v; want %s", tid, got, ok, lid)
		}
	}
	for in, want := range map[string]string{
		"work status 0jCVzclF\n":                         "work status liveAAAA\n",
		`{"command":"work","unitid":"AW2oyYU2"}` + "\n":  `{"command":"work","unitid":"aaaaaaaa"}` + "\n",
		"work results PtWN0eJW 0\n":                      "work results liveBBBB 0\n",
		"work status x0jCVzclF 0jCVzclFx nosuchunit\n":   "work status x0jCVzclF 0jCVzclFx nosuchunit\n",
		"payload mentions 0jCVzclF, 0jCVzclF.\n":         "payload mentions liveAAAA, liveAAAA.\n",
		"work status Unknown1\n":                         "work status Unknown1\n",
		"ERROR: unknown work unit 0jCVzclF\n":            "ERROR: unknown work unit liveAAAA\n",
		`{"command":"work","subcommand":"list"}` + "\n":  `{"command":"work","subcommand":"list"}` + "\n",
		"work submit node1 echo-args hello  runtime p\n": "work submit node1 echo-args hello  runtime p\n",
	} {
		if got := string(m.Substitute([]byte(in))); got != want {
			t.Errorf("Substitute(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnitIDsRefuseInconsistency(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps [][2]string
	}{
		{"one transcript ID, two live ones", [][2]string{
			{"Work unit created with ID 0jCVzclF.", "Work unit created with ID liveAAAA."},
			{`{"released":"0jCVzclF"}`, `{"released":"liveCCCC"}`},
		}},
		{"two transcript IDs, one live one", [][2]string{
			{"Work unit created with ID 0jCVzclF.", "Work unit created with ID liveAAAA."},
			{"Work unit created with ID AW2oyYU2.", "Work unit created with ID liveAAAA."},
		}},
		{"a work list with the wrong unit", [][2]string{
			{"Work unit created with ID 0jCVzclF.", "Work unit created with ID liveAAAA."},
			{`{"0jCVzclF":{"Detail":"a","State":2}}`, `{"liveCCCC":{"Detail":"a","State":2}}`},
		}},
		{"look-alike units never named before", [][2]string{
			{`{"0jCVzclF":{"Detail":"a","State":2},"AW2oyYU2":{"Detail":"a","State":2}}`, `{"liveAAAA":{"Detail":"a","State":2},"liveCCCC":{"Detail":"a","State":2}}`},
		}},
		{"look-alike units that are not the learned ones", [][2]string{
			{"Work unit created with ID 0jCVzclF.", "Work unit created with ID liveAAAA."},
			{"Work unit created with ID AW2oyYU2.", "Work unit created with ID liveCCCC."},
			{`{"0jCVzclF":{"Detail":"a","State":2},"AW2oyYU2":{"Detail":"a","State":2}}`, `{"liveAAAA":{"Detail":"a","State":2},"liveDDDD":{"Detail":"a","State":2}}`},
		}},
	} {
		m := NewUnitIDs()
		var err error
		for _, s := range tc.steps {
			if err = m.Learn([]byte(s[0]), []byte(s[1])); err != nil {
				break
			}
		}
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
}

// Look-alike units are accepted once both were named before.
func TestUnitIDsTieResolvedByEarlierIDs(t *testing.T) {
	m := NewUnitIDs()
	for _, s := range [][2]string{
		{"Work unit created with ID 0jCVzclF.", "Work unit created with ID liveAAAA."},
		{"Work unit created with ID AW2oyYU2.", "Work unit created with ID liveCCCC."},
		{`{"0jCVzclF":{"Detail":"a","State":2},"AW2oyYU2":{"Detail":"a","State":2}}`, `{"liveCCCC":{"Detail":"a","State":2},"liveAAAA":{"Detail":"a","State":2}}`},
	} {
		if err := m.Learn([]byte(s[0]), []byte(s[1])); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReplayLearnsUnitIDs replays a submit and a status against a mirror
// that answers with other unit IDs: the status must ask for the live ID.
func TestReplayLearnsUnitIDs(t *testing.T) {
	src := `== connection 1 (x)
S "Receptor Control, node node1\n"
C "work submit node1 cat\n"
S "Work unit created with ID 0jCVzclF. Send stdin data and EOF.\n"
C EOF
S "{\"result\":\"Job Started\",\"unitid\":\"0jCVzclF\"}\n"
S EOF
== connection 2 (x)
S "Receptor Control, node node1\n"
C "work status 0jCVzclF\n"
S "ERROR: unknown work unit 0jCVzclF\n"
C EOF
S EOF
`
	tr, err := Parse("inline", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	live := strings.NewReplacer("0jCVzclF", "liveAAAA")
	ids := NewUnitIDs()
	for _, c := range tr.Conns {
		// The server side: the transcript with the live ID.
		served := c
		served.Records = nil
		for _, r := range c.Records {
			r.Data = []byte(live.Replace(string(r.Data)))
			served.Records = append(served.Records, r)
		}
		errc := make(chan error, 1)
		err := Replay(c, dialMirror(t, served, -1, errc), ReplayOptions{IDs: ids, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("the mirror saw other client bytes: %v", err)
		}
	}
	if got, _ := ids.Live("0jCVzclF"); got != "liveAAAA" {
		t.Errorf("learned %q", got)
	}
}
