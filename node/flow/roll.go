package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
)

// RollTagAttr is the attribute a roll sets on every event: the tag of the current roll, so that
// a sub-sink can name its file after it ("prefix%{rolltag}").
const RollTagAttr = "rolltag"

// rollSink is `roll(ms[, checkms]{, trigger=...}) { sink }`: it builds and opens a fresh sub-sink,
// tags the events it passes with the roll's tag, and every roll period (or when the size trigger
// fires) closes the sub-sink and opens a new one. A timer goroutine rolls even when no events
// come, so files are closed on time.
//
// Append and the timer take turns through a one-slot semaphore rather than a mutex, so that an
// Append waiting for a slow roll still gives up when its ctx ends. What goes wrong on the timer
// (a failed close of the previous sub-sink, a plugin panic) is kept and returned by the next
// Append or by Close: the timer has nobody else to tell.
type rollSink struct {
	cfg     rollConfig
	factory func() (plugin.Sink, error)
	log     *slog.Logger

	sem chan struct{} // one slot, held by whoever touches the fields below
	cur plugin.Sink
	// current is cur for readers that may not wait for sem: the status's condition.
	current atomic.Pointer[sinkRef]
	started time.Time
	bytes   int64
	tag     []byte
	arena   event.Arena
	scratch []*event.Event
	closed  bool
	pending error // from the timer, for the next Append or Close

	stopTimer chan struct{}      // closed to make the timer exit
	timerDone chan struct{}      // closed by the timer when it exits
	cancelOps context.CancelFunc // cancels a roll in progress on the timer (Close's ctx ended)

	rolls     *metrics.Counter
	rollFails *metrics.Counter
}

// newRoll returns a roll sink whose counters are registered under name ("roll", "collector").
func newRoll(bc *plugin.BuildContext, name string, cfg rollConfig, factory func() (plugin.Sink, error)) *rollSink {
	m := bc.Counters().Sub(name)
	return &rollSink{
		cfg:       cfg,
		factory:   factory,
		log:       bc.Log(),
		sem:       make(chan struct{}, 1),
		rolls:     m.Counter("rolls"),
		rollFails: m.Counter("rollfails"),
	}
}

func (r *rollSink) lock(ctx context.Context) error {
	select {
	case r.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("roll: %w", ctx.Err())
	}
}

func (r *rollSink) unlock() { <-r.sem }

// Open opens the first sub-sink and starts the roll timer. A closed roll sink can be opened
// again, as stubbornAppend and failover do after a failure.
func (r *rollSink) Open(ctx context.Context) error {
	if err := r.lock(ctx); err != nil {
		return err
	}
	defer r.unlock()
	r.closed, r.pending = false, nil
	if err := r.openLocked(ctx); err != nil {
		return err
	}
	if r.cfg.every > 0 && r.timerDone == nil {
		opCtx, cancel := context.WithCancel(context.Background())
		r.cancelOps = cancel
		r.stopTimer, r.timerDone = make(chan struct{}), make(chan struct{})
		go r.timer(opCtx, r.stopTimer, r.timerDone)
	}
	return nil
}

func (r *rollSink) openLocked(ctx context.Context) error {
	s, err := r.factory()
	if err != nil {
		return fmt.Errorf("roll: build: %w", err)
	}
	if err := s.Open(ctx); err != nil {
		_ = s.Close(ctx)
		return fmt.Errorf("roll: open: %w", err)
	}
	r.cur, r.started, r.bytes = s, time.Now(), 0
	r.current.Store(&sinkRef{s})
	r.tag = newRollTag(r.started)
	return nil
}

// rollLocked closes the current sub-sink and opens the next one.
func (r *rollSink) rollLocked(ctx context.Context) error {
	if r.cur != nil {
		err := r.cur.Close(ctx)
		r.cur = nil
		r.current.Store(nil)
		if err != nil {
			r.rollFails.Inc()
			return fmt.Errorf("roll: close: %w", err)
		}
	}
	if err := r.openLocked(ctx); err != nil {
		r.rollFails.Inc()
		return err
	}
	r.rolls.Inc()
	return nil
}

func (r *rollSink) due(now time.Time) bool {
	if r.cfg.every > 0 && now.Sub(r.started) >= r.cfg.every {
		return true
	}
	return r.cfg.sizeBytes > 0 && r.bytes >= r.cfg.sizeBytes
}

// timer rolls on time. It runs plugin code outside the driver, so it guards against panics
// itself and keeps what failed for the next Append or Close.
func (r *rollSink) timer(ctx context.Context, stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(r.cfg.check)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			if r.lock(ctx) != nil {
				return
			}
			if !r.closed && (r.cur == nil || r.due(now)) {
				err := guard("roll", func() error { return r.rollLocked(ctx) })
				if err != nil && r.pending == nil {
					r.pending = err
				}
			}
			r.unlock()
		}
	}
}

// Append tags batch with the current roll tag and passes it to the current sub-sink, rolling
// first if a trigger is due.
func (r *rollSink) Append(ctx context.Context, batch []*event.Event) error {
	if err := r.lock(ctx); err != nil {
		return err
	}
	defer r.unlock()
	if r.closed {
		return fmt.Errorf("roll: append after close")
	}
	if err := r.pending; err != nil {
		r.pending = nil
		return fmt.Errorf("roll: an earlier roll failed: %w", err)
	}
	if r.cur == nil || r.due(time.Now()) {
		if err := r.rollLocked(ctx); err != nil {
			return err
		}
	}
	r.arena.Reset()
	out := r.scratch[:0]
	for _, e := range batch {
		d := r.arena.Derive(e)
		d.DeleteAttr(RollTagAttr)
		_ = d.SetAttr(RollTagAttr, r.tag)
		out = append(out, d)
		r.bytes += int64(len(e.Body))
	}
	r.scratch = out
	err := r.cur.Append(ctx, out)
	clear(out) // drop references to the derived events
	return err
}

// Close stops the timer, letting a roll in progress finish unless ctx ends first, and closes
// the current sub-sink. It returns what the timer could not report.
func (r *rollSink) Close(ctx context.Context) error {
	if r.timerDone != nil {
		close(r.stopTimer)
		select {
		case <-r.timerDone:
		case <-ctx.Done():
			r.cancelOps()
			<-r.timerDone
		}
		r.cancelOps()
		r.timerDone = nil
	}
	// The timer has exited and Close never runs beside Append, so the slot is free.
	r.sem <- struct{}{}
	defer r.unlock()
	r.closed = true
	err := r.pending
	r.pending = nil
	if r.cur != nil {
		err = errors.Join(err, r.cur.Close(ctx))
		r.cur = nil
		r.current.Store(nil)
	}
	return err
}

var rollSeq atomic.Uint64

// newRollTag returns a tag that sorts in roll order: the time to the millisecond, the
// nanoseconds, and a process-wide sequence number, as classic ProcessTagger did
// (yyyyMMdd-HHmmssSSSZ.nanos.seq).
func newRollTag(t time.Time) []byte {
	b := make([]byte, 0, 48)
	b = t.AppendFormat(b, "20060102-150405")
	b = appendZeroPad(b, int64(t.Nanosecond()/int(time.Millisecond)), 3)
	b = t.AppendFormat(b, "-0700")
	b = append(b, '.')
	b = appendZeroPad(b, t.UnixNano()%1_000_000_000_000, 12)
	b = append(b, '.')
	return appendZeroPad(b, int64(rollSeq.Add(1)%100_000_000), 8)
}

func appendZeroPad(b []byte, n int64, width int) []byte {
	s := strconv.FormatInt(n, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// sinkRef holds a sink for an atomic.Pointer.
type sinkRef struct{ s plugin.Sink }

// parts returns the current sub-sink, for the flow's condition.
func (r *rollSink) parts() []plugin.Sink {
	if ref := r.current.Load(); ref != nil {
		return []plugin.Sink{ref.s}
	}
	return nil
}
