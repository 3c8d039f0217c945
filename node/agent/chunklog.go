package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/flumego/flume/conf"
	"github.com/flumego/flume/node/agent/wal"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/retry"
	"github.com/flumego/flume/node/spec"
)

// newChunkLog checks a decorator's arguments and returns its log, not yet open.
func newChunkLog(bc *plugin.BuildContext, a *spec.Args, name, sub string, next plugin.Sink) (*chunkLog, error) {
	maxAge := a.Duration("maxMillis", bc.PropMillis(conf.AgentLogMaxAge, DefaultLogMaxAge))
	if maxAge < 0 {
		return nil, a.Errorf("maxMillis", "maxMillis must not be negative")
	}
	m := bc.Counters().Sub(name)
	c := &chunkLog{
		name: name, bc: bc, dir: decoLogDir(bc, sub), maxAge: maxAge, stall: decoDrainStall,
		backoff: retry.Backoff{
			Initial: bc.PropMillis(conf.FailoverBackoffInitial, time.Second),
			Max:     bc.PropMillis(conf.FailoverBackoffMax, time.Minute),
		},
		next:     &nextSink{sink: next},
		counters: m,
		m: logMetrics{
			chunksLogged: m.Counter("chunks_logged"), eventsLogged: m.Counter("events_logged"),
			chunksDelivered: m.Counter("chunks_delivered"), eventsDelivered: m.Counter("events_delivered"),
			failures: m.Counter("delivery_failures"), recovered: m.Counter("chunks_recovered"),
			chunksLost: m.Counter("chunks_lost"), eventsLost: m.Counter("events_lost"),
			chunksLeft: m.Counter("chunks_left"), backlog: m.Gauge("chunks_backlog"),
		},
		kick: make(chan struct{}, 1), wake: make(chan struct{}, 1), changed: make(chan struct{}, 1),
		free: make(chan []byte, 2), sealSem: make(chan struct{}, 1),
	}
	return c, nil
}

// chunkLog is a decorator's log: it gathers events into chunks, writes them to a wal.Log, and
// delivers them to the next sink in order from a goroutine of its own, releasing each chunk
// once the next sink took it. A second goroutine seals a chunk that waited maxAge.
type chunkLog struct {
	name        string
	bc          *plugin.BuildContext
	dir         string
	maxAge      time.Duration
	stall       time.Duration // Close gives up the drain after this long without a delivery
	backoff     retry.Backoff // the sender's waits after failed deliveries
	next        *nextSink
	onDelivered func() // called after each chunk the sender delivered; may be nil
	counters    *metrics.Registry
	m           logMetrics

	log        *wal.Log
	ctx        context.Context // the sender's: ends when the log closes
	cancel     context.CancelFunc
	sealCtx    context.Context // the sealer's: ends when Close starts
	sealCancel context.CancelFunc
	wg         sync.WaitGroup
	kick       chan struct{} // a buffered signal to the sealer: a chunk was started
	wake       chan struct{} // a buffered signal to the sender: a chunk was queued
	changed    chan struct{} // a buffered signal to Close: a chunk left the queue
	free       chan []byte   // buffers of delivered chunks, for the next chunks to fill
	sealSem    chan struct{} // held by the seal in progress

	seq uint64 // the seq of the next chunk; the seal in progress owns it

	mu     sync.Mutex // guards the chunk being filled; never held while the log waits
	raw    []byte     // its events, in binary encoding
	count  int
	since  time.Time // when its first event came
	failed error     // the log failed: the decorator takes nothing more
	closed bool

	qmu      sync.Mutex
	queue    []*logItem // sealed chunks not yet delivered, in seq order
	progress time.Time  // when the last chunk left the queue
	lastErr  error      // why the last delivery failed, nil after a success
}

type logMetrics struct {
	chunksLogged, eventsLogged, chunksDelivered, eventsDelivered *metrics.Counter
	failures, recovered, chunksLost, eventsLost, chunksLeft      *metrics.Counter
	backlog                                                      *metrics.Gauge
}

// logItem is a sealed chunk on its way to the next sink.
type logItem struct {
	seq      uint64
	count    int
	data     []byte      // the events; nil: read back from the log
	pending  wal.Pending // done once the chunk is durable; nil for a chunk found at open
	unlogged bool        // the log failed to keep it: it is delivered from memory, not released
}

// open opens the log, queues what it holds from an earlier run, and starts the goroutines.
func (c *chunkLog) open() error {
	if c.dir == "" {
		return plugin.Permanent(fmt.Errorf("%s: %w", c.name, errNoLogDir))
	}
	l, err := wal.Open(wal.Options{Dir: c.dir, MaxBytes: c.bc.PropInt(conf.AgentLogMaxBytes, 0),
		MinFreeBytes: c.bc.PropInt(conf.AgentLogMinFreeBytes, 0), MaxQueueBytes: walQueueBytes,
		Logger: c.bc.Log(), Metrics: c.counters.Sub("wal")})
	if err != nil {
		return fmt.Errorf("%s: open log: %w", c.name, err)
	}
	c.qmu.Lock() // condition reads the log from any goroutine
	c.log, c.seq = l, max(l.NextSeq(), 1)
	c.qmu.Unlock()
	for _, r := range l.Unreleased() {
		c.queue = append(c.queue, &logItem{seq: r.Seq, count: int(r.Count)})
	}
	if n := len(c.queue); n > 0 {
		c.m.recovered.Add(int64(n))
		c.bc.Log().Info("log holds chunks of an earlier run; they go first", "deco", c.name, "chunks", n)
	}
	c.m.backlog.Set(int64(len(c.queue)))
	c.progress = time.Now()
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.sealCtx, c.sealCancel = context.WithCancel(c.ctx)
	c.wg.Add(2)
	go c.sealLoop()
	go c.sendLoop()
	return nil
}

// add puts the events into the chunk being filled. A full chunk is sealed before the batch,
// so that a failure there takes nothing of the batch, and after it; a failure after it leaves
// the events in memory for a later seal, unless the log failed.
func (c *chunkLog) add(ctx context.Context, batch []*event.Event) error {
	if c.full() {
		if err := c.seal(ctx); err != nil {
			return err
		}
	}
	c.mu.Lock()
	switch {
	case c.failed != nil:
		c.mu.Unlock()
		return c.failed
	case c.closed:
		c.mu.Unlock()
		return fmt.Errorf("%s: %w", c.name, errDecoClosed)
	}
	for _, e := range batch {
		c.raw = event.AppendBinary(c.raw, e)
	}
	if c.count == 0 && len(batch) > 0 {
		c.since = time.Now()
		notify(c.kick)
	}
	c.count += len(batch)
	c.mu.Unlock()
	if c.maxAge == 0 || c.full() {
		if err := c.seal(ctx); err != nil {
			return c.failure()
		}
	}
	return nil
}

// full reports whether the chunk being filled is to be sealed before more events join it.
func (c *chunkLog) full() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count >= decoChunkEvents || len(c.raw) >= decoChunkBytes
}

// failure returns the failure of the log, nil while it works.
func (c *chunkLog) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

// seal writes the chunk being filled to the log and queues it. Seals take turns (sealSem,
// within ctx), and c.mu is not held while the log waits for room, so that Append and its ctx
// are not held up by a seal of the sealer. When ctx ends first, the events go back in front of
// those added meanwhile; any other failure is the log's, and fails it.
func (c *chunkLog) seal(ctx context.Context) error {
	select {
	case c.sealSem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%s: seal chunk: %w", c.name, ctx.Err())
	}
	defer func() { <-c.sealSem }()
	c.mu.Lock()
	raw, count, since, failed := c.raw, c.count, c.since, c.failed
	if count == 0 || failed != nil {
		c.mu.Unlock()
		return failed
	}
	select { // a buffer the sender is done with, if there is one
	case c.raw = <-c.free:
	default:
		c.raw = make([]byte, 0, cap(raw))
	}
	c.count, c.since = 0, time.Time{}
	c.mu.Unlock()
	p, err := c.log.Append(ctx, wal.Chunk{Seq: c.seq, Count: uint32(count), Created: time.Now().UnixNano(), Data: raw})
	if err != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.raw, c.count, c.since = append(raw, c.raw...), c.count+count, since
		notify(c.kick) // the sealer tries again, and waits for room in the log
		if ctx.Err() == nil {
			c.failed = fmt.Errorf("%s: log: %w", c.name, err)
			return c.failed
		}
		return fmt.Errorf("%s: seal chunk: %w", c.name, err)
	}
	// The log owns raw now.
	it := &logItem{seq: c.seq, count: count, data: raw, pending: p}
	c.seq++
	c.m.chunksLogged.Inc()
	c.m.eventsLogged.Add(int64(count))
	c.qmu.Lock()
	if len(c.queue) >= decoMemChunks {
		it.data = nil
	}
	c.queue = append(c.queue, it)
	c.m.backlog.Set(int64(len(c.queue)))
	c.qmu.Unlock()
	notify(c.wake)
	return nil
}

// sealLoop seals the chunk being filled once its first event waited maxAge.
func (c *chunkLog) sealLoop() {
	defer c.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		var wait time.Duration
		c.mu.Lock()
		pending := c.count > 0 && c.failed == nil && !c.closed
		if pending {
			wait = time.Until(c.since.Add(c.maxAge))
		}
		c.mu.Unlock()
		if pending && wait <= 0 {
			_ = c.seal(c.sealCtx) // a failure fails the log, or Close has begun
			if c.sealCtx.Err() != nil {
				return
			}
			continue
		}
		var tc <-chan time.Time
		if pending {
			t.Reset(wait)
			tc = t.C
		}
		select {
		case <-c.sealCtx.Done():
			return
		case <-c.kick:
		case <-tc:
		}
	}
}

// sendLoop delivers the queued chunks to the next sink in order; a chunk the next sink fails
// is appended again after a backoff, and stays first in the queue meanwhile.
func (c *chunkLog) sendLoop() {
	defer c.wg.Done()
	b := c.backoff
	var slab eventSlab
	for {
		it := c.head()
		if it == nil {
			return
		}
		err := c.deliver(it, &slab)
		if err == nil {
			b.Reset()
			continue
		}
		if c.ctx.Err() != nil {
			return
		}
		c.m.failures.Inc()
		c.qmu.Lock()
		c.lastErr = err
		c.qmu.Unlock()
		wait, _ := b.Next()
		c.bc.Log().Warn("next sink failed; appending the chunk again later", "deco", c.name,
			"seq", it.seq, "wait", wait, "err", err)
		if retry.Wait(c.ctx, wait) != nil {
			return
		}
	}
}

// head waits for the first chunk of the queue; nil once the sender stops.
func (c *chunkLog) head() *logItem {
	for {
		c.qmu.Lock()
		if len(c.queue) > 0 {
			it := c.queue[0]
			c.qmu.Unlock()
			return it
		}
		c.qmu.Unlock()
		select {
		case <-c.ctx.Done():
			return nil
		case <-c.wake:
		}
	}
}

// deliver appends a chunk to the next sink and releases it. It returns the next sink's error,
// to try again; a chunk that cannot be delivered at all (unreadable, or refused for good) is
// dropped and counted.
func (c *chunkLog) deliver(it *logItem, slab *eventSlab) error {
	if it.pending != nil {
		select {
		case <-it.pending.Done():
		case <-c.ctx.Done():
			return c.ctx.Err()
		}
		if err := it.pending.Err(); err != nil {
			c.fail(err)
			it.unlogged = true
		}
		it.pending = nil
	}
	data := it.data
	if data == nil && it.unlogged {
		c.lose(it, errors.New("the log failed before the chunk was written"))
		return nil
	}
	if data == nil {
		ch, err := c.log.Read(it.seq)
		switch {
		case errors.Is(err, wal.ErrReleased), errors.Is(err, wal.ErrNotFound):
			c.pop(it, false)
			return nil
		case err != nil:
			c.lose(it, err)
			return nil
		}
		data = ch.Data
	}
	events, err := slab.decode(data)
	if err != nil {
		c.lose(it, err)
		return nil
	}
	if err := c.next.append(c.ctx, events); err != nil {
		if plugin.IsPermanent(err) {
			c.lose(it, err)
			return nil
		}
		return err
	}
	if !it.unlogged {
		if err := c.log.Release(it.seq); err != nil && !errors.Is(err, wal.ErrReleased) {
			c.bc.Log().Error("release delivered chunk; a restart delivers it again", "deco", c.name,
				"seq", it.seq, "err", err)
		}
	}
	c.m.chunksDelivered.Inc()
	c.m.eventsDelivered.Add(int64(len(events)))
	c.pop(it, true)
	// The log has written the data, and the next sink keeps none of the events that alias it.
	select {
	case c.free <- data[:0]:
	default:
	}
	if c.onDelivered != nil {
		c.onDelivered()
	}
	return nil
}

// fail records a failure of the log: the decorator takes no more events.
func (c *chunkLog) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed == nil {
		c.failed = fmt.Errorf("%s: log: %w", c.name, err)
	}
}

// lose drops a chunk that cannot be delivered, loudly.
func (c *chunkLog) lose(it *logItem, err error) {
	c.m.chunksLost.Inc()
	c.m.eventsLost.Add(int64(it.count))
	c.bc.Log().Error("CHUNK DROPPED: it cannot be delivered", "deco", c.name, "seq", it.seq,
		"events", it.count, "err", err)
	if !it.unlogged {
		_ = c.log.Release(it.seq) // a chunk that cannot be read stays unreadable
	}
	c.pop(it, false)
}

// pop removes the first chunk of the queue, which is it.
func (c *chunkLog) pop(it *logItem, delivered bool) {
	c.qmu.Lock()
	if len(c.queue) > 0 && c.queue[0] == it {
		c.queue[0] = nil
		c.queue = c.queue[1:]
	}
	c.progress = time.Now()
	if delivered {
		c.lastErr = nil
	}
	c.m.backlog.Set(int64(len(c.queue)))
	c.qmu.Unlock()
	notify(c.changed)
}

// drain waits until the queue is empty, ctx ends, or the queue has not shrunk for c.stall
// (counted from the call at the earliest); it reports whether the queue is empty.
func (c *chunkLog) drain(ctx context.Context) bool {
	start := time.Now()
	t := time.NewTimer(c.stall)
	defer t.Stop()
	for {
		c.qmu.Lock()
		n, last := len(c.queue), c.progress
		c.qmu.Unlock()
		if n == 0 {
			return true
		}
		if last.Before(start) {
			last = start
		}
		idle := time.Since(last)
		if idle >= c.stall {
			return false
		}
		t.Reset(c.stall - idle)
		select {
		case <-ctx.Done():
			return false
		case <-c.changed:
		case <-t.C:
		}
	}
}

// close seals the chunk being filled, waits for the drain, stops the goroutines and closes the
// log. What was not delivered stays in the log for the next run.
func (c *chunkLog) close(ctx context.Context) error {
	c.sealCancel() // a seal of the sealer waiting for room in the log gives way to this one
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	var err error
	if e := c.seal(ctx); e != nil || c.failure() != nil {
		c.mu.Lock()
		if c.count > 0 {
			c.m.eventsLost.Add(int64(c.count))
			err = fmt.Errorf("%s: %d events not written to the log: %w", c.name, c.count, errors.Join(e, c.failed))
		}
		c.mu.Unlock()
	}
	drained := c.drain(ctx)
	c.cancel()
	c.wg.Wait()
	c.qmu.Lock()
	left := len(c.queue)
	c.queue = nil
	c.qmu.Unlock()
	if !drained && left > 0 {
		c.m.chunksLeft.Add(int64(left))
		c.bc.Log().Warn("next sink did not take every chunk; the log keeps them for the next run",
			"deco", c.name, "chunks", left)
	}
	return errors.Join(err, c.log.Close())
}

// condition says why the flow is held up, or "".
func (c *chunkLog) condition() string {
	c.qmu.Lock() // from any goroutine: qmu is never held across a wait
	l, n, lastErr := c.log, len(c.queue), c.lastErr
	c.qmu.Unlock()
	if l == nil {
		return ""
	}
	if st := l.State(); st.Full {
		return fmt.Sprintf("%s: paused: log full (%s); %d chunks wait for the next sink", c.name, st.Reason, st.Unreleased)
	}
	if lastErr != nil && n > 0 {
		return fmt.Sprintf("%s: %d chunks wait for the next sink: %v", c.name, n, lastErr)
	}
	return ""
}

// eventSlab decodes chunks into events it reuses: the next sink owns nothing after Append.
type eventSlab struct {
	pool  []*event.Event
	batch []*event.Event
}

// decode returns the events of data, which they alias.
func (s *eventSlab) decode(data []byte) ([]*event.Event, error) {
	s.batch = s.batch[:0]
	for i := 0; len(data) > 0; i++ {
		if i == len(s.pool) {
			s.pool = append(s.pool, new(event.Event))
		}
		n, err := event.DecodeBinaryInto(s.pool[i], data)
		if err != nil {
			return nil, fmt.Errorf("decode event %d of the chunk: %w", i, err)
		}
		s.batch = append(s.batch, s.pool[i])
		data = data[n:]
	}
	return s.batch, nil
}
