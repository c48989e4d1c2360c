package bench

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Work benchmarks: a unit is submitted and its results read through a
// node's control protocol, exactly as receptorctl does, by RunUnit. The
// baseline for a unit's output is the source protocol: the same bytes
// served by a plain TCP server and read through relays.

// Source protocol. The client sends an 8-byte big-endian count N; the
// source writes N bytes and closes the connection. The client reads to
// EOF.

// ServeSource accepts connections on ln until it fails, serving each one.
func ServeSource(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go Source(c)
	}
}

// Source runs the source protocol on one connection and closes it.
func Source(c net.Conn) error {
	defer c.Close()
	var hdr [8]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return err
	}
	n := int64(binary.BigEndian.Uint64(hdr[:]))
	buf := make([]byte, 256<<10) // zeros, as head -c N /dev/zero writes
	for n > 0 {
		k := min(n, int64(len(buf)))
		w, err := c.Write(buf[:k])
		n -= int64(w)
		if err != nil {
			return err
		}
	}
	if cw, ok := c.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ListenSource starts a TCP source on 127.0.0.1; close it with the
// listener.
func ListenSource() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go ServeSource(ln)
	return ln, nil
}

// Fetch asks the source behind c for n bytes and reads them to EOF; it
// fails unless exactly n arrive.
func Fetch(c net.Conn, n int64) error {
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(n))
	if _, err := c.Write(hdr[:]); err != nil {
		return err
	}
	got, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{c}, make([]byte, 256<<10))
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("source sent %d bytes, want %d", got, n)
	}
	return nil
}

// CtlSession is one session of receptor's control protocol, greeting read.
type CtlSession struct {
	C    net.Conn
	R    *bufio.Reader
	Node string // from the greeting
}

const ctlGreeting = "Receptor Control, node "

// OpenCtl reads the greeting of a control session on c (closing c if that
// fails).
func OpenCtl(c net.Conn, timeout time.Duration) (*CtlSession, error) {
	s := &CtlSession{C: c, R: bufio.NewReaderSize(c, 256<<10)}
	c.SetDeadline(time.Now().Add(timeout))
	line, err := s.R.ReadString('\n')
	c.SetDeadline(time.Time{})
	if err == nil && !strings.HasPrefix(line, ctlGreeting) {
		err = fmt.Errorf("unexpected greeting %q", line)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("control greeting: %w", err)
	}
	s.Node = strings.TrimSpace(strings.TrimPrefix(line, ctlGreeting))
	return s, nil
}

// Close closes the session's connection.
func (s *CtlSession) Close() error { return s.C.Close() }

// line reads one reply line; an ERROR line is an error.
func (s *CtlSession) line(what string) (string, error) {
	l, err := s.R.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("%s: %w (after %q)", what, err, l)
	}
	if strings.HasPrefix(l, "ERROR") {
		return "", fmt.Errorf("%s: %s", what, strings.TrimSpace(l))
	}
	return l, nil
}

// Command sends one command line and returns its one-line reply.
func (s *CtlSession) Command(cmd string, timeout time.Duration) (string, error) {
	s.C.SetDeadline(time.Now().Add(timeout))
	defer s.C.SetDeadline(time.Time{})
	if _, err := io.WriteString(s.C, cmd+"\n"); err != nil {
		return "", err
	}
	return s.line(cmd)
}

// Dialer opens a connection to a node's control service.
type Dialer func() (net.Conn, error)

// Open dials and reads the greeting.
func (d Dialer) Open(timeout time.Duration) (*CtlSession, error) {
	c, err := d()
	if err != nil {
		return nil, err
	}
	return OpenCtl(c, timeout)
}

// UnixDialer dials a control socket.
func UnixDialer(path string) Dialer {
	return func() (net.Conn, error) { return net.DialTimeout("unix", path, 10*time.Second) }
}

// UnitRun is what RunUnit measured of one unit.
type UnitRun struct {
	UnitID string
	Start  time.Time     // just before the submit line was written
	Reply  time.Duration // from Start to the submit's final reply ("Job Started")
	Done   time.Duration // from Start to the end of the results stream
	Bytes  int64         // output bytes read
}

// End is when the results stream ended.
func (r UnitRun) End() time.Time { return r.Start.Add(r.Done) }

// RunUnit submits a unit of worktype for node with an empty payload
// through two control sessions that dial opens, and reads its results to
// the end into out (nil: discarded). Both sessions are opened and greeted
// before the clock starts, so Done is the time from writing the submit
// line until the last byte of output arrived and the stream ended.
//
// meshd ends a results stream exactly when the unit is final and all of
// its output is written (a unit's final status is recorded only with its
// output complete), so Done is the submit-to-final-state latency with no
// polling error; for a unit with output, it also covers streaming it all.
func RunUnit(dial Dialer, node, worktype string, out io.Writer, timeout time.Duration) (UnitRun, error) {
	var r UnitRun
	sub, err := dial.Open(timeout)
	if err != nil {
		return r, err
	}
	defer sub.Close()
	res, err := dial.Open(timeout)
	if err != nil {
		return r, err
	}
	defer res.Close()
	deadline := time.Now().Add(timeout)
	sub.C.SetDeadline(deadline)
	res.C.SetDeadline(deadline)
	hc, ok := sub.C.(closeWriter)
	if !ok {
		return r, fmt.Errorf("%T cannot half-close", sub.C)
	}
	if out == nil {
		out = io.Discard
	}

	r.Start = time.Now()
	if _, err := io.WriteString(sub.C, "work submit "+node+" "+worktype+"\n"); err != nil {
		return r, err
	}
	created, err := sub.line("work submit")
	if err != nil {
		return r, err
	}
	id, ok := parseCreated(created)
	if !ok {
		return r, fmt.Errorf("work submit: unexpected reply %q", created)
	}
	r.UnitID = id
	if err := hc.CloseWrite(); err != nil { // the (empty) payload ends
		return r, err
	}
	final, err := sub.line("work submit " + id + ", after the payload")
	if err != nil {
		return r, err
	}
	var reply struct{ Result, UnitID string }
	if err := json.Unmarshal([]byte(final), &reply); err != nil || reply.UnitID != id {
		return r, fmt.Errorf("work submit %s: unexpected final reply %q", id, final)
	}
	r.Reply = time.Since(r.Start)
	if _, err := io.WriteString(res.C, "work results "+id+"\n"); err != nil {
		return r, err
	}
	head, err := res.line("work results " + id)
	if err != nil {
		return r, err
	}
	if strings.TrimSpace(head) != "Streaming results for work unit "+id {
		return r, fmt.Errorf("work results %s: unexpected header %q", id, head)
	}
	// Hide WriterTo/ReaderFrom: a plain read loop, as a client reads.
	n, err := io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{res.R}, make([]byte, 256<<10))
	r.Done = time.Since(r.Start)
	r.Bytes = n
	if err != nil {
		return r, fmt.Errorf("work results %s: after %d bytes: %w", id, n, err)
	}
	return r, nil
}

// parseCreated extracts the ID from "Work unit created with ID X. Send
// stdin data and EOF."
func parseCreated(line string) (string, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "Work unit created with ID ")
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, ". Send stdin data and EOF.")
	return id, ok && id != ""
}

// UnitStatus is the part of a `work status` reply the benchmarks check.
type UnitStatus struct {
	State      int
	StateName  string
	Detail     string
	StdoutSize int64
	ExtraData  struct{ RemoteUnitID string }
}

// Status returns a unit's status through a fresh session.
func (d Dialer) Status(id string, timeout time.Duration) (UnitStatus, error) {
	var st UnitStatus
	s, err := d.Open(timeout)
	if err != nil {
		return st, err
	}
	defer s.Close()
	line, err := s.Command("work status "+id, timeout)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(line), &st); err != nil {
		return st, fmt.Errorf("work status %s: %q: %w", id, line, err)
	}
	return st, nil
}

// Release releases a unit through a fresh session.
func (d Dialer) Release(id string, timeout time.Duration) error {
	s, err := d.Open(timeout)
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = s.Command("work release "+id, timeout)
	return err
}

// CheckUnit checks that a unit ended Succeeded with want output bytes,
// and returns its status.
func (d Dialer) CheckUnit(id string, want int64, timeout time.Duration) (UnitStatus, error) {
	st, err := d.Status(id, timeout)
	if err != nil {
		return st, err
	}
	if st.StateName != "Succeeded" || st.StdoutSize != want {
		return st, fmt.Errorf("unit %s: state %s (%q), %d output bytes; want Succeeded with %d", id, st.StateName, st.Detail, st.StdoutSize, want)
	}
	return st, nil
}

// CheckBytes checks that a run read want bytes.
func (r UnitRun) CheckBytes(want int64) error {
	if r.Bytes != want {
		return fmt.Errorf("unit %s: read %d output bytes, want %d", r.UnitID, r.Bytes, want)
	}
	return nil
}
