package mesh

import (
	"strconv"
	"testing"
)

// TestRateLimiter: one line per key per interval, and no more than
// maxLogBurst lines in all however many keys a peer makes up.
func TestRateLimiter(t *testing.T) {
	var r rateLimiter
	if !r.allow("a") || r.allow("a") {
		t.Fatal("want the first line of a key, and not a second one at once")
	}
	allowed := 1
	for i := range 10 * maxLogBurst {
		if r.allow("made-up-" + strconv.Itoa(i)) {
			allowed++
		}
	}
	if allowed != maxLogBurst {
		t.Errorf("%d lines for distinct keys within one interval, want %d", allowed, maxLogBurst)
	}
}
