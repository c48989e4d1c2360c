package mesh

import (
	"sync"
	"time"
)

// rateLimiter lets one log line per key through per interval, so a peer
// that misbehaves a thousand times a second costs one line every few
// seconds.
type rateLimiter struct {
	mu   sync.Mutex
	last map[string]time.Time
}

const logInterval = 5 * time.Second

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
	if len(r.last) > 10000 { // bound memory under a flood of distinct keys
		clear(r.last)
	}
	r.last[key] = now
	return true
}
