package flow

import (
	"context"
	"fmt"
	"strconv"
	"sync"
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
// come, so files are closed on time. Append and the timer take turns under a mutex.
type rollSink struct {
	cfg     rollConfig
	factory func() (plugin.Sink, error)
	log     func(msg string, args ...any)

	mu      sync.Mutex
	cur     plugin.Sink
	started time.Time
	bytes   int64
	tag     []byte
	scratch []*event.Event
	closed  bool

	cancel context.CancelFunc
	wg     sync.WaitGroup

	rolls     *metrics.Counter
	rollFails *metrics.Counter
}

func newRoll(bc *plugin.BuildContext, cfg rollConfig, factory func() (plugin.Sink, error)) *rollSink {
	m := bc.Counters()
	return &rollSink{
		cfg:       cfg,
		factory:   factory,
		log:       bc.Log().Warn,
		rolls:     m.Counter("rolls"),
		rollFails: m.Counter("rollfails"),
	}
}

// Open opens the first sub-sink and starts the roll timer.
func (r *rollSink) Open(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.openLocked(ctx); err != nil {
		return err
	}
	if r.cfg.every > 0 {
		tctx, cancel := context.WithCancel(context.Background())
		r.cancel = cancel
		r.wg.Add(1)
		go r.timer(tctx)
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
	r.tag = newRollTag(r.started)
	return nil
}

// rollLocked closes the current sub-sink and opens the next one.
func (r *rollSink) rollLocked(ctx context.Context) error {
	if r.cur != nil {
		err := r.cur.Close(ctx)
		r.cur = nil
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

func (r *rollSink) timer(ctx context.Context) {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.check)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			r.mu.Lock()
			if !r.closed && (r.cur == nil || r.due(now)) {
				if err := r.rollLocked(ctx); err != nil && ctx.Err() == nil {
					r.log("roll failed; retrying at the next check", "err", err)
				}
			}
			r.mu.Unlock()
		}
	}
}

// Append tags batch with the current roll tag and passes it to the current sub-sink, rolling
// first if a trigger is due.
func (r *rollSink) Append(ctx context.Context, batch []*event.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("roll: append after close")
	}
	if r.cur == nil || r.due(time.Now()) {
		if err := r.rollLocked(ctx); err != nil {
			return err
		}
	}
	out := r.scratch[:0]
	for _, e := range batch {
		d := e.Derive()
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

// Close stops the timer and closes the current sub-sink.
func (r *rollSink) Close(ctx context.Context) error {
	if r.cancel != nil {
		r.cancel()
		r.wg.Wait()
		r.cancel = nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.cur == nil {
		return nil
	}
	err := r.cur.Close(ctx)
	r.cur = nil
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
