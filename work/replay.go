package work

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// replayFile records the unit IDs of signed submits until their signature
// expires, so that a signed request cannot run twice, not even after its
// unit was released or the node restarted.
const replayFile = ".signed-requests"

const maxReplayEntries = 1 << 20

type replayCache struct {
	path string
	mu   sync.Mutex
	ids  map[string]time.Time // unit ID -> expiry of its signature
}

// load reads the file, dropping expired entries, and rewrites it compact.
func (c *replayCache) load(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids = map[string]time.Time{}
	f, err := os.Open(c.path)
	if err != nil {
		return
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(c.ids) < maxReplayEntries {
		id, exp, ok := strings.Cut(sc.Text(), " ")
		sec, err := strconv.ParseInt(exp, 10, 64)
		if !ok || err != nil || !validUnitID(id) {
			continue
		}
		if t := time.Unix(sec, 0); t.After(now) {
			c.ids[id] = t
		}
	}
	f.Close()
	var b strings.Builder
	for id, t := range c.ids {
		fmt.Fprintf(&b, "%s %d\n", id, t.Unix())
	}
	os.WriteFile(c.path, []byte(b.String()), 0o600)
}

func (c *replayCache) seen(id string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.ids[id]
	return ok && t.After(now)
}

// add records a signed unit ID. The record is appended to the file before
// the unit runs.
func (c *replayCache) add(id string, exp time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids[id] = exp
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	fmt.Fprintf(f, "%s %d\n", id, exp.Unix())
	f.Close()
}
