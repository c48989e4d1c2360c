package ctlsock

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// logLimiter lets through at most one log line per interval and counts the
// ones it held back, so a hostile client cannot flood the log.
type logLimiter struct {
	mu         sync.Mutex
	every      time.Duration
	next       time.Time
	suppressed int
}

// allow reports whether a line may be logged now, and how many were
// suppressed since the last one that was.
func (l *logLimiter) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	l.next = now.Add(l.every)
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}

func (l *logLimiter) log(lg *slog.Logger, level slog.Level, msg string, args ...any) {
	if !lg.Enabled(context.Background(), level) {
		return
	}
	ok, n := l.allow(time.Now())
	if !ok {
		return
	}
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	lg.Log(context.Background(), level, msg, args...)
}

// logLimits holds one limiter per kind of event, so that a flood of one kind
// does not hide another.
type logLimits struct {
	client   logLimiter // overlong lines, idle clients
	input    logLimiter // bad JSON, unknown commands
	sessions logLimiter // connections refused for MaxSessions
	accept   logLimiter // accept errors
	panics   logLimiter
}

func (l *logLimits) init(every time.Duration) {
	for _, lim := range []*logLimiter{&l.client, &l.input, &l.sessions, &l.accept, &l.panics} {
		lim.every = every
	}
}
