package flow

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/retry"
)

// failover is `< a ? b ? ... >`: each batch goes to the first branch that takes it. A branch
// that fails is closed and skipped until its backoff has passed (growing from
// flume.agent.failover.backoff.initial to .max), then reopened and tried first again, so traffic
// returns to the primary once it is back. Classic BackOffFailOverSink took exactly two branches;
// this one takes any number, which is what a chain of collectors is.
type failover struct {
	branches   []*branch
	now        func() time.Time
	log        *slog.Logger
	failover   *metrics.Counter
	closeFails *metrics.Counter
}

type branch struct {
	sink    plugin.Sink
	open    bool
	retryAt time.Time // when a failed branch may be tried again
	backoff retry.Backoff
	sent    *metrics.Counter
	fails   *metrics.Counter
}

func newFailover(bc *plugin.BuildContext, sinks []plugin.Sink) *failover {
	m := bc.Counters().Sub("failover")
	f := &failover{now: time.Now, failover: m.Counter("failovers"), log: bc.Log(), closeFails: m.Counter("closefails")}
	for i, s := range sinks {
		f.branches = append(f.branches, &branch{
			sink: s,
			backoff: retry.Backoff{
				Initial:       bc.PropMillis("flume.agent.failover.backoff.initial", time.Second),
				Max:           bc.PropMillis("flume.agent.failover.backoff.max", time.Minute),
				CumulativeMax: 0, // a branch is never given up for good; it is retried at Max
			},
			sent:  m.Counter("sent" + strconv.Itoa(i)),
			fails: m.Counter("fails" + strconv.Itoa(i)),
		})
	}
	return f
}

// Open opens the first branch that opens. It fails only if every branch fails to open.
func (f *failover) Open(ctx context.Context) error {
	var errs []error
	for i, b := range f.branches {
		if err := b.sink.Open(ctx); err != nil {
			f.markFailed(b)
			errs = append(errs, fmt.Errorf("failover branch %d: open: %w", i, err))
			continue
		}
		b.open = true
		return nil
	}
	return fmt.Errorf("every failover branch failed: %w", errorsJoin(errs))
}

// Append delivers batch to the first available branch, failing over down the list.
func (f *failover) Append(ctx context.Context, batch []*event.Event) error {
	var errs []error
	now := f.now()
	for i, b := range f.branches {
		if !b.open {
			if now.Before(b.retryAt) {
				continue
			}
			if err := b.sink.Open(ctx); err != nil {
				f.markFailed(b)
				errs = append(errs, fmt.Errorf("failover branch %d: open: %w", i, err))
				continue
			}
			b.open = true
		}
		err := b.sink.Append(ctx, batch)
		if err == nil {
			b.backoff.Reset()
			b.sent.Add(int64(len(batch)))
			if i > 0 {
				f.failover.Add(int64(len(batch)))
			}
			return nil
		}
		if ctx.Err() != nil {
			return err // stopping: not the branch's fault
		}
		b.open = false
		if cerr := b.sink.Close(ctx); cerr != nil {
			// The branch may have held events it had accepted (a batch being built): they
			// cannot be sent elsewhere now, so say so loudly rather than lose them quietly.
			f.closeFails.Inc()
			f.log.Warn("closing a failed failover branch failed; events it held may be lost",
				"branch", i, "err", cerr)
		}
		f.markFailed(b)
		errs = append(errs, fmt.Errorf("failover branch %d: %w", i, err))
	}
	if len(errs) == 0 {
		return fmt.Errorf("every failover branch is backing off after failures")
	}
	return fmt.Errorf("every failover branch failed: %w", errorsJoin(errs))
}

func (f *failover) markFailed(b *branch) {
	b.fails.Inc()
	wait, ok := b.backoff.Next()
	if !ok {
		wait = b.backoff.Max
	}
	b.retryAt = f.now().Add(wait)
}

// Close closes the open branches.
func (f *failover) Close(ctx context.Context) error {
	var errs []error
	for i, b := range f.branches {
		if !b.open {
			continue
		}
		b.open = false
		if err := b.sink.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("failover branch %d: close: %w", i, err))
		}
	}
	return errorsJoin(errs)
}

// parts returns the branches, for the flow's condition.
func (f *failover) parts() []plugin.Sink {
	out := make([]plugin.Sink, len(f.branches))
	for i, b := range f.branches {
		out[i] = b.sink
	}
	return out
}
