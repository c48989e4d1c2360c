package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"meshd/ctlclient"
	"meshd/ctlsock"
	"meshd/mesh"
	"meshd/wire"
	"meshd/work"
)

// demoLinks is the demo topology: a chain n1-n2-n3-n4 and a branch n2-n5.
// Each pair is (dialer, listener).
var demoLinks = [][2]string{{"n2", "n1"}, {"n3", "n2"}, {"n4", "n3"}, {"n5", "n2"}}

// runDemo starts a five-node mesh inside this process on free loopback
// ports, then drives n1's control socket the way receptorctl would: status,
// ping and traceroute of the far node n4, and a work unit run on n3, two
// hops away.
func runDemo(out io.Writer, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("demo takes no arguments")
	}
	dir, err := os.MkdirTemp("", "meshd-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	nodes := map[string]*mesh.Node{}
	for _, id := range []string{"n1", "n2", "n3", "n4", "n5"} {
		key, err := wire.GenerateKey()
		if err != nil {
			return err
		}
		n, err := mesh.New(mesh.Config{NodeID: id, Key: key, Logger: logger})
		if err != nil {
			return err
		}
		defer n.Close()
		nodes[id] = n
	}
	for _, l := range demoLinks {
		addr, err := nodes[l[1]].AddListener(mesh.ListenerSpec{Network: "tcp", Address: "127.0.0.1:0"})
		if err != nil {
			return err
		}
		nodes[l[0]].AddPeer(mesh.PeerSpec{Network: "tcp", Address: addr.String(), Redial: true})
	}
	sock := filepath.Join(dir, "n1.sock")
	ctl := ctlsock.NewServer(nodes["n1"], ctlsock.Options{Version: Version, Logger: logger})
	defer ctl.Close()
	// n1 submits work, n3 (two hops away) runs it.
	for _, id := range []string{"n1", "n3"} {
		srv := ctl
		if id != "n1" {
			srv = ctlsock.NewServer(nodes[id], ctlsock.Options{Version: Version, Logger: logger})
			defer srv.Close()
		}
		stop, err := demoWork(nodes[id], srv, dir, logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	ln, err := ctlsock.ListenUnix(sock, 0o600)
	if err != nil {
		return err
	}
	go ctl.Serve(ln)
	fmt.Fprintf(out, "meshd demo: 5 nodes on loopback, chain n1-n2-n3-n4 with a branch n2-n5\ncontrol socket of n1: %s\n\n", sock)

	c, err := dialControl(sock)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.waitRoutes(len(nodes)-1, 10*time.Second); err != nil {
		return err
	}
	var st struct {
		NodeID               string
		Connections          []struct{ NodeID string }
		RoutingTable         map[string]string
		KnownConnectionCosts map[string]map[string]float64
	}
	if err := c.command("status", &st); err != nil {
		return err
	}
	fmt.Fprintf(out, "> status (node %s)\n  %-8s %s\n", st.NodeID, "Route", "Via")
	for _, dst := range slices.Sorted(maps.Keys(st.RoutingTable)) {
		fmt.Fprintf(out, "  %-8s %s\n", dst, st.RoutingTable[dst])
	}
	fmt.Fprintf(out, "  %-8s %s\n", "Node", "Links")
	for _, n := range slices.Sorted(maps.Keys(st.KnownConnectionCosts)) {
		fmt.Fprintf(out, "  %-8s %s\n", n, strings.Join(slices.Sorted(maps.Keys(st.KnownConnectionCosts[n])), " "))
	}

	var ping struct {
		From, TimeStr, Error string
		Success              bool
	}
	if err := c.command("ping n4", &ping); err != nil {
		return err
	}
	if !ping.Success {
		return fmt.Errorf("ping n4 failed: %s", ping.Error)
	}
	fmt.Fprintf(out, "\n> ping n4\n  Reply from %s in %s\n", ping.From, ping.TimeStr)

	var trace map[string]struct{ From, TimeStr, Error string }
	if err := c.command("traceroute n4", &trace); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n> traceroute n4\n")
	for i := 0; i < len(trace); i++ {
		h := trace[fmt.Sprint(i)]
		fmt.Fprintf(out, "  %d: %s in %s\n", i, h.From, h.TimeStr)
	}
	if last := trace[fmt.Sprint(len(trace)-1)]; last.From != "n4" || last.Error != "" {
		return fmt.Errorf("traceroute did not reach n4: %+v", trace)
	}
	if err := demoRemoteWork(out, sock); err != nil {
		return err
	}
	fmt.Fprintln(out, "\nThe same socket works with receptorctl, socat or nc while the demo runs.")
	return nil
}

// demoWorkType is what n3 runs for the demo.
var demoWorkType = work.CommandType{WorkType: "uppercase", Command: "tr", Params: "a-z A-Z"}

// demoWork gives a demo node work units and its control service on the
// mesh, as a configured node has.
func demoWork(n *mesh.Node, srv *ctlsock.Server, dir string, logger *slog.Logger) (stop func(), err error) {
	wm, err := work.New(work.Config{NodeID: n.NodeID(), DataDir: dir, Dialer: n, Logger: logger,
		Types: []work.CommandType{demoWorkType}})
	if err != nil {
		return nil, err
	}
	srv.Register("work", ctlsock.WorkHandler(wm))
	ml, err := n.ListenStream("control", &mesh.Advert{ConnType: mesh.ConnTypeStream,
		Tags: map[string]string{"type": "Control Service"}, WorkCommands: []mesh.WorkCommand{{WorkType: demoWorkType.WorkType}}})
	if err != nil {
		wm.Close()
		return nil, err
	}
	go srv.Serve(ml)
	return func() { ml.Close(); wm.Close() }, nil
}

// demoRemoteWork submits a unit from n1 to n3, prints its output and
// status, and releases it.
func demoRemoteWork(out io.Writer, sock string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	payload := "hello from n1, two hops away\n"
	c, err := ctlclient.Dial(ctx, sock)
	if err != nil {
		return err
	}
	reply, err := c.Submit(map[string]string{"command": "work", "subcommand": "submit", "node": "n3", "worktype": demoWorkType.WorkType}, strings.NewReader(payload))
	c.Close()
	if err != nil {
		return fmt.Errorf("work submit: %w", err)
	}
	fmt.Fprintf(out, "\n> work submit n3 %s   (payload %q)\n  %s, unit %s\n", demoWorkType.WorkType, payload, reply.Result, reply.UnitID)
	if c, err = ctlclient.Dial(ctx, sock); err != nil {
		return err
	}
	defer c.Close()
	r, err := c.Results(reply.UnitID, 0, "")
	if err != nil {
		return err
	}
	output, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n> work results %s\n  %s", reply.UnitID, output)
	if c, err = ctlclient.Dial(ctx, sock); err != nil {
		return err
	}
	defer c.Close()
	var st work.StatusReply
	b, err := c.Command("work status " + reply.UnitID)
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		return err
	}
	x, _ := st.ExtraData.(map[string]any)
	fmt.Fprintf(out, "\n> work status %s\n  %s (%s), ran on %v as unit %v\n", reply.UnitID, st.StateName, st.Detail, x["RemoteNode"], x["RemoteUnitID"])
	if st.State != int(work.Succeeded) || string(output) != strings.ToUpper(payload) {
		return fmt.Errorf("remote work did not succeed: %+v, output %q", st, output)
	}
	if _, err := c.Command("work release " + reply.UnitID); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n> work release %s\n  released here and on n3\n", reply.UnitID)
	return nil
}

// demoClient speaks the control protocol over one connection.
type demoClient struct {
	net.Conn
	r *bufio.Reader
}

func dialControl(path string) (*demoClient, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, err
	}
	c := &demoClient{Conn: conn, r: bufio.NewReader(conn)}
	greeting, err := c.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(greeting, "Receptor Control, node ") {
		conn.Close()
		return nil, fmt.Errorf("control socket greeting %q: %v", greeting, err)
	}
	return c, nil
}

// command sends one command and decodes its JSON reply into v.
func (c *demoClient) command(cmd string, v any) error {
	if _, err := fmt.Fprintf(c, "%s\n", cmd); err != nil {
		return err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return err
	}
	if strings.HasPrefix(line, "ERROR: ") {
		return errors.New(strings.TrimSpace(line[7:]))
	}
	return json.Unmarshal([]byte(line), v)
}

// waitRoutes polls status until the node has n routes.
func (c *demoClient) waitRoutes(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var st struct{ RoutingTable map[string]string }
		if err := c.command(`{"command":"status","requested_fields":["RoutingTable"]}`, &st); err != nil {
			return err
		}
		if len(st.RoutingTable) >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mesh did not converge within %v: routes %v", timeout, st.RoutingTable)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
