package deco

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/retry"
)

// Errors of the control decorators.
var (
	// ErrInjected is the failure that flakeyAppend and intervalFlakeyAppend inject. It is
	// transient, not plugin.Permanent, so retrying decorators retry it as they would a real
	// failure.
	ErrInjected = errors.New("injected append failure")
)

// delay waits before passing each batch on.
//
// Classic Flume slept before each event; here the wait is per batch, which is the same for the
// batches of one event that classic flows carried, and keeps delay(ms) meaning "this much
// latency" whatever the batch size.
type delay struct {
	ctlBase
	d time.Duration
}

func (s *delay) Append(ctx context.Context, batch []*event.Event) error {
	if err := retry.Wait(ctx, s.d); err != nil {
		return fmt.Errorf("delay: %w", err)
	}
	return s.next.Append(ctx, batch)
}

// maxMultBatch bounds the batches mult passes on, so that the copies of a large batch times a
// large n are never all in memory at once.
const maxMultBatch = 1000

// mult passes each event on n times, the copies next to each other, in batches of at most
// maxMultBatch events. When one of those batches fails, the error is returned and the rest are
// not sent; those before it were delivered, so a retry of the whole batch delivers them again.
type mult struct {
	ctlBase
	n int
	// out and copies are reused from one batch to the next, which is safe because the sink
	// owns nothing after Append returns.
	out    []*event.Event
	copies []event.Event
}

func (s *mult) Append(ctx context.Context, batch []*event.Event) error {
	if s.n == 1 {
		return s.next.Append(ctx, batch)
	}
	if need := min(len(batch)*s.n, maxMultBatch); cap(s.copies) < need {
		s.copies = make([]event.Event, need)
		s.out = make([]*event.Event, 0, need)
	}
	for _, e := range batch {
		// The first of the n is the event itself. Each copy is its own event, as in classic
		// Flume, so that a sink that tells events apart by identity sees n of them. A
		// shallow copy is enough: events are read-only downstream, and a decorator that
		// changes one Derives it first.
		s.out = append(s.out, e)
		for range s.n - 1 {
			if len(s.out) == maxMultBatch {
				if err := s.send(ctx); err != nil {
					return err
				}
			}
			k := len(s.out)
			s.copies[k] = *e
			s.out = append(s.out, &s.copies[k])
		}
		if len(s.out) == maxMultBatch {
			if err := s.send(ctx); err != nil {
				return err
			}
		}
	}
	return s.send(ctx)
}

// send passes on the events gathered in out, if any, and empties it.
func (s *mult) send(ctx context.Context) error {
	if len(s.out) == 0 {
		return nil
	}
	err := s.next.Append(ctx, s.out)
	// Do not keep the source's events, or what the copies point to, alive.
	clear(s.copies[:len(s.out)])
	clear(s.out)
	s.out = s.out[:0]
	return err
}

// flakeyAppend fails an Append with a fixed probability, without passing the batch on.
type flakeyAppend struct {
	ctlBase
	p        float64
	r        *rand.Rand
	failures *metrics.Counter
}

func (s *flakeyAppend) Append(ctx context.Context, batch []*event.Event) error {
	if s.r.Float64() < s.p {
		s.failures.Inc()
		return fmt.Errorf("flakeyAppend: %w", ErrInjected)
	}
	return s.next.Append(ctx, batch)
}

// intervalFlakeyAppend fails the append of every n-th event (the n-th, the 2n-th, ...), as
// classic Flume's intervalFlakeyAppend did, counting events across batches.
//
// Classic Flume appended one event at a time: the n-th append failed, the count started
// again, and a retry of that event was the first of the next n. Here a batch is all or
// nothing: an Append whose batch holds the n-th event fails without passing anything on, and
// the count starts again at that event. The events before it in the batch were counted at
// this attempt; the batch that fails has not delivered them, so a retry resends them, and
// they are not counted twice: the first events of the next Append, as many as came before the
// n-th in the failed batch, are taken to be that resend and not counted. A retried batch thus
// fails again only if it holds another n-th event after the one that failed, and the events
// that fail, counted over a stream of retried batches of any size, are those that failed in
// classic Flume's retried stream of single events. (A flow that does not resend the failed
// batch has the first events of its next batch left uncounted in the same way.)
//
// Events passed on are counted whether or not the next sink accepts them, as classic Flume
// counted an append before passing it on. With n = 1 every Append fails.
type intervalFlakeyAppend struct {
	ctlBase
	n int64
	// count is the number of events counted since the last failure; resent is how many
	// events at the head of the next batch are the resent, already counted, head of the
	// batch that failed.
	count, resent int64
	failures      *metrics.Counter
}

func (s *intervalFlakeyAppend) Append(ctx context.Context, batch []*event.Event) error {
	count, skip := s.count, s.resent
	for i := range batch {
		if skip > 0 {
			skip--
			continue
		}
		count++
		if count%s.n == 0 {
			s.count, s.resent = 0, int64(i)
			s.failures.Inc()
			return fmt.Errorf("intervalFlakeyAppend: event %d of %d: %w", i+1, len(batch), ErrInjected)
		}
	}
	s.count, s.resent = count, 0
	return s.next.Append(ctx, batch)
}

// newIntervalDroppy silently drops every n-th event (the n-th, the 2n-th, ...), counting
// events one by one across batches, as classic Flume's intervalDroppyAppend did: whatever the
// batching, the events dropped are exactly those whose count is a multiple of n, and the others
// are passed on in order. It counts the drops. Every event offered is counted, as classic Flume
// counted every append: a batch resent after the next sink refused it is counted again.
func newIntervalDroppy(bc *plugin.BuildContext, next plugin.Sink, n int64) plugin.Sink {
	var count int64
	return &filterSink{
		ctlBase: ctlBase{next},
		drops:   ctlCounters(bc, "intervalDroppyAppend").Counter("drops"),
		keep: func(*event.Event) bool {
			count++
			if count%n == 0 {
				count = 0
				return false
			}
			return true
		},
	}
}

// choke throttles the events passing through it to the limit the node's choke table sets for
// its id; every choke with the same id shares that limit. As in classic Flume, each event
// costs its body bytes plus plugin.ChokeEventOverhead, so a stream of small or empty events is
// throttled too, and a batch costs the sum of its events, whatever the batching. The batch is
// passed on once the limit allows all of it.
type choke struct {
	ctlBase
	id     string
	chokes *plugin.ChokeTable // nil: no limits
	bytes  *metrics.Counter   // body bytes passed on
}

func (s *choke) Append(ctx context.Context, batch []*event.Event) error {
	if err := s.chokes.Wait(ctx, s.id, plugin.ChokeCost(batch)); err != nil {
		return fmt.Errorf("choke %q: %w", s.id, err)
	}
	n := 0
	for _, e := range batch {
		n += len(e.Body)
	}
	s.bytes.Add(int64(n))
	return s.next.Append(ctx, batch)
}
