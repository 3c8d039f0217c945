// Package refusal logs refused requests without letting a stranger flood the log: the first
// refusal of a kind from one peer is logged, later ones within a quiet period are only counted,
// and the count is reported with the next line logged for that peer and kind.
//
// A Log remembers a bounded number of keys (the oldest are forgotten first), so a flood from
// many addresses cannot grow the memory of the process that refuses it.
package refusal

import (
	"log/slog"
	"sync"
	"time"
)

// Defaults of a Log.
const (
	// DefaultQuiet is how long a key stays quiet after it was logged.
	DefaultQuiet = time.Minute
	// maxKeys bounds the keys remembered.
	maxKeys = 4096
)

// Log logs refusals once per key and quiet period. Safe for concurrent use.
type Log struct {
	log   *slog.Logger
	quiet time.Duration
	now   func() time.Time

	mu    sync.Mutex
	seen  map[string]*entry
	order []string // keys in the order they were first seen, for eviction
}

type entry struct {
	logged     time.Time
	suppressed int
}

// New returns a Log that writes to log (nil discards) and keeps each key quiet for quiet
// (DefaultQuiet when zero or negative).
func New(log *slog.Logger, quiet time.Duration) *Log {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if quiet <= 0 {
		quiet = DefaultQuiet
	}
	return &Log{log: log, quiet: quiet, now: time.Now, seen: make(map[string]*entry)}
}

// Refuse logs msg at warning level with args, unless key was logged within the quiet period,
// in which case the refusal is counted and reported with the next line logged for key. key
// names the kind of refusal and the peer ("tls 10.0.0.9"), never something the peer chooses
// freely per request, or every request would be logged.
func (l *Log) Refuse(key, msg string, args ...any) {
	if l == nil {
		return
	}
	l.mu.Lock()
	now := l.now()
	e, ok := l.seen[key]
	if ok && now.Sub(e.logged) < l.quiet {
		e.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := 0
	if ok {
		suppressed, e.logged, e.suppressed = e.suppressed, now, 0
	} else {
		l.remember(key, now)
	}
	l.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "refused_since_last_logged", suppressed)
	}
	args = append(args, "quiet", l.quiet)
	l.log.Warn(msg, args...)
}

// remember adds key, forgetting the oldest key when the Log is full; l.mu is held.
func (l *Log) remember(key string, now time.Time) {
	if len(l.order) >= maxKeys {
		delete(l.seen, l.order[0])
		l.order = l.order[1:]
	}
	l.seen[key] = &entry{logged: now}
	l.order = append(l.order, key)
}

// Suppressed returns how many refusals of key were counted and not logged since it was last
// logged.
func (l *Log) Suppressed(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.seen[key]; ok {
		return e.suppressed
	}
	return 0
}
