package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

const greetingPrefix = "Receptor Control, node "

// ctl is a client of a node's control socket (receptor's line protocol).
type ctl struct {
	c net.Conn
	r *bufio.Reader
}

// dialCtl connects to a control socket and reads the greeting, retrying
// the connection every millisecond until timeout (the socket may not
// exist yet); the greeting itself may take up to 5 s more.
func dialCtl(path string, timeout time.Duration) (*ctl, error) {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("unix", path, time.Until(deadline))
		if err != nil {
			lastErr = err
			time.Sleep(time.Millisecond)
			continue
		}
		k := &ctl{c: c, r: bufio.NewReaderSize(c, 64<<10)}
		// Connected: the greeting gets its own bound, however short the
		// connection retry budget was.
		c.SetDeadline(time.Now().Add(5 * time.Second))
		line, err := k.r.ReadString('\n')
		c.SetDeadline(time.Time{})
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("%s: greeting: %w", path, err)
		}
		if !strings.HasPrefix(line, greetingPrefix) {
			c.Close()
			return nil, fmt.Errorf("%s: unexpected greeting %q", path, line)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%s: no control socket after %v: %v", path, timeout, lastErr)
}

func (k *ctl) Close() error { return k.c.Close() }

// cmd sends one command line and returns the one-line reply.
func (k *ctl) cmd(line string, timeout time.Duration) ([]byte, error) {
	k.c.SetDeadline(time.Now().Add(timeout))
	defer k.c.SetDeadline(time.Time{})
	if _, err := k.c.Write([]byte(line + "\n")); err != nil {
		return nil, err
	}
	reply, err := k.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		// A long status reply: gather the rest.
		buf := append([]byte(nil), reply...)
		for errors.Is(err, bufio.ErrBufferFull) && len(buf) < 16<<20 {
			reply, err = k.r.ReadSlice('\n')
			buf = append(buf, reply...)
		}
		reply = buf
	}
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(string(reply), "ERROR") {
		return nil, fmt.Errorf("%s: %s", line, strings.TrimSpace(string(reply)))
	}
	return reply, nil
}

// routes returns the node's RoutingTable.
func (k *ctl) routes(timeout time.Duration) (map[string]string, error) {
	// Only the routing table, as receptorctl asks for single fields: the
	// whole status (every node's advertisements) would make the poller
	// weigh on the nodes it measures.
	reply, err := k.cmd(`{"command":"status","requested_fields":["RoutingTable"]}`, timeout)
	if err != nil {
		return nil, err
	}
	var st struct{ RoutingTable map[string]string }
	if err := json.Unmarshal(reply, &st); err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return st.RoutingTable, nil
}

// ping asks the node to ping target and returns the round trip the node
// measured (receptor's "Time" field).
func (k *ctl) ping(target string, timeout time.Duration) (time.Duration, error) {
	reply, err := k.cmd("ping "+target, timeout)
	if err != nil {
		return 0, err
	}
	var r struct {
		Success bool
		From    string
		Time    int64
		Error   string
	}
	if err := json.Unmarshal(reply, &r); err != nil {
		return 0, fmt.Errorf("ping reply %q: %w", reply, err)
	}
	if !r.Success {
		return 0, fmt.Errorf("ping %s: %s", target, r.Error)
	}
	return time.Duration(r.Time), nil
}

// waitRoutes polls status until cond holds for the routing table.
func (k *ctl) waitRoutes(timeout time.Duration, what string, cond func(map[string]string) bool) error {
	deadline := time.Now().Add(timeout)
	var last map[string]string
	for time.Now().Before(deadline) {
		rt, err := k.routes(5 * time.Second)
		if err != nil {
			return err
		}
		if cond(rt) {
			return nil
		}
		last = rt
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("timed out after %v waiting for %s (routing table %v)", timeout, what, last)
}
