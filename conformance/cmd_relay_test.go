package conformance

import (
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
)

const relayUsage = `relay start NAME PORTVAR TARGET
relay stall NAME
relay resume NAME
relay cut NAME`

// relay is a TCP forwarder between nodes that the script can stall or cut,
// to make link failures that do not close the link's connection.
type relay struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	stalled bool
	resumed chan struct{} // closed by resume; replaced by stall
	conns   map[net.Conn]bool
	closed  bool
}

// cmdRelay runs TCP relays:
//
//	relay start NAME PORTVAR TARGET
//
// listens on a free 127.0.0.1 port, sets PORTVAR to it, and forwards every
// connection to TARGET (host:port). Point a tcp-peer at the relay instead
// of at the node behind it.
//
//	relay stall NAME / relay resume NAME
//
// stops moving bytes in both directions, on current and new connections,
// without closing anything (TCP flow control holds the senders), or moves
// them again. A stalled link stays open at the TCP level, so nodes notice
// only by their keepalive timeout.
//
//	relay cut NAME
//
// closes every connection the relay carries now; new ones are accepted.
//
// Relays stop when the script ends.
func cmdRelay(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage:\n%s", relayUsage)
	}
	st := stateOf(ts)
	sub, name := args[0], args[1]
	if sub == "start" {
		if len(args) != 4 {
			ts.Fatalf("usage: relay start NAME PORTVAR TARGET")
		}
		if st.relays[name] != nil {
			ts.Fatalf("relay %s is already running", name)
		}
		r := startRelay(ts, args[3])
		st.relays[name] = r
		ts.Defer(r.close)
		setenv(ts, args[2], strconv.Itoa(r.ln.Addr().(*net.TCPAddr).Port))
		return
	}
	r := st.relays[name]
	if r == nil || len(args) != 2 {
		ts.Fatalf("no relay named %s, or bad arguments; usage:\n%s", name, relayUsage)
	}
	switch sub {
	case "stall":
		r.setStalled(true)
	case "resume":
		r.setStalled(false)
	case "cut":
		r.cut()
	default:
		ts.Fatalf("unknown relay subcommand %q; usage:\n%s", sub, relayUsage)
	}
}

func startRelay(ts *testscript.TestScript, target string) *relay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	r := &relay{ln: ln, target: target, resumed: make(chan struct{}), conns: map[net.Conn]bool{}}
	close(r.resumed)
	go r.acceptLoop()
	return r
}

func (r *relay) acceptLoop() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		go r.serve(c)
	}
}

func (r *relay) serve(c net.Conn) {
	t, err := net.Dial("tcp", r.target)
	if err != nil {
		c.Close()
		return
	}
	if !r.track(c, t) {
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.pipe(t, c) }()
	go func() { defer wg.Done(); r.pipe(c, t) }()
	wg.Wait()
	r.untrack(c, t)
}

// pipe copies src to dst, waiting while the relay is stalled, and
// passes a half-close on.
func (r *relay) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		r.waitResumed()
		n, err := src.Read(buf)
		if n > 0 {
			r.waitResumed()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			if err == io.EOF {
				dst.(*net.TCPConn).CloseWrite()
			} else {
				dst.Close()
			}
			return
		}
	}
}

func (r *relay) waitResumed() {
	r.mu.Lock()
	ch := r.resumed
	r.mu.Unlock()
	<-ch
}

func (r *relay) setStalled(stalled bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if stalled == r.stalled {
		return
	}
	r.stalled = stalled
	if stalled {
		r.resumed = make(chan struct{})
	} else {
		close(r.resumed)
	}
}

func (r *relay) track(conns ...net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		r.conns[c] = true
	}
	return true
}

func (r *relay) untrack(conns ...net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range conns {
		c.Close()
		delete(r.conns, c)
	}
}

// cut closes every current connection.
func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns {
		c.Close()
	}
}

// close stops the relay for good.
func (r *relay) close() {
	r.ln.Close()
	r.mu.Lock()
	r.closed = true
	if r.stalled {
		r.stalled = false
		close(r.resumed) // let blocked pipes see their closed connections
	}
	r.mu.Unlock()
	r.cut()
}
