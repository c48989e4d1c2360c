package udplink

import "time"

// Config tunes a connection. The zero value (or nil) means the defaults.
type Config struct {
	// KeepaliveInterval: a connection that has sent nothing for this long
	// sends an empty ack, so that its peer sees it alive. Default 500 ms,
	// as the mesh link layer's keepalives.
	KeepaliveInterval time.Duration
	// IdleTimeout: a connection that has received nothing for this long
	// fails; Read and Write return ErrIdle. Default 2.5 s, as the mesh
	// link layer's idle timeout.
	IdleTimeout time.Duration
	// MinWindow is the floor of the congestion window, in segments
	// (default 256, about 280 KB); MaxWindow its ceiling (default 2048).
	// See the package comment for why there is a floor.
	MinWindow, MaxWindow int
	// RecvWindow is the receive buffer in segments (default 2048, about
	// 2.2 MB); SendBuffer the send buffer in segments (default 2048).
	RecvWindow, SendBuffer int
	// MaxConns bounds a listener's connections (default 1024) and
	// AcceptBacklog its queue of connections not yet accepted (default 128).
	MaxConns, AcceptBacklog int
}

const (
	initialRTO   = 500 * time.Millisecond
	minRTO       = 200 * time.Millisecond
	maxRTO       = 2 * time.Second
	ackDelay     = 5 * time.Millisecond
	ackEvery     = 4 // in-order segments received before an ack is sent at once
	lingerAfter  = time.Second
	maxLinger    = 10 * time.Second
	cookieMaxAge = 10 // seconds
	socketBuffer = 4 << 20
)

func (c *Config) withDefaults() Config {
	var r Config
	if c != nil {
		r = *c
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if r.KeepaliveInterval <= 0 {
		r.KeepaliveInterval = 500 * time.Millisecond
	}
	if r.IdleTimeout <= 0 {
		r.IdleTimeout = 2500 * time.Millisecond
	}
	def(&r.MinWindow, 256)
	def(&r.MaxWindow, 2048)
	def(&r.RecvWindow, 2048)
	def(&r.SendBuffer, 2048)
	def(&r.MaxConns, 1024)
	def(&r.AcceptBacklog, 128)
	r.RecvWindow = min(r.RecvWindow, 1<<16)
	r.MaxWindow = min(max(r.MaxWindow, 4), 1<<16)
	r.MinWindow = min(max(r.MinWindow, 2), r.MaxWindow)
	return r
}
