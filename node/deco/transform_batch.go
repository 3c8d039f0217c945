package deco

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// The attributes of an aggregate event, as classic Flume's BatchingDecorator named them.
const (
	// AttrBatchSize holds the number of events in an aggregate, a 4-byte big-endian integer.
	AttrBatchSize = "batchSize"
	// AttrBatchData holds the events of an aggregate, their event.AppendBinary encodings
	// one after the other.
	AttrBatchData = "batchData"
)

// maxBatch bounds batch(n): an aggregate of more events than this would be one enormous event.
const maxBatch = 1 << 20

// batchDeco packs every n events into one aggregate event: an empty body and the attributes
// AttrBatchSize and AttrBatchData. Events are encoded as they arrive, so none is kept past its
// Append (sources reuse their memory). With a latency set, a goroutine sends a partial batch
// once its oldest event has waited that long. Close sends what is left.
//
// An aggregate that the next sink refuses stays pending: the Append that filled it returns the
// error, and the next Append or timed flush sends it again before taking more events. Memory
// stays bounded by one aggregate, and events are delivered at least once.
type batchDeco struct {
	next    plugin.Sink
	log     *slog.Logger
	n       int
	latency time.Duration

	in, out, batches, timed, drops *metrics.Counter

	// mu serializes Append, the timed flush and Close, so the next sink never sees two
	// Appends at once and the buffer is never read while it is written.
	mu      sync.Mutex
	buf     []byte    // the encodings of the pending events
	count   int       // events in buf
	started time.Time // when the first event of buf arrived
	gen     uint64    // incremented by every flush that empties buf

	kick   chan struct{} // tells the timer goroutine that buf is no longer empty
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func buildBatch(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	n := args.Int("n", 0)
	if n < 1 || n > maxBatch {
		return nil, args.Errorf("n", "must be between 1 and %d, got %d", maxBatch, n)
	}
	m := bc.Counters().Sub("batch")
	return &batchDeco{
		next:    next,
		log:     bc.Log(),
		n:       int(n),
		latency: args.Duration("maxLatencyMs", 0),
		in:      m.Counter("events_in"),
		out:     m.Counter("events_out"),
		batches: m.Counter("batches"),
		timed:   m.Counter("timed_flushes"),
		drops:   m.Counter("drops"),
		kick:    make(chan struct{}, 1),
	}, nil
}

func (d *batchDeco) Open(ctx context.Context) error {
	if err := d.next.Open(ctx); err != nil {
		return err
	}
	if d.latency > 0 && d.cancel == nil {
		runCtx, cancel := context.WithCancel(context.Background())
		d.cancel = cancel
		d.wg.Add(1)
		go d.run(runCtx)
	}
	return nil
}

func (d *batchDeco) Append(ctx context.Context, batch []*event.Event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	added := 0
	defer func() { d.in.Add(int64(added)) }() // once per Append: counters are atomics
	for _, e := range batch {
		if d.count >= d.n {
			if err := d.flush(ctx); err != nil {
				return err
			}
		}
		if d.count == 0 {
			d.started = time.Now()
			select {
			case d.kick <- struct{}{}:
			default: // a kick is already pending
			}
		}
		d.buf = event.AppendBinary(d.buf, e)
		d.count++
		added++
	}
	if d.count >= d.n {
		return d.flush(ctx)
	}
	return nil
}

// flush sends the pending events as one aggregate. On success buf is empty; on failure it is
// kept for the next try. d.mu must be held.
func (d *batchDeco) flush(ctx context.Context) error {
	if d.count == 0 {
		return nil
	}
	agg := &event.Event{Body: []byte{}, Timestamp: time.Now().UnixNano(), Priority: event.INFO, Host: event.Hostname()}
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(d.count))
	// Neither attribute can be set already on a fresh event.
	_ = agg.SetAttr(AttrBatchSize, size[:])
	_ = agg.SetAttr(AttrBatchData, d.buf[:len(d.buf):len(d.buf)])
	if err := d.next.Append(ctx, []*event.Event{agg}); err != nil {
		return err
	}
	d.batches.Inc()
	d.out.Add(int64(d.count))
	d.count = 0
	d.gen++
	// The next sink owns nothing after Append, so the buffer is free for the next batch.
	d.buf = d.buf[:0]
	if cap(d.buf) > maxScratch {
		d.buf = nil
	}
	return nil
}

// run is the timer goroutine: it sends a partial batch once its first event is latency old.
func (d *batchDeco) run(ctx context.Context) {
	defer d.wg.Done()
	timer := time.NewTimer(d.latency)
	defer timer.Stop()
	for {
		d.mu.Lock()
		pending, gen, due := d.count > 0, d.gen, d.started.Add(d.latency)
		d.mu.Unlock()
		if !pending {
			select {
			case <-ctx.Done():
				return
			case <-d.kick:
				continue
			}
		}
		timer.Reset(time.Until(due))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		d.mu.Lock()
		if d.gen == gen && d.count > 0 {
			if err := d.flush(ctx); err != nil {
				if ctx.Err() == nil {
					d.log.Warn("batch: timed flush failed; retrying after the latency", "err", err, "events", d.count)
				}
				d.started = time.Now()
			} else {
				d.timed.Inc()
			}
		}
		d.mu.Unlock()
	}
}

// Close stops the timer, sends the partial batch and closes the next sink. Events that cannot
// be sent are dropped, counted, and reported in the error.
func (d *batchDeco) Close(ctx context.Context) error {
	if d.cancel != nil {
		d.cancel()
		d.wg.Wait()
		d.cancel = nil
	}
	d.mu.Lock()
	var ferr error
	if err := d.flush(ctx); err != nil {
		d.drops.Add(int64(d.count))
		ferr = fmt.Errorf("batch: send the last %d events on close: %w", d.count, err)
		d.buf, d.count = d.buf[:0], 0
	}
	d.mu.Unlock()
	return errors.Join(ferr, d.next.Close(ctx))
}

// unbatchDeco expands aggregate events back into the events they carry; other events pass
// through. An aggregate that does not decode fails the Append with ErrBadAggregate.
type unbatchDeco struct {
	xfBase
	batches, passed *metrics.Counter
	pool            []*event.Event // decoded events, reused from one Append to the next
}

func buildUnbatch(bc *plugin.BuildContext, _ *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	m := bc.Counters().Sub("unbatch")
	return &unbatchDeco{
		xfBase:  newXFBase(bc, "unbatch", next),
		batches: m.Counter("batches"),
		passed:  m.Counter("passthrough"),
	}, nil
}

func (d *unbatchDeco) Append(ctx context.Context, batch []*event.Event) error {
	d.begin(len(batch))
	used := 0
	for _, e := range batch {
		size, ok1 := e.Attr(AttrBatchSize)
		data, ok2 := e.Attr(AttrBatchData)
		if !ok1 || !ok2 {
			d.passed.Inc()
			d.batch = append(d.batch, e)
			continue
		}
		if len(size) != 4 {
			return d.fail(fmt.Errorf("%w: %s has %d bytes, want 4", ErrBadAggregate, AttrBatchSize, len(size)))
		}
		n := int(binary.BigEndian.Uint32(size))
		// Every encoding takes several bytes: a count beyond the data is a lie, refused
		// before it sizes anything.
		if n > len(data) {
			return d.fail(fmt.Errorf("%w: %s says %d events in %d bytes", ErrBadAggregate, AttrBatchSize, n, len(data)))
		}
		off := 0
		for i := range n {
			if used == len(d.pool) {
				d.pool = append(d.pool, new(event.Event))
			}
			ev := d.pool[used]
			k, err := event.DecodeBinaryInto(ev, data[off:])
			if err != nil {
				return d.fail(fmt.Errorf("%w: event %d of %d: %w", ErrBadAggregate, i+1, n, err))
			}
			off += k
			used++
			d.batch = append(d.batch, ev)
		}
		if off != len(data) {
			return d.fail(fmt.Errorf("%w: %d bytes after the %d events of %s", ErrBadAggregate, len(data)-off, n, AttrBatchData))
		}
		d.batches.Inc()
	}
	return d.send(ctx)
}
