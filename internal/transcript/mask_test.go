package transcript

import "testing"

func TestDefaultMaskEquates(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{ // times, memory, CPU, version; ad order; WorkCommands null vs []; Tags null vs {}
			`{"Advertisements":[{"NodeID":"n2","Service":"control","Time":"2026-11-25T06:49:04.2Z","ConnType":1,"Tags":null,"WorkCommands":null},{"NodeID":"n1","Service":"control","Time":"2026-11-25T06:49:04.1Z","ConnType":1,"Tags":{"type":"Control Service"},"WorkCommands":[]}],"SystemCPUCount":2,"SystemMemoryMiB":24105,"Version":""}` + "\n",
			`{"Advertisements":[{"NodeID":"n1","Service":"control","Time":"2030-01-01T00:00:00Z","ConnType":1,"Tags":{"type":"Control Service"},"WorkCommands":[]},{"NodeID":"n2","Service":"control","Time":"2030-01-01T00:00:00Z","ConnType":1,"Tags":{},"WorkCommands":[]}],"SystemCPUCount":8,"SystemMemoryMiB":1,"Version":"v1"}` + "\n",
		},
		{
			`{"From":"node2","Success":true,"Time":494776,"TimeStr":"494.776µs"}` + "\n",
			`{"From":"node2","Success":true,"Time":12,"TimeStr":"12ns"}` + "\n",
		},
		{
			"Work unit created with ID 0jCVzclF. Send stdin data and EOF.\n",
			"Work unit created with ID abcdEFG1. Send stdin data and EOF.\n",
		},
		{
			`{"result":"Job Started","unitid":"0jCVzclF"}` + "\n",
			`{"result":"Job Started","unitid":"zzzzzzzz"}` + "\n",
		},
		{ // work list: keys are unit IDs, sorted differently each run
			`{"AAAAAAAA":{"Detail":"Running: PID 42","ExtraData":{"Pid":42},"State":1},"BBBBBBBB":{"Detail":"x","State":2}}`,
			`{"aaaaaaaa":{"Detail":"x","State":2},"zzzzzzzz":{"Detail":"Running: PID 7","ExtraData":{"Pid":7},"State":1}}`,
		},
	} {
		ma, mb := DefaultMask([]byte(tc.a)), DefaultMask([]byte(tc.b))
		if string(ma) != string(mb) {
			t.Errorf("masks differ:\n%s\n%s", ma, mb)
		}
	}
}

func TestDefaultMaskKeepsDifferences(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{`{"NodeID":"node1","Cost":1}`, `{"Cost":1,"NodeID":"node1"}`}, // field order matters
		{`{"Tags":{"type":"x"}}`, `{"Tags":{}}`},
		{`{"a":"<"}`, `{"a":"\u003c"}`}, // escaping is compared literally
		{"ERROR: Unknown command\n", "ERROR: unknown command\n"},
		{`{"x":1}` + "\n", `{"x":1}`},
		{`{"From":"node2","Success":true}`, `{"From":"node3","Success":true}`},
	} {
		ma, mb := DefaultMask([]byte(tc.a)), DefaultMask([]byte(tc.b))
		if string(ma) == string(mb) {
			t.Errorf("masks of %s and %s are equal: %s", tc.a, tc.b, ma)
		}
	}
}

func TestDefaultMaskLeavesOtherBytes(t *testing.T) {
	for _, s := range []string{
		"Receptor Control, node node1\n",
		`{"NodeID":"node1","RoutingTable":{"node2":"node2"}}` + "\n",
		"{not json}\n",
		"partial payload",
	} {
		if got := string(DefaultMask([]byte(s))); got != s {
			t.Errorf("DefaultMask(%q) = %q", s, got)
		}
	}
}
