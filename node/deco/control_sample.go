package deco

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
)

// newRand returns a generator seeded with seed, or with a random seed when seeded is false.
// A seeded generator makes a sampler or a flakey decorator repeatable.
func newRand(seed int64, seeded bool) *rand.Rand {
	if !seeded {
		return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
}

// filterSink passes on the events of each batch that keep selects, in order, and counts the
// others as drops. A batch with nothing left is not passed on: a sink never sees an empty
// batch. The filtered batch lives in a buffer reused from one Append to the next, which is
// safe because the sink owns nothing after Append returns.
type filterSink struct {
	ctlBase
	keep  func(e *event.Event) bool
	drops *metrics.Counter
	out   []*event.Event
}

func (f *filterSink) Append(ctx context.Context, batch []*event.Event) error {
	out := f.out[:0]
	for _, e := range batch {
		if f.keep(e) {
			out = append(out, e)
		}
	}
	f.out = out
	if n := len(batch) - len(out); n > 0 {
		f.drops.Add(int64(n))
	}
	if len(out) == 0 {
		return nil
	}
	err := f.next.Append(ctx, out)
	clear(out) // do not keep the source's events alive
	return err
}

// newIntervalSampler passes the first event and then every n-th one after it (events 1, n+1,
// 2n+1, ...), counting across batches, as classic Flume's intervalSampler did.
func newIntervalSampler(bc *plugin.BuildContext, next plugin.Sink, n int64) plugin.Sink {
	var seen int64
	return &filterSink{
		ctlBase: ctlBase{next},
		drops:   ctlCounters(bc, "intervalSampler").Counter("drops"),
		keep: func(*event.Event) bool {
			keep := seen%n == 0
			seen++
			return keep
		},
	}
}

// newProbSampler passes each event with probability p, drawn from a generator seeded with
// seed when seeded is set.
func newProbSampler(bc *plugin.BuildContext, next plugin.Sink, p float64, seed int64, seeded bool) plugin.Sink {
	r := newRand(seed, seeded)
	return &filterSink{
		ctlBase: ctlBase{next},
		drops:   ctlCounters(bc, "probSampler").Counter("drops"),
		keep:    func(*event.Event) bool { return r.Float64() < p },
	}
}

// reservoirSampler keeps a uniform random sample of k of the events appended to it (Vitter's
// algorithm R) and sends it on Close, as one batch. Classic Flume delivered the sample in the
// reservoir's order, which shuffled it; this one delivers it in arrival order.
type reservoirSampler struct {
	ctlBase
	k     int
	r     *rand.Rand
	seen  int64 // events appended since the last flush
	res   []sampled
	drops *metrics.Counter
}

// sampled is an event of the reservoir with its arrival number, to restore arrival order.
type sampled struct {
	seq int64
	e   *event.Event
}

func newReservoirSampler(bc *plugin.BuildContext, next plugin.Sink, k int, seed int64, seeded bool) *reservoirSampler {
	return &reservoirSampler{
		ctlBase: ctlBase{next},
		k:       k,
		r:       newRand(seed, seeded),
		drops:   ctlCounters(bc, "reservoirSampler").Counter("drops"),
	}
}

// Forwards implements plugin.Forwarder: the sampler keeps its sample until Close, so the
// positions of what it was given are not its sink's to keep.
func (s *reservoirSampler) Forwards() plugin.Sink { return nil }

func (s *reservoirSampler) Append(_ context.Context, batch []*event.Event) error {
	for _, e := range batch {
		seq := s.seen
		s.seen++
		if len(s.res) < s.k {
			// Clone: the events are the source's and are reused after Append returns.
			s.res = append(s.res, sampled{seq, e.Clone()})
			continue
		}
		// Keep the seen-th event with probability k/seen, in place of a random one.
		if j := s.r.Int64N(s.seen); j < int64(s.k) {
			s.res[j] = sampled{seq, e.Clone()}
		}
	}
	return nil
}

// flush sends the sample, in arrival order, and empties the reservoir.
func (s *reservoirSampler) flush(ctx context.Context) error {
	if len(s.res) == 0 {
		return nil
	}
	slices.SortFunc(s.res, func(a, b sampled) int { return cmp.Compare(a.seq, b.seq) })
	batch := make([]*event.Event, len(s.res))
	for i, x := range s.res {
		batch[i] = x.e
	}
	s.drops.Add(s.seen - int64(len(s.res)))
	s.res, s.seen = s.res[:0], 0
	clear(s.res[:cap(s.res)])
	if err := s.next.Append(ctx, batch); err != nil {
		return fmt.Errorf("reservoirSampler: send sample of %d events: %w", len(batch), err)
	}
	return nil
}

// Close sends the sample, then closes the sink, even when sending failed.
func (s *reservoirSampler) Close(ctx context.Context) error {
	return errors.Join(s.flush(ctx), s.next.Close(ctx))
}
