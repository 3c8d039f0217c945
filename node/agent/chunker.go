package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/flumego/flume/node/agent/wal"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
	"github.com/flumego/flume/wire"
)

// item is one batch on its way: its events (a sealed chunk), the source position they end at,
// and how far it is: in the log or spool, in flight, acked.
type item struct {
	order   uint64 // the order it was sealed in, which orders positions; end to end also its number in the log and on the wire
	seq     uint64 // its number on the wire, for the current send
	logSeq  uint64 // its number in the log or spool; 0 when in neither
	count   int
	created int64                  // when it was sealed, unix nanoseconds
	req     *flumev1.AppendRequest // nil: read back from the log when it is sent
	pending wal.Pending            // done once the chunk is durable in the log or spool
	spooled bool                   // disk failover: the chunk is in the spool
	pos     []byte                 // the source position after the chunk's events, if it has one
}

// chunker gathers a flow's events into chunks, in the node/event binary encoding, compressed as
// the stream asks. It seals a chunk when it holds its count or bytes, when its first event
// waited its age (unless the source hands positions, which seal at batch ends; an age of zero
// seals at the end of every Append), and when the source hands a position, which the chunk
// carries. A sealed chunk goes to emit. Seals take turns, in order (sem, waited for within the
// caller's context), and the chunk being filled is not locked while emit waits for room: an
// Append is never held up beyond its context by a seal of the timer's.
type chunker struct {
	count, bytes int
	wait         time.Duration // 0: seal at the end of every add
	grace        time.Duration // bounds a seal by age
	enc          *wire.Encoder
	emit         func(ctx context.Context, it *item) error
	log          *slog.Logger
	eventsIn     *metrics.Counter
	sealed       *metrics.Counter

	sem       chan struct{} // held by the seal in progress
	timerCtx  context.Context
	timerStop context.CancelFunc

	mu         sync.Mutex
	raw        []byte // the chunk being filled
	spare      []byte // a buffer to fill next, when the encoder compresses
	n          int    // its events
	pos        []byte // the source position after its events
	timer      *time.Timer
	positional bool   // the source hands positions: chunks end at batch ends
	sealedBare bool   // a chunk was sealed without a position since the last position
	next       uint64 // the order of the next chunk
	failed     error  // the outbox failed: the chunker takes nothing more
	closed     bool
	lastPos    []byte // the position of the last chunk sealed with one
	lastOrder  uint64 // and that chunk's order
}

// errChunkerClosed is the error of Append after Close.
var errChunkerClosed = errors.New("closed")

// init readies the chunker; next is the order of its first chunk.
func (c *chunker) init(next uint64) {
	c.next = next
	c.sem = make(chan struct{}, 1)
	c.timerCtx, c.timerStop = context.WithCancel(context.Background())
}

// add adds events to the chunk being filled. A full chunk is sealed before more events join
// it; a seal that fails takes nothing of the batch: its events leave the chunk again.
func (c *chunker) add(ctx context.Context, batch []*event.Event) error {
	c.mu.Lock()
	if err := c.refusesLocked(); err != nil {
		c.mu.Unlock()
		return err
	}
	mark, marked := len(c.raw), c.n
	for _, e := range batch {
		if c.n >= c.count || len(c.raw) >= c.bytes {
			c.mu.Unlock()
			err := c.seal(ctx)
			c.mu.Lock()
			if err != nil {
				c.unaddLocked(mark, marked)
				c.mu.Unlock()
				return err
			}
			mark, marked = 0, 0 // the batch's first events are sealed: they stay
		}
		c.raw = event.AppendBinary(c.raw, e)
		c.n++
	}
	c.eventsIn.Add(int64(len(batch)))
	now := c.wait == 0 && c.n > 0
	if c.n > 0 && c.timer == nil && !c.positional && c.wait > 0 {
		// A flow whose source hands positions seals its chunks at batch ends; a timer
		// sealing them in between would part a position from the chunk it belongs to.
		c.timer = time.AfterFunc(c.wait, c.sealByAge)
	}
	c.mu.Unlock()
	if now {
		if err := c.seal(ctx); err != nil {
			c.mu.Lock()
			c.unaddLocked(mark, marked)
			c.mu.Unlock()
			return err
		}
	}
	return nil
}

// unaddLocked takes the events added since mark out of the chunk being filled.
func (c *chunker) unaddLocked(mark, marked int) {
	if len(c.raw) >= mark && c.n >= marked {
		c.raw, c.n = c.raw[:mark], marked
	}
}

func (c *chunker) refusesLocked() error {
	switch {
	case c.failed != nil:
		return c.failed
	case c.closed:
		return errChunkerClosed
	}
	return nil
}

// position attaches pos to the chunk being filled and seals it: the position is kept with the
// chunk's events. With no events waiting, the events before pos went out in chunks sealed by
// their age: an empty chunk carries the position after them, in order.
func (c *chunker) position(ctx context.Context, pos []byte) error {
	c.mu.Lock()
	if c.failed != nil {
		c.mu.Unlock()
		return c.failed
	}
	c.positional = true
	c.stopTimerLocked()
	c.pos = slices.Clone(pos)
	need := (c.n > 0 || c.sealedBare) && !c.closed
	c.mu.Unlock()
	if need {
		return c.seal(ctx)
	}
	return nil
}

// expectPositions says positions will follow each batch: chunks are not sealed by age.
func (c *chunker) expectPositions() {
	c.mu.Lock()
	c.positional = true
	c.stopTimerLocked()
	c.mu.Unlock()
}

func (c *chunker) stopTimerLocked() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// sealByAge seals a chunk that waited its age.
func (c *chunker) sealByAge() {
	c.mu.Lock()
	c.timer = nil
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(c.timerCtx, c.grace)
	defer cancel()
	if err := c.seal(ctx); err != nil && c.timerCtx.Err() == nil {
		c.log.Warn("seal chunk by age", "err", err)
		c.mu.Lock()
		if c.n > 0 && c.timer == nil && !c.closed && c.failed == nil {
			c.timer = time.AfterFunc(c.wait, c.sealByAge) // the events wait: try again
		}
		c.mu.Unlock()
	}
}

// seal turns the events gathered into a chunk and emits it. When emit fails, the chunk's
// events go back in front of those added meanwhile, unless the failure is the outbox's.
func (c *chunker) seal(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("seal chunk: %w", ctx.Err())
	}
	defer func() { <-c.sem }()
	c.mu.Lock()
	if c.failed != nil || (c.n == 0 && c.pos == nil) {
		c.mu.Unlock()
		return c.failed
	}
	raw, n, pos, order := c.raw, c.n, c.pos, c.next
	c.raw, c.spare = c.spare[:0], nil
	if c.raw == nil {
		c.raw = make([]byte, 0, cap(raw))
	}
	c.n, c.pos = 0, nil
	c.next++
	c.mu.Unlock()

	req := &flumev1.AppendRequest{Seq: order, Created: time.Now().UnixNano()}
	err := c.enc.Seal(req, raw, n)
	if err == nil {
		it := &item{order: order, seq: order, count: n, created: req.Created, req: req, pos: pos}
		err = c.emit(ctx, it)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if errors.Is(err, errOutboxFailed) {
			c.failed = err
			return err
		}
		// Nothing took the chunk: its events come first again.
		c.raw, c.n, c.next = append(raw, c.raw...), c.n+n, order
		if c.pos == nil {
			c.pos = pos
		}
		return err
	}
	if c.enc.Compression() != flumev1.Compression_COMPRESSION_UNSPECIFIED {
		c.spare = raw[:0] // only read by the encoder: the next chunk may fill it
	}
	c.sealedBare = pos == nil
	if pos != nil {
		c.lastPos, c.lastOrder = pos, order
	}
	c.sealed.Inc()
	return nil
}

// close seals the last chunk and takes no more events; a seal of the timer's gives way.
func (c *chunker) close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.stopTimerLocked()
	c.mu.Unlock()
	c.timerStop()
	if c.failure() != nil {
		return nil
	}
	return c.seal(ctx)
}

// pending returns how many events wait in the chunk being filled.
func (c *chunker) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *chunker) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

// fail stops the chunker: the outbox cannot keep chunks.
func (c *chunker) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed == nil {
		c.failed = err
	}
}

// state returns the failure, the next order, and the last chunk sealed with a position.
func (c *chunker) state() (failed error, next uint64, lastPos []byte, lastOrder uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed, c.next, c.lastPos, c.lastOrder
}
