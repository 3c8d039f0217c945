package agent

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/flumego/flume/collector/wire"
	"github.com/flumego/flume/node/agent/wal"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
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
// waited its age (unless the source hands positions, which seal at batch ends), and when the
// source hands a position, which the chunk carries. A sealed chunk goes to emit, with the
// chunker's lock held: a full outbox holds Append up.
type chunker struct {
	count, bytes int
	wait         time.Duration
	grace        time.Duration // bounds a seal by age, whose caller has no context
	enc          *wire.Encoder
	emit         func(ctx context.Context, it *item) error
	log          *slog.Logger
	eventsIn     *metrics.Counter
	sealed       *metrics.Counter

	mu         sync.Mutex
	raw        []byte // the chunk being filled
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
var errChunkerClosed = errors.New("agent sink closed")

// add adds events to the chunk being filled, sealing it when it is full.
func (c *chunker) add(ctx context.Context, batch []*event.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed != nil {
		return c.failed
	}
	if c.closed {
		return errChunkerClosed
	}
	for _, e := range batch {
		// A full chunk is sealed before the next event, not after the last one of the
		// batch: the chunk that ends a batch waits for the source's position.
		if c.n >= c.count || len(c.raw) >= c.bytes {
			if err := c.sealLocked(ctx); err != nil {
				return err
			}
		}
		c.raw = event.AppendBinary(c.raw, e)
		c.n++
	}
	c.eventsIn.Add(int64(len(batch)))
	if c.n > 0 && c.timer == nil && !c.positional {
		// A flow whose source hands positions seals its chunks at batch ends; a timer
		// sealing them in between would part a position from the chunk it belongs to.
		c.timer = time.AfterFunc(c.wait, c.sealByAge)
	}
	return nil
}

// position attaches pos to the chunk being filled and seals it: the position is kept with the
// chunk's events. With no events waiting, the events before pos went out in chunks sealed by
// their age: an empty chunk carries the position after them, in order.
func (c *chunker) position(ctx context.Context, pos []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed != nil {
		return c.failed
	}
	c.positional = true
	c.stopTimerLocked()
	c.pos = slices.Clone(pos)
	if (c.n > 0 || c.sealedBare) && !c.closed {
		return c.sealLocked(ctx)
	}
	return nil
}

// expectPositions says positions will follow each batch: chunks are not sealed by age.
func (c *chunker) expectPositions() {
	c.mu.Lock()
	c.positional = true
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
	defer c.mu.Unlock()
	c.timer = nil
	if c.n > 0 && !c.closed && c.failed == nil {
		ctx, cancel := context.WithTimeout(context.Background(), c.grace)
		defer cancel()
		if err := c.sealLocked(ctx); err != nil {
			c.log.Error("seal chunk", "err", err)
		}
	}
}

// sealLocked turns the events gathered into a chunk and emits it; c.mu is held.
func (c *chunker) sealLocked(ctx context.Context) error {
	c.stopTimerLocked()
	req := &flumev1.AppendRequest{Seq: c.next, Created: time.Now().UnixNano()}
	raw := c.raw
	if err := c.enc.Seal(req, raw, c.n); err != nil {
		return err
	}
	if c.enc.Compression() == flumev1.Compression_COMPRESSION_UNSPECIFIED {
		c.raw = make([]byte, 0, cap(raw)) // the request owns raw now
	} else {
		c.raw = raw[:0]
	}
	it := &item{order: req.Seq, seq: req.Seq, count: c.n, created: req.Created, req: req, pos: c.pos}
	c.sealedBare = c.pos == nil
	if c.pos != nil {
		c.lastPos, c.lastOrder = c.pos, req.Seq
	}
	c.n, c.pos = 0, nil
	c.next++
	c.sealed.Inc()
	if err := c.emit(ctx, it); err != nil {
		if errors.Is(err, errOutboxFailed) {
			c.failed = err
		}
		return err
	}
	return nil
}

// close seals the last chunk and takes no more events.
func (c *chunker) close(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	var err error
	if c.n > 0 && c.failed == nil {
		err = c.sealLocked(ctx)
	}
	c.stopTimerLocked()
	c.closed = true
	return err
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
