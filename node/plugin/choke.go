package plugin

import (
	"context"
	"sync"

	"golang.org/x/time/rate"
)

// ChokeTable holds the rate limits of a physical node's choke decorators. Every choke with the
// same id shares one limit, counted in body bytes per second, as classic Flume's
// `setChokeLimit physical chokeId KB/s` set it. An id with no limit set is not throttled.
// It is safe for concurrent use.
type ChokeTable struct {
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// NewChokeTable returns a table with no limits.
func NewChokeTable() *ChokeTable {
	return &ChokeTable{limiters: make(map[string]*rate.Limiter)}
}

// SetLimit sets the limit of id to kbps kilobytes per second; kbps <= 0 removes the limit.
func (t *ChokeTable) SetLimit(id string, kbps int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if kbps <= 0 {
		delete(t.limiters, id)
		return
	}
	bytes := kbps * 1024
	if l, ok := t.limiters[id]; ok {
		l.SetLimit(rate.Limit(bytes))
		l.SetBurst(int(bytes))
		return
	}
	t.limiters[id] = rate.NewLimiter(rate.Limit(bytes), int(bytes))
}

// Limit returns the limit of id in kilobytes per second, 0 when there is none.
func (t *ChokeTable) Limit(id string) int64 {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if l, ok := t.limiters[id]; ok {
		return int64(l.Limit()) / 1024
	}
	return 0
}

// Wait blocks until n bytes may pass through choke id, or ctx is done.
func (t *ChokeTable) Wait(ctx context.Context, id string, n int) error {
	if t == nil || n <= 0 {
		return nil
	}
	t.mu.Lock()
	l := t.limiters[id]
	t.mu.Unlock()
	if l == nil {
		return nil
	}
	// WaitN refuses n above the burst; take large batches in burst-sized steps.
	for n > 0 {
		step := min(n, l.Burst())
		if err := l.WaitN(ctx, step); err != nil {
			return err
		}
		n -= step
	}
	return nil
}
