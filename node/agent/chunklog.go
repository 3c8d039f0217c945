package agent

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/flumego/flume/conf"
	"github.com/flumego/flume/node/agent/wal"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/retry"
	"github.com/flumego/flume/node/spec"
	"github.com/flumego/flume/wire"
)

// chunkLog is a decorator's log, built from the engine's parts: the chunker gathers events
// into chunks, the outbox keeps them in a wal.Log (every chunk is written before it goes on, as
// end to end), and a goroutine of the log's own delivers them to the next sink in order,
// settling each chunk (releasing it from the log) once the next sink took it. A chunk the next
// sink fails is appended again after a backoff, and stays first meanwhile.
type chunkLog struct {
	name        string
	bc          *plugin.BuildContext
	dir         string
	maxAge      time.Duration
	stall       time.Duration // Close gives up the drain after this long without a delivery
	backoff     retry.Backoff // the waits after failed deliveries
	next        *nextSink
	onDelivered func() // called after each chunk delivered; may be nil
	counters    *metrics.Registry
	m           logMetrics

	log    *walLog
	chunks *chunker
	out    *outbox
	enc    *wire.Encoder
	ctx    context.Context // the deliverer's: ends when the log closes
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex // from any goroutine: never held across a wait
	progress time.Time  // when the last chunk left the queue
	lastErr  error      // why the last delivery failed, nil after a success
}

type logMetrics struct {
	chunksLogged, eventsLogged, chunksDelivered, eventsDelivered *metrics.Counter
	failures, recovered, chunksLost, eventsLost, chunksLeft      *metrics.Counter
	backlog                                                      *metrics.Gauge
}

// newChunkLog checks a decorator's arguments and returns its log, not yet open.
func newChunkLog(bc *plugin.BuildContext, a *spec.Args, name, sub string, next plugin.Sink) (*chunkLog, error) {
	maxAge := a.Duration("maxMillis", bc.PropMillis(conf.AgentLogMaxAge, DefaultLogMaxAge))
	if maxAge < 0 {
		return nil, a.Errorf("maxMillis", "maxMillis must not be negative")
	}
	m := bc.Counters().Sub(name)
	return &chunkLog{
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
	}, nil
}

// open opens the log, queues what it holds from an earlier run, and starts the deliverer.
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
	enc, err := wire.NewEncoder(0)
	if err != nil {
		_ = l.Close()
		return err
	}
	c.enc, c.log = enc, &walLog{Log: l}
	idle := metrics.NewRegistry() // the outbox's figures the decorators do not report
	c.out = newOutbox(endToEnd{}, c.log, nil, c.bc.Log(), outboxMetrics{backlog: c.m.backlog,
		inFlight: idle.Gauge("in_flight"), rejected: c.m.chunksLost, dropped: c.m.eventsLost},
		math.MaxInt) // the log's cap bounds what waits, not the queue

	c.chunks = &chunker{count: decoChunkEvents, bytes: decoChunkBytes, wait: c.maxAge, grace: time.Minute,
		enc: enc, log: c.bc.Log(), eventsIn: idle.Counter("events_in"), sealed: c.m.chunksLogged}
	c.chunks.init(max(l.NextSeq(), 1))
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.out.onFail = c.chunks.fail
	c.chunks.emit = func(ctx context.Context, it *item) error {
		if err := c.out.push(ctx, c.ctx.Done(), it); err != nil {
			return err
		}
		c.m.eventsLogged.Add(int64(it.count))
		return nil
	}
	c.out.recover()
	if n, _, _ := c.out.left(); n > 0 {
		c.m.recovered.Add(int64(n))
		c.bc.Log().Info("log holds chunks of an earlier run; they go first", "deco", c.name, "chunks", n)
	}
	c.progress = time.Now()
	c.wg.Add(1)
	go c.deliverLoop()
	return nil
}

// add puts the events into the chunk being filled; the log fails what it cannot keep.
func (c *chunkLog) add(ctx context.Context, batch []*event.Event) error {
	if err := c.chunks.add(ctx, batch); err != nil {
		if errors.Is(err, errChunkerClosed) {
			return fmt.Errorf("%s: %w", c.name, errDecoClosed)
		}
		return fmt.Errorf("%s: %w", c.name, err)
	}
	return nil
}

// deliverLoop delivers the queued chunks to the next sink in order.
func (c *chunkLog) deliverLoop() {
	defer c.wg.Done()
	b := c.backoff
	var slab eventSlab
	for {
		it := c.out.take()
		if it == nil {
			select {
			case <-c.ctx.Done():
				return
			case <-c.out.wake:
			}
			continue
		}
		err := c.deliver(it, &slab)
		if err != nil {
			c.out.requeue(it)
		}
		c.out.done()
		if err == nil {
			b.Reset()
			continue
		}
		if c.ctx.Err() != nil {
			return
		}
		c.m.failures.Inc()
		c.mu.Lock()
		c.lastErr = err
		c.mu.Unlock()
		wait, _ := b.Next()
		c.bc.Log().Warn("next sink failed; appending the chunk again later", "deco", c.name,
			"seq", it.logSeq, "wait", wait, "err", err)
		if retry.Wait(c.ctx, wait) != nil {
			return
		}
	}
}

// deliver appends a chunk to the next sink and releases it. It returns the next sink's error,
// to try again; a chunk that cannot be delivered at all (unreadable, or refused for good) is
// dropped and counted.
func (c *chunkLog) deliver(it *item, slab *eventSlab) error {
	if it.pending != nil {
		select {
		case <-it.pending.Done():
		case <-c.ctx.Done():
			return c.ctx.Err()
		}
		if err := it.pending.Err(); err != nil {
			c.out.fail(fmt.Errorf("%s: %w: %w", c.name, errOutboxFailed, err))
			c.lose(it, errors.New("the log failed before the chunk was written"))
			return nil
		}
		it.pending = nil
	}
	data := it.req.GetPayload()
	if it.req == nil {
		var err error
		data, err = c.log.events(it.logSeq)
		switch {
		case errors.Is(err, wal.ErrReleased), errors.Is(err, wal.ErrNotFound):
			c.progressed()
			return nil
		case err != nil:
			c.lose(it, err)
			return nil
		}
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
	if err := c.log.Release(it.logSeq); err != nil && !errors.Is(err, wal.ErrReleased) {
		c.bc.Log().Error("release delivered chunk; a restart delivers it again", "deco", c.name,
			"seq", it.logSeq, "err", err)
	}
	c.m.chunksDelivered.Inc()
	c.m.eventsDelivered.Add(int64(len(events)))
	c.progressed()
	if c.onDelivered != nil {
		c.onDelivered()
	}
	return nil
}

// progressed notes that a chunk left the queue, delivered.
func (c *chunkLog) progressed() {
	c.mu.Lock()
	c.progress, c.lastErr = time.Now(), nil
	c.mu.Unlock()
}

// lose drops a chunk that cannot be delivered, loudly.
func (c *chunkLog) lose(it *item, err error) {
	c.m.chunksLost.Inc()
	c.m.eventsLost.Add(int64(it.count))
	c.bc.Log().Error("CHUNK DROPPED: it cannot be delivered", "deco", c.name, "seq", it.logSeq,
		"events", it.count, "err", err)
	_ = c.log.Release(it.logSeq) // a chunk that cannot be read stays unreadable
	c.mu.Lock()
	c.progress = time.Now()
	c.mu.Unlock()
}

// drain waits until the queue is empty, ctx ends, or no chunk was delivered for c.stall
// (counted from the call at the earliest); it reports whether the queue is empty.
func (c *chunkLog) drain(ctx context.Context) bool {
	start := time.Now()
	t := time.NewTimer(c.stall)
	defer t.Stop()
	for {
		if n, _, _ := c.out.left(); n == 0 {
			return true
		}
		c.mu.Lock()
		last := c.progress
		c.mu.Unlock()
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
		case <-c.out.changed:
		case <-t.C:
		}
	}
}

// close seals the chunk being filled, waits for the drain, stops the deliverer and closes the
// log. What was not delivered stays in the log for the next run.
func (c *chunkLog) close(ctx context.Context) error {
	var err error
	if e := c.chunks.close(ctx); e != nil || c.chunks.failure() != nil {
		if n := c.chunks.pending(); n > 0 {
			c.m.eventsLost.Add(int64(n))
			err = fmt.Errorf("%s: %d events not written to the log: %w", c.name, n, errors.Join(e, c.chunks.failure()))
		}
	}
	drained := c.drain(ctx)
	c.cancel()
	c.wg.Wait()
	left, _, _ := c.out.left()
	if !drained && left > 0 {
		c.m.chunksLeft.Add(int64(left))
		c.bc.Log().Warn("next sink did not take every chunk; the log keeps them for the next run",
			"deco", c.name, "chunks", left)
	}
	c.enc.Close()
	return errors.Join(err, c.log.Close())
}

// condition says why the flow is held up, or "".
func (c *chunkLog) condition() string {
	if c.out == nil {
		return ""
	}
	n, _, _ := c.out.left()
	c.mu.Lock()
	lastErr := c.lastErr
	c.mu.Unlock()
	if st := c.log.State(); st.Full {
		return fmt.Sprintf("%s: paused: log full (%s); %d chunks wait for the next sink", c.name, st.Reason, st.Unreleased)
	}
	if lastErr != nil && n > 0 {
		return fmt.Sprintf("%s: %d chunks wait for the next sink: %v", c.name, n, lastErr)
	}
	return ""
}

// events reads a decorator's chunk back: its events, in binary encoding. A log written by an
// older release holds the events alone; this one's hold an AppendRequest (with no position),
// whose first byte is the empty position's length, 0, where an event's is its version, 1.
func (l *walLog) events(seq uint64) ([]byte, error) {
	ch, err := l.Read(seq)
	if err != nil {
		return nil, err
	}
	if len(ch.Data) > 0 && ch.Data[0] != 0 {
		return ch.Data, nil
	}
	req, err := wire.DecodeRequest(ch.Data[1:])
	if err != nil {
		return nil, fmt.Errorf("chunk %d of the log does not decode: %w", seq, err)
	}
	return req.Payload, nil
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
