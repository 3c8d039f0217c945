package deco

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/retry"
)

// ctlBase forwards Open and Close to the sink a control decorator wraps. Their errors pass
// through unchanged: the decorator has no context to add to them.
type ctlBase struct{ next plugin.Sink }

func (b *ctlBase) Open(ctx context.Context) error  { return b.next.Open(ctx) }
func (b *ctlBase) Close(ctx context.Context) error { return b.next.Close(ctx) }

// Forwards implements plugin.Forwarder: a control decorator hands each batch on within its
// Append (a sampler that keeps events says otherwise).
func (b *ctlBase) Forwards() plugin.Sink { return b.next }

// ctlCounters returns the metrics view of decorator name: its counters read as
// "<flow>.<name>.<counter>".
func ctlCounters(bc *plugin.BuildContext, name string) *metrics.Registry {
	return bc.Counters().Sub(name)
}

// lazyOpen defers opening its sink to the first Append, so a sink that cannot be opened yet
// (a collector not started) does not hold up the flow that contains it.
type lazyOpen struct {
	ctlBase
	opened    bool // next is open
	attempted bool // next.Open was called, successfully or not: Close must close it
}

// NewLazyOpen returns the lazyOpen decorator: Open does nothing, the first Append opens next,
// and Close closes next only if an Append tried to open it. An Append whose open fails
// returns the error and the next Append tries to open again.
func NewLazyOpen(next plugin.Sink) plugin.Sink { return &lazyOpen{ctlBase: ctlBase{next}} }

func (l *lazyOpen) Open(context.Context) error { return nil }

func (l *lazyOpen) Append(ctx context.Context, batch []*event.Event) error {
	if !l.opened {
		l.attempted = true
		if err := l.next.Open(ctx); err != nil {
			return fmt.Errorf("lazyOpen: open on first append: %w", err)
		}
		l.opened = true
	}
	return l.next.Append(ctx, batch)
}

func (l *lazyOpen) Close(ctx context.Context) error {
	if !l.attempted {
		return nil
	}
	l.opened, l.attempted = false, false
	return l.next.Close(ctx)
}

// retrier is the retry loop shared by insistentOpen and insistentAppend.
type retrier struct {
	name    string // the decorator, for errors and logs
	op      string // "open" or "append"
	backoff retry.Backoff
	log     *slog.Logger
	retries *metrics.Counter // attempts after the first
	giveups *metrics.Counter // loops that hit the cumulative cap
}

func newRetrier(bc *plugin.BuildContext, name, op string, b retry.Backoff) retrier {
	m := ctlCounters(bc, name)
	return retrier{
		name: name, op: op, backoff: b, log: bc.Log(),
		retries: m.Counter("retries"), giveups: m.Counter("giveups"),
	}
}

// do retries attempt after its first failure err until it succeeds, fails permanently, ctx is
// done, or the backoff's cumulative cap is reached. The loop starts with a fresh backoff, so
// each Open or Append has the whole retry budget.
func (r *retrier) do(ctx context.Context, err error, attempt func() error) error {
	r.backoff.Reset()
	for n := 1; ; n++ {
		if plugin.IsPermanent(err) {
			return fmt.Errorf("%s: %s: %w", r.name, r.op, err)
		}
		if cerr := ctx.Err(); cerr != nil {
			return r.stopped(n, cerr, err)
		}
		wait, ok := r.backoff.Next()
		if !ok {
			r.giveups.Inc()
			return fmt.Errorf("%s: gave up after %d %s attempts and %v of backoff: %w",
				r.name, n, r.op, r.backoff.Total(), err)
		}
		r.log.Info(r.op+" failed; retrying", "deco", r.name, "attempt", n, "wait", wait, "err", err)
		if cerr := retry.Wait(ctx, wait); cerr != nil {
			return r.stopped(n, cerr, err)
		}
		r.retries.Inc()
		if err = attempt(); err == nil {
			return nil
		}
	}
}

// stopped is the error of a loop ended by its context after n attempts; it wraps both the
// context's error and the last failure.
func (r *retrier) stopped(n int, cerr, last error) error {
	if errors.Is(last, cerr) {
		return fmt.Errorf("%s: stopped after %d %s attempts: %w", r.name, n, r.op, last)
	}
	return fmt.Errorf("%s: stopped after %d %s attempts: %w; last error: %w", r.name, n, r.op, cerr, last)
}

// insistentOpen retries opening its sink with a capped exponential backoff.
type insistentOpen struct {
	ctlBase
	r retrier
}

// NewInsistentOpen returns the insistentOpen decorator: Open retries next.Open with backoff b
// until it succeeds, returns a plugin.Permanent error (returned at once), ctx is done, or b's
// cumulative cap is reached (the last error is returned, wrapped). Retries and give-ups are
// counted under "insistentOpen" in bc's metrics.
func NewInsistentOpen(bc *plugin.BuildContext, next plugin.Sink, b retry.Backoff) plugin.Sink {
	return &insistentOpen{ctlBase: ctlBase{next}, r: newRetrier(bc, "insistentOpen", "open", b)}
}

func (s *insistentOpen) Open(ctx context.Context) error {
	err := s.next.Open(ctx)
	if err == nil {
		return nil
	}
	return s.r.do(ctx, err, func() error { return s.next.Open(ctx) })
}

func (s *insistentOpen) Append(ctx context.Context, batch []*event.Event) error {
	return s.next.Append(ctx, batch)
}

// insistentAppend retries appending a batch with a capped exponential backoff.
type insistentAppend struct {
	ctlBase
	r retrier
}

// NewInsistentAppend returns the insistentAppend decorator: Append retries next.Append of the
// whole batch with backoff b, under the same rules as insistentOpen. A sink that failed part
// way through a batch may so receive some events twice; the reliable tiers deduplicate.
func NewInsistentAppend(bc *plugin.BuildContext, next plugin.Sink, b retry.Backoff) plugin.Sink {
	return &insistentAppend{ctlBase: ctlBase{next}, r: newRetrier(bc, "insistentAppend", "append", b)}
}

func (s *insistentAppend) Append(ctx context.Context, batch []*event.Event) error {
	err := s.next.Append(ctx, batch)
	if err == nil {
		return nil
	}
	return s.r.do(ctx, err, func() error { return s.next.Append(ctx, batch) })
}

// stubbornAppend reopens its sink once when an append fails.
type stubbornAppend struct {
	ctlBase
	log      *slog.Logger
	failures *metrics.Counter // appends that failed the first time
	recovers *metrics.Counter // of those, the ones the reopen saved
}

// NewStubbornAppend returns the stubbornAppend decorator: when next.Append fails it closes
// next, reopens it and appends the batch again; a second failure is returned. A permanent
// error, or a failure once ctx is done, is returned at once: a reopen cannot fix it.
//
// Unlike classic Flume, an error closing the failed sink does not stop the reopen: a sink
// whose append failed often fails to close too (a broken connection), and reopening is
// exactly what can fix it.
func NewStubbornAppend(bc *plugin.BuildContext, next plugin.Sink) plugin.Sink {
	m := ctlCounters(bc, "stubbornAppend")
	return &stubbornAppend{
		ctlBase: ctlBase{next}, log: bc.Log(),
		failures: m.Counter("failures"), recovers: m.Counter("recovers"),
	}
}

func (s *stubbornAppend) Append(ctx context.Context, batch []*event.Event) error {
	err := s.next.Append(ctx, batch)
	if err == nil || plugin.IsPermanent(err) || ctx.Err() != nil {
		return err
	}
	s.failures.Inc()
	s.log.Info("append failed; reopening", "deco", "stubbornAppend", "err", err)
	if cerr := s.next.Close(ctx); cerr != nil {
		s.log.Debug("close after failed append", "deco", "stubbornAppend", "err", cerr)
	}
	if oerr := s.next.Open(ctx); oerr != nil {
		return fmt.Errorf("stubbornAppend: reopen after append failure (%v): %w", err, oerr)
	}
	if err := s.next.Append(ctx, batch); err != nil {
		return fmt.Errorf("stubbornAppend: append after reopen: %w", err)
	}
	s.recovers.Inc()
	return nil
}
