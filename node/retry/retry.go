// Package retry holds the backoff policy of everything that retries: the insistentOpen and
// insistentAppend decorators, failover sinks, the master session. It is classic Flume's
// CumulativeCappedExponentialBackoff: waits double from an initial value up to a cap per wait,
// and a retry loop gives up once its waits add up to more than a cumulative cap.
//
// The policy only computes waits; Wait does the waiting, so a caller can stop on its context.
// A typical loop:
//
//	b := retry.Backoff{Initial: time.Second, Max: time.Minute, CumulativeMax: 10 * time.Minute}
//	for {
//		err := try()
//		if err == nil || plugin.IsPermanent(err) {
//			return err
//		}
//		d, ok := b.Next()
//		if !ok {
//			return fmt.Errorf("give up: %w", err)
//		}
//		if werr := retry.Wait(ctx, d); werr != nil {
//			return werr
//		}
//	}
package retry

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// Defaults applied to the zero fields of a Backoff. They are classic Flume's
// flume.inisistentOpen.init.backoff and flume.agent.failover.backoff.max.
const (
	DefaultInitial = time.Second
	DefaultMax     = time.Minute
)

// Backoff is a capped exponential backoff with an optional cumulative cap. The first wait is
// Initial; each next one doubles, up to Max. Once the waits handed out plus the next one would
// exceed CumulativeMax, Next reports that the caller should give up.
//
// Unlike classic Flume, which measured the cumulative cap on the wall clock from the first
// failure, the cap here counts only the waits, so the sequence is deterministic and a slow
// attempt does not eat into the retry budget.
//
// The zero value is usable: Initial and Max take DefaultInitial and DefaultMax, and there is
// no cumulative cap. A Backoff is not safe for concurrent use; each retry loop owns one.
type Backoff struct {
	// Initial is the first wait; 0 means DefaultInitial.
	Initial time.Duration
	// Max caps a single wait; 0 means DefaultMax. A Max below Initial makes every wait Max.
	Max time.Duration
	// CumulativeMax caps the sum of the waits of one retry loop; 0 means unbounded.
	CumulativeMax time.Duration
	// Jitter, in [0, 1], shortens each wait by a random fraction of up to Jitter of it, so
	// many clients that failed together do not retry together. 0, the default, keeps the
	// waits exact and deterministic. The doubling works on the waits before jitter.
	Jitter float64

	next   time.Duration // the next wait before jitter; 0 before the first Next
	total  time.Duration // the sum of the waits handed out since the last Reset
	failed bool          // the cumulative cap was reached
}

// Next returns the next wait after a failed attempt. ok is false when that wait would take
// the sum of the waits since the last Reset past CumulativeMax: the caller should give up
// rather than try again. Once ok is false it stays false until Reset.
func (b *Backoff) Next() (wait time.Duration, ok bool) {
	if b.failed {
		return 0, false
	}
	initial, max := b.Initial, b.Max
	if initial <= 0 {
		initial = DefaultInitial
	}
	if max <= 0 {
		max = DefaultMax
	}
	if b.next <= 0 {
		b.next = initial
	}
	wait = min(b.next, max)
	if b.Jitter > 0 {
		wait -= time.Duration(float64(wait) * min(b.Jitter, 1) * rand.Float64())
	}
	if b.CumulativeMax > 0 && b.total+wait > b.CumulativeMax {
		b.failed = true
		return 0, false
	}
	b.total += wait
	// Stop doubling at the cap, and before the value could overflow.
	if b.next < max {
		b.next = min(b.next, math.MaxInt64/2) * 2
	}
	return wait, true
}

// Reset starts a new retry loop: the next wait is Initial again and the cumulative sum is
// zero. Call it after a success.
func (b *Backoff) Reset() {
	b.next, b.total, b.failed = 0, 0, false
}

// Total returns the sum of the waits handed out since the last Reset.
func (b *Backoff) Total() time.Duration { return b.total }

// Wait blocks for d, or until ctx is done, in which case it returns ctx.Err(). A d of zero or
// less returns at once, with ctx.Err() if ctx is already done.
func Wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
