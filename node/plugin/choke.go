package plugin

import (
	"context"
	"sync"

	"golang.org/x/time/rate"

	"github.com/flumego/flume/node/event"
)

// ChokeEventOverhead is what each event costs a choke besides its body, in bytes: classic
// Flume's choke charged every event its body length plus this fixed header, so that many small
// events are throttled as well as a few large ones.
const ChokeEventOverhead = 50

// chokeBurstDivisor sets the burst of a choke limit to a tenth of a second's worth: classic
// Flume refilled each choke's bucket to 100 ms of its limit every 100 ms, never more, so that
// no second passes much more than the limit, even after an idle spell.
const chokeBurstDivisor = 10

// ChokeCost returns what batch costs a choke: the body bytes of its events plus
// ChokeEventOverhead for each event. The cost of a batch is the sum of the costs of its events,
// so a choke limits the same stream alike however it is batched.
func ChokeCost(batch []*event.Event) int {
	n := 0
	for _, e := range batch {
		n += len(e.Body) + ChokeEventOverhead
	}
	return n
}

// ChokeTable holds the rate limits of a physical node's choke decorators. Every choke with the
// same id shares one limit, counted in bytes per second (each event's body plus
// ChokeEventOverhead, see ChokeCost), as classic Flume's `setChokeLimit physical chokeId KB/s`
// set it. An id with no limit set is not throttled. It is safe for concurrent use.
type ChokeTable struct {
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// NewChokeTable returns a table with no limits.
func NewChokeTable() *ChokeTable {
	return &ChokeTable{limiters: make(map[string]*rate.Limiter)}
}

// SetLimit sets the limit of id to kbps kilobytes per second; kbps <= 0 removes the limit.
// The limit allows a burst of a tenth of a second's worth.
func (t *ChokeTable) SetLimit(id string, kbps int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if kbps <= 0 {
		delete(t.limiters, id)
		return
	}
	bytes := kbps * 1024
	burst := int(max(bytes/chokeBurstDivisor, 1))
	if l, ok := t.limiters[id]; ok {
		l.SetLimit(rate.Limit(bytes))
		l.SetBurst(burst)
		return
	}
	t.limiters[id] = rate.NewLimiter(rate.Limit(bytes), burst)
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

// Wait blocks until n bytes may pass through choke id, or ctx is done. A choke decorator
// passes ChokeCost of its batch.
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
