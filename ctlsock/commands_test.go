package ctlsock

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"meshd/mesh"
)

// replies runs the commands on one session and returns the reply lines
// after the greeting, without their "\n".
func replies(t *testing.T, srv *Server, cmds ...string) []string {
	t.Helper()
	out := converse(t, srv, strings.Join(cmds, "\n")+"\n")
	rest, ok := strings.CutPrefix(out, greeting1)
	if !ok {
		t.Fatalf("no greeting in %q", out)
	}
	return strings.Split(strings.TrimSuffix(rest, "\n"), "\n")
}

func checkReplies(t *testing.T, srv *Server, cmds []string, want []string) {
	t.Helper()
	got := replies(t, srv, cmds...)
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("reply %d to %q:\n got %s\nwant %s", i, cmds, g, w)
		}
	}
}

func TestStatusFields(t *testing.T) {
	c := newChain(t, Options{Version: "1.2.3<&>", Logger: quietOpts().Logger})
	checkReplies(t, c.n1, []string{
		"status extra-arg",
		`{"command":"status","requested_fields":["Version","NoSuchField","NodeID"]}`,
		`{"command":"status","requested_fields":[]}`,
		`{"command":"status","requested_fields":["Version",1]}`,
		`{"command":"status","requested_fields":"Version"}`,
		`{"command":"status","requested_fields":{"a":1}}`,
		`{"command":"status","requested_fields":["Connections","RoutingTable"]}`,
	}, []string{
		"ERROR: status command does not take parameters",
		`{"NodeID":"node1","Version":"1.2.3\u003c\u0026\u003e"}`,
		`{}`,
		"ERROR: each element of requested_fields must be a string",
		"ERROR: requested_fields must be a list of strings",
		"ERROR: requested_fields must be a list of strings",
		`{"Connections":[{"NodeID":"node2","Cost":1}],"RoutingTable":{"node2":"node2","node3":"node2"}}`,
	})
}

// TestStatusNeverNull: an empty mesh gives [] and {}, never null, and
// advertisements without tags or work commands give {} and [].
func TestStatusNeverNull(t *testing.T) {
	m := &fakeMesh{id: "node1", status: mesh.Status{NodeID: "node1",
		KnownConnectionCosts: map[string]map[string]float64{"node9": nil},
		Advertisements: []mesh.Advertisement{{NodeID: "node1", Service: "ping",
			Time: time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("X", -7200))}},
	}}
	srv := NewServer(m, quietOpts())
	defer srv.Close()
	got := replies(t, srv, `{"command":"status","requested_fields":["Advertisements","Connections","KnownConnectionCosts","RoutingTable"]}`)
	want := `{"Advertisements":[{"NodeID":"node1","Service":"ping","Time":"2026-01-02T05:04:05.0000006Z","ConnType":0,"Tags":{},"WorkCommands":[]}],` +
		`"Connections":[],"KnownConnectionCosts":{"node9":{}},"RoutingTable":{}}`
	if got[0] != want {
		t.Fatalf("got  %s\nwant %s", got[0], want)
	}
	m.status.Advertisements, m.status.KnownConnectionCosts = nil, nil
	got = replies(t, srv, `{"command":"status","requested_fields":["Advertisements","KnownConnectionCosts"]}`)
	if want := `{"Advertisements":[],"KnownConnectionCosts":{}}`; got[0] != want {
		t.Fatalf("got  %s\nwant %s", got[0], want)
	}
}

func TestStatusAllKeys(t *testing.T) {
	c := newChain(t, quietOpts())
	all := replies(t, c.n1, "status", "status ") // an empty argument string is no argument
	if len(all) != 2 || all[0] != all[1] {
		t.Fatalf("status and \"status \" differ: %q", all)
	}
	got := all[0]
	for _, k := range statusFields {
		if !strings.Contains(got, `"`+k+`":`) {
			t.Errorf("status lacks %s: %s", k, got)
		}
	}
	if !strings.Contains(got, fmt.Sprintf(`"SystemMemoryMiB":%d,`, systemMemoryMiB())) || systemMemoryMiB() == 0 {
		t.Errorf("SystemMemoryMiB: %s", got)
	}
}

func TestPing(t *testing.T) {
	c := newChain(t, quietOpts())
	checkReplies(t, c.n1, []string{
		"ping node3",
		`{"command":"ping","target":"node2"}`,
		"ping nosuchnode",
		"ping",
		"ping ",
		`{"command":"ping"}`,
		`{"command":"ping","target":7}`,
		`{"command":"ping","target":""}`,
	}, []string{
		`{"From":"node3","Success":true,"Time":1311000,"TimeStr":"1.311ms"}`,
		`{"From":"node2","Success":true,"Time":874000,"TimeStr":"874µs"}`,
		`{"Error":"no route to node","Success":false}`,
		"ERROR: no ping target",
		"ERROR: no ping target",
		"ERROR: no ping target",
		"ERROR: ping target must be string",
		"ERROR: no ping target",
	})
}

func TestLocalhostIsThisNode(t *testing.T) {
	c := newChain(t, quietOpts())
	for _, cmd := range []string{"ping localhost", "ping LocalHost", `{"command":"traceroute","target":"LOCALHOST"}`} {
		replies(t, c.n1, cmd)
		if got := c.m1.lastPinged(); got != "node1" {
			t.Errorf("%s pinged %q, want node1", cmd, got)
		}
	}
}

func TestTraceroute(t *testing.T) {
	c := newChain(t, quietOpts())
	checkReplies(t, c.n1, []string{
		"traceroute node2",
		"traceroute nosuchnode",
		"traceroute",
		`{"command":"traceroute"}`,
		`{"command":"traceroute","target":["node2"]}`,
	}, []string{
		`{"0":{"From":"node1","Time":311000,"TimeStr":"311µs"},"1":{"From":"node2","Time":622000,"TimeStr":"622µs"}}`,
		`{"0":{"Error":"no route to node","From":"","Time":0,"TimeStr":"0s"}}`,
		"ERROR: no traceroute target",
		"ERROR: no traceroute target",
		"ERROR: traceroute target must be string",
	})
}

func TestConnectErrors(t *testing.T) {
	c := newChain(t, quietOpts())
	checkReplies(t, c.n1, []string{
		"connect",
		"connect node2",
		"connect node2 control tls extra",
		"connect node2 control mytls",
		"connect node9 control",
		"connect node2  control", // doubled space: service is "", third token "control"
		`{"command":"connect"}`,
		`{"command":"connect","node":1}`,
		`{"command":"connect","node":"node2"}`,
		`{"command":"connect","node":"node2","service":false}`,
		`{"command":"connect","node":"node2","service":"control","tls":3}`,
		`{"command":"connect","node":"node2","service":"control","tls":"t1"}`,
	}, []string{
		"ERROR: no connect target",
		"ERROR: no connect target",
		"ERROR: too many parameters",
		"ERROR: unknown TLS config mytls",
		"ERROR: INTERNAL_ERROR (local): no route to node",
		"ERROR: unknown TLS config control",
		"ERROR: no connect target node",
		"ERROR: connect target node must be string",
		"ERROR: no connect target service",
		"ERROR: connect target service must be string",
		"ERROR: connect tls name must be string",
		"ERROR: unknown TLS config t1",
	})
}

func TestReload(t *testing.T) {
	calls := 0
	for _, tc := range []struct {
		reload func() error
		want   string
	}{
		{nil, `{"Error":"reload is not supported yet ERRORCODE 4","Success":false}`},
		{func() error { calls++; return nil }, `{"Success":true}`},
		{func() error { return errors.New("bad yaml") }, `{"Error":"bad yaml ERRORCODE 4","Success":false}`},
		{func() error {
			return fmt.Errorf("reload: %w", &ReloadError{Code: ReloadCodeNotReloadable, Err: errors.New("node changed")})
		}, `{"Error":"reload: node changed ERRORCODE 3","Success":false}`},
	} {
		opts := quietOpts()
		opts.Reload = tc.reload
		srv := NewServer(node1Mesh(), opts)
		checkReplies(t, srv, []string{"reload", `{"command":"reload"}`}, []string{tc.want, tc.want})
		srv.Close()
	}
	if calls != 2 {
		t.Errorf("Reload called %d times, want 2", calls)
	}
}

func TestWorkNotSupportedYet(t *testing.T) {
	c := newChain(t, quietOpts())
	checkReplies(t, c.n1, []string{"work list", `{"command":"work","subcommand":"list"}`, "WORK"}, []string{
		"ERROR: work units are not available on this node",
		"ERROR: work units are not available on this node",
		"ERROR: work units are not available on this node",
	})
}
