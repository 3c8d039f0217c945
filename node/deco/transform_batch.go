package deco

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
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

// maxBatchBytes is the encoded size at which an aggregate is sent whatever its count, so that
// batch(n) of large events stays one event of reasonable size: an aggregate holds at most this
// much plus the encoding of its last event.
const maxBatchBytes = event.MaxSizeLimit

// batchDeco packs every n events into one aggregate event: an empty body and the attributes
// AttrBatchSize and AttrBatchData. Events are encoded as they arrive, so none is kept past its
// Append (sources reuse their memory). With a latency set, a goroutine sends a partial batch
// once its oldest event has waited that long. Close sends what is left.
//
// An aggregate that the next sink refuses stays pending: the Append that filled it returns the
// error, and the next Append or timed flush sends it again before taking more events. Memory
// stays bounded by one aggregate, and events are delivered at least once.
//
// A panic in the next sink during a timed flush is recovered: the timer stops, and the panic,
// with its stack, is returned as a permanent error by every later Append, or by Close if no
// Append reported it.
type batchDeco struct {
	next     plugin.Sink
	log      *slog.Logger
	n        int
	maxBytes int // the encoded size that fills an aggregate; maxBatchBytes but in tests
	latency  time.Duration

	in, out, batches, timed, drops *metrics.Counter

	// sem is a one-slot lock that serializes Append, the timed flush and Close, so the next
	// sink never sees two Appends at once and the buffer is never read while it is written.
	// Unlike a sync.Mutex, waiting for it can end with the waiter's context.
	sem     chan struct{}
	buf     []byte    // the encodings of the pending events
	count   int       // events in buf
	started time.Time // when the first event of buf arrived
	gen     uint64    // incremented by every flush that empties buf
	failed  error     // the panic of a timed flush; set once, then sticky
	told    bool      // an Append has returned failed

	// The timer goroutine, when latency is set and the decorator is open.
	kick   chan struct{}      // tells the timer goroutine that buf is no longer empty
	stop   chan struct{}      // closed by Close: the timer goroutine must exit
	done   chan struct{}      // closed by the timer goroutine as it exits
	cancel context.CancelFunc // cancels the context of a timed flush
}

func buildBatch(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	n := args.Int("n", 0)
	if n < 1 || n > maxBatch {
		return nil, args.Errorf("n", "must be between 1 and %d, got %d", maxBatch, n)
	}
	m := bc.Counters().Sub("batch")
	return &batchDeco{
		next:     next,
		log:      bc.Log(),
		n:        int(n),
		maxBytes: maxBatchBytes,
		latency:  args.Duration("maxLatencyMs", 0),
		in:       m.Counter("events_in"),
		out:      m.Counter("events_out"),
		batches:  m.Counter("batches"),
		timed:    m.Counter("timed_flushes"),
		drops:    m.Counter("drops"),
		sem:      make(chan struct{}, 1),
		kick:     make(chan struct{}, 1),
	}, nil
}

// lock takes the semaphore, or returns ctx's error once ctx is done.
func (d *batchDeco) lock(ctx context.Context) error {
	select {
	case d.sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case d.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("batch: wait for a flush in progress: %w", ctx.Err())
	}
}

func (d *batchDeco) unlock() { <-d.sem }

func (d *batchDeco) Open(ctx context.Context) error {
	if err := d.next.Open(ctx); err != nil {
		return err
	}
	if d.latency > 0 && d.stop == nil {
		runCtx, cancel := context.WithCancel(context.Background())
		d.cancel = cancel
		d.stop, d.done = make(chan struct{}), make(chan struct{})
		go d.run(runCtx, d.stop, d.done)
	}
	return nil
}

func (d *batchDeco) Append(ctx context.Context, batch []*event.Event) error {
	if err := d.lock(ctx); err != nil {
		return err
	}
	defer d.unlock()
	if d.failed != nil {
		d.told = true
		return d.failed
	}
	added := 0
	defer func() { d.in.Add(int64(added)) }() // once per Append: counters are atomics
	for _, e := range batch {
		if d.full() {
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
	if d.full() {
		return d.flush(ctx)
	}
	return nil
}

// full reports whether the pending aggregate has n events or maxBytes of encodings.
func (d *batchDeco) full() bool { return d.count >= d.n || len(d.buf) >= d.maxBytes }

// flush sends the pending events as one aggregate. On success buf is empty; on failure it is
// kept for the next try. The semaphore must be held.
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
// It exits when stop is closed, at once unless a flush is in progress; ctx ends that flush.
func (d *batchDeco) run(ctx context.Context, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	timer := time.NewTimer(d.latency)
	defer timer.Stop()
	for {
		if !d.lockOrStop(stop) {
			return
		}
		pending, gen, due := d.count > 0, d.gen, d.started.Add(d.latency)
		d.unlock()
		if !pending {
			select {
			case <-stop:
				return
			case <-d.kick:
				continue
			}
		}
		timer.Reset(time.Until(due))
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		if !d.lockOrStop(stop) {
			return
		}
		ok := d.gen != gen || d.count == 0 || d.timedFlush(ctx)
		d.unlock()
		if !ok {
			return
		}
	}
}

// lockOrStop takes the semaphore for the timer goroutine and reports true, or reports false
// when stop is closed first. A closed stop wins over a free semaphore, so that no new flush
// starts once Close has asked the timer to stop.
func (d *batchDeco) lockOrStop(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return false
	default:
	}
	select {
	case d.sem <- struct{}{}:
		return true
	case <-stop:
		return false
	}
}

// timedFlush sends the pending aggregate for the timer goroutine; the semaphore must be held.
// A failure is logged and retried a latency later. A panic below is kept in d.failed, and
// timedFlush reports false: the timer must stop.
func (d *batchDeco) timedFlush(ctx context.Context) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			d.failed = plugin.Permanent(fmt.Errorf("batch: timed flush: %w: %v\n%s", ErrPanicked, r, debug.Stack()))
			d.log.Error("batch: the next sink panicked in a timed flush", "panic", r, "events", d.count)
			ok = false
		}
	}()
	if err := d.flush(ctx); err != nil {
		if ctx.Err() == nil {
			d.log.Warn("batch: timed flush failed; retrying after the latency", "err", err, "events", d.count)
		}
		d.started = time.Now()
		return true
	}
	d.timed.Inc()
	return true
}

// stopTimer ends the timer goroutine. A timed flush in progress may finish until ctx is done;
// then its context is cancelled, and stopTimer waits for the flush to return.
func (d *batchDeco) stopTimer(ctx context.Context) {
	if d.stop == nil {
		return
	}
	close(d.stop)
	select {
	case <-d.done:
	case <-ctx.Done():
		d.cancel()
		<-d.done
	}
	d.cancel()
	d.stop, d.done, d.cancel = nil, nil, nil
}

// Close stops the timer, sends the partial batch and closes the next sink. Events that cannot
// be sent are dropped, counted, and reported in the error. After a panic in a timed flush,
// nothing more is sent.
func (d *batchDeco) Close(ctx context.Context) error {
	d.stopTimer(ctx)
	if err := d.lock(ctx); err != nil {
		// Only an Append still running, against the sink contract, can hold the lock now;
		// closing the next sink under it would break the contract further down.
		return err
	}
	var ferr error
	switch {
	case d.failed != nil:
		if d.count > 0 {
			d.drops.Add(int64(d.count))
			d.buf, d.count = d.buf[:0], 0
		}
		if !d.told {
			d.told = true
			ferr = d.failed
		}
	default:
		if err := d.flush(ctx); err != nil {
			d.drops.Add(int64(d.count))
			ferr = fmt.Errorf("batch: send the last %d events on close: %w", d.count, err)
			d.buf, d.count = d.buf[:0], 0
		}
	}
	d.unlock()
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
