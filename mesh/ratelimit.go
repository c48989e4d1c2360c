package mesh

import (
	"sync"
	"time"
)

// rateLimiter lets one log line per key through per interval, so a peer
// that misbehaves a thousand times a second costs one line every few
// seconds. Keys often hold what a peer claims (a node ID), so a peer that
// makes up a new one each time could still fill the log: all keys
// together get at most maxLogBurst lines per interval.
type rateLimiter struct {
	mu     sync.Mutex
	last   map[string]time.Time
	window time.Time // start of the current interval of the overall budget
	lines  int       // lines let through in it
}

const (
	logInterval = 5 * time.Second
	maxLogBurst = 50
)

// allow reports whether a line for key may be logged now.
func (r *rateLimiter) allow(key string) bool {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]time.Time{}
	}
	if t, ok := r.last[key]; ok && now.Sub(t) < logInterval {
		return false
	}
	if now.Sub(r.window) >= logInterval {
		r.window, r.lines = now, 0
	}
	if r.lines >= maxLogBurst {
		return false
	}
	r.lines++
	if len(r.last) > 10000 { // bound memory under a flood of distinct keys
		clear(r.last)
	}
	r.last[key] = now
	return true
}
