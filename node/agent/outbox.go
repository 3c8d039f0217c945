package agent

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/flumego/flume/node/agent/wal"
	"github.com/flumego/flume/node/metrics"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
	"github.com/flumego/flume/wire"
)

// outbox is the ordered queue of sealed chunks between the chunker and the sender. A chunk
// waits in it until it is sent, stays in flight until it is acked, and leaves once it is safe:
// its position is kept and its log record released (settled). End to end, every chunk is in
// the write-ahead log before it is sent; disk failover spools what no collector takes; best
// effort keeps chunks in memory only. What differs between the modes is the strategy.
type outbox struct {
	strat strategy
	log   *walLog                              // the log or spool; nil for best effort
	keep  func(order uint64, pos []byte) error // stores a position (the sink's position store)
	lg    *slog.Logger
	m     outboxMetrics
	ahead int // how many chunks may wait while a collector takes them
	// onFail stops the chunker when the log fails.
	onFail func(error)

	mu          sync.Mutex
	queue       []*item // to send, in order
	unacked     map[uint64]*item
	busy        int  // chunks taken from the queue and not yet in flight or back in it
	down        bool // no collector took chunks at the last attempt
	closing     bool
	downClosing bool   // every collector failed after the close began
	wireSeq     uint64 // the last wire number given to a chunk sent under a new number
	settling    []*item

	spoolMu  sync.Mutex
	spoolSeq uint64 // the last number given to a spooled chunk

	wake    chan struct{} // to the sender: the queue grew
	room    chan struct{} // to push: the queue shrank
	settle  chan struct{} // to the settler: settling grew
	changed chan struct{} // to a closing sink: a chunk left, or no collector answers
}

// errOutboxFailed marks a failure of the log: the sink takes nothing more.
var errOutboxFailed = errors.New("write-ahead log failed")

// outboxMetrics are the outbox's counters and gauges, named by its owner.
type outboxMetrics struct {
	backlog, inFlight                          *metrics.Gauge
	dropped, droppedBatches, rejected, retries *metrics.Counter
	spooled                                    *metrics.Counter
}

func newOutbox(strat strategy, log *walLog, keep func(uint64, []byte) error, lg *slog.Logger, m outboxMetrics, ahead int) *outbox {
	return &outbox{strat: strat, log: log, keep: keep, lg: lg, m: m, ahead: ahead, unacked: map[uint64]*item{},
		wake: make(chan struct{}, 1), room: make(chan struct{}, 1), settle: make(chan struct{}, 1),
		changed: make(chan struct{}, 1)}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// recover queues what the log holds from an earlier run: it goes first.
func (o *outbox) recover() {
	if o.log == nil {
		return
	}
	for _, c := range o.log.Unreleased() {
		o.queue = append(o.queue, &item{seq: c.Seq, logSeq: c.Seq, order: c.Seq, count: int(c.Count),
			created: c.Created, spooled: true})
	}
	o.m.backlog.Set(int64(len(o.queue)))
}

// push queues a sealed chunk. While a collector takes chunks the source may run only a little
// ahead of it (ahead chunks), so that a chunk's wait for its ack stays short and memory small;
// while none does, the strategy keeps chunks in the log, spools them or drops them.
func (o *outbox) push(ctx context.Context, stop <-chan struct{}, it *item) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for !o.down && len(o.queue) >= o.ahead && !o.closing {
		o.mu.Unlock()
		select {
		case <-ctx.Done():
			o.mu.Lock()
			return ctx.Err()
		case <-stop:
			o.mu.Lock()
			return errChunkerClosed
		case <-o.room:
		}
		o.mu.Lock()
	}
	down, queued := o.down, len(o.queue)
	// The strategy may write to the log, which waits while the log is full: never with the
	// lock held, which the sender needs to drain it.
	o.mu.Unlock()
	join, err := o.strat.accept(ctx, o, it, down, queued)
	o.mu.Lock()
	if err != nil || !join {
		return err
	}
	o.queue = append(o.queue, it)
	o.m.backlog.Set(int64(len(o.queue)))
	notify(o.wake)
	return nil
}

// take returns the first chunk to send, nil if none; the chunk is busy until sent or requeued.
func (o *outbox) take() *item {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.queue) == 0 {
		return nil
	}
	it := o.queue[0]
	o.queue[0] = nil // the backing array must not keep a sent chunk alive
	o.queue = o.queue[1:]
	o.busy++
	notify(o.room)
	o.m.backlog.Set(int64(len(o.queue)))
	return it
}

// hold counts a chunk that waits outside the queue (a RETRY's pause) as busy, so that a
// closing sink waits for it; done ends the hold.
func (o *outbox) hold() {
	o.mu.Lock()
	o.busy++
	o.mu.Unlock()
}

// done says a chunk taken is in flight, requeued or dropped.
func (o *outbox) done() {
	o.mu.Lock()
	o.busy--
	o.mu.Unlock()
	notify(o.changed)
}

// inflight records a chunk about to be sent; a strategy that numbers chunks as they go out
// gives it its number.
func (o *outbox) inflight(it *item, req *flumev1.AppendRequest) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.strat.renumbers() {
		o.wireSeq++
		it.seq, req.Seq = o.wireSeq, o.wireSeq
	}
	o.unacked[it.seq] = it
	o.m.inFlight.Set(int64(len(o.unacked)))
}

// acked removes the chunk of an ack from the chunks in flight.
func (o *outbox) acked(seq uint64) (*item, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	it, ok := o.unacked[seq]
	if ok {
		delete(o.unacked, seq)
	}
	o.m.inFlight.Set(int64(len(o.unacked)))
	return it, ok
}

// requeue puts chunks back at the front of the queue, in order.
func (o *outbox) requeue(items ...*item) {
	if len(items) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	slices.SortFunc(items, func(a, b *item) int { return cmp.Compare(a.seq, b.seq) })
	o.queue = append(items, o.queue...)
	o.m.backlog.Set(int64(len(o.queue)))
	notify(o.wake)
}

// lost hands the strategy what a failed stream had in flight.
func (o *outbox) lost() {
	o.mu.Lock()
	var left []*item
	for seq, it := range o.unacked {
		left = append(left, it)
		delete(o.unacked, seq)
	}
	o.m.inFlight.Set(0)
	o.mu.Unlock()
	if len(left) > 0 {
		o.strat.lost(o, left)
	}
	notify(o.changed)
}

// unreachable runs while no collector takes chunks.
func (o *outbox) unreachable() {
	o.mu.Lock()
	o.down = true
	if o.closing {
		o.downClosing = true
		notify(o.changed)
	}
	queue := slices.Clone(o.queue)
	o.mu.Unlock()
	if gone := o.strat.unreachable(o, queue); len(gone) > 0 {
		o.remove(gone)
	}
	notify(o.room)
}

// remove takes items out of the queue.
func (o *outbox) remove(items []*item) {
	gone := make(map[*item]bool, len(items))
	for _, it := range items {
		gone[it] = true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.queue = slices.DeleteFunc(o.queue, func(it *item) bool { return gone[it] })
	o.m.backlog.Set(int64(len(o.queue)))
}

// reachable says a collector takes chunks again.
func (o *outbox) reachable() {
	o.mu.Lock()
	o.down = false
	o.mu.Unlock()
}

// beginClose makes push stop waiting for room.
func (o *outbox) beginClose() {
	o.mu.Lock()
	o.closing = true
	o.mu.Unlock()
	notify(o.room)
}

// left returns the chunks not yet settled, and whether a closing sink should stop waiting for
// them: every collector failed since the close began, and the strategy does not wait.
func (o *outbox) left() (n int, settling bool, giveUp bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.queue) + len(o.unacked) + o.busy, len(o.settling) > 0, o.downClosing && !o.strat.waits()
}

// fail stops the sink: its log failed.
func (o *outbox) fail(err error) {
	o.lg.Error("the write-ahead log failed; the sink takes no more events", "err", err)
	if o.onFail != nil {
		o.onFail(err)
	}
}

// drop counts a chunk dropped.
func (o *outbox) drop(it *item) {
	o.m.droppedBatches.Inc()
	o.m.dropped.Add(int64(it.count))
}

// settled forgets a chunk the collector has: its position is kept, then it leaves the log. The
// settler does both for every chunk acked meanwhile at once, so that a stream of acks costs one
// position write and one log release per round, not per chunk.
func (o *outbox) settled(it *item) {
	if it.pos == nil && (o.log == nil || it.logSeq == 0) {
		return
	}
	o.mu.Lock()
	o.settling = append(o.settling, it)
	o.mu.Unlock()
	notify(o.settle)
}

// settleRound keeps the newest position of the chunks acked since the last round, then
// releases them from the log: a chunk leaves the log only once a position at or past its events
// is kept, so a restart neither reads its events again nor misses them. If the position cannot
// be kept, the chunks stay in the log: a restart sends them again, and the commit point takes
// them for the duplicates they are.
func (o *outbox) settleRound() {
	o.mu.Lock()
	its := o.settling
	o.settling = nil
	o.mu.Unlock()
	defer notify(o.changed)
	if len(its) == 0 {
		return
	}
	var newest *item
	seqs := make([]uint64, 0, len(its))
	for _, it := range its {
		if it.pos != nil && (newest == nil || it.order > newest.order) {
			newest = it
		}
		if it.logSeq != 0 {
			seqs = append(seqs, it.logSeq)
		}
	}
	if newest != nil {
		if err := o.keep(newest.order, newest.pos); err != nil {
			o.lg.Error("save the source position; the acked chunks stay in the log", "err", err)
			return
		}
	}
	if o.log == nil || len(seqs) == 0 {
		return
	}
	if err := o.log.Release(seqs...); err != nil && !errors.Is(err, wal.ErrReleased) {
		o.lg.Error("release chunks from the log", "chunks", len(seqs), "err", err)
	}
}

// reject gives up a chunk no collector will take, or that cannot be read back from the log:
// it is counted and logged loudly, and released.
func (o *outbox) reject(it *item, err error) {
	o.m.rejected.Inc()
	o.m.dropped.Add(int64(it.count))
	o.lg.Error("CHUNK DROPPED; its events are lost", "seq", it.seq, "events", it.count, "err", err)
	o.settled(it)
}

// finish hands the strategy what is still queued when the sink closes, and syncs the log.
func (o *outbox) finish() error {
	o.mu.Lock()
	queue := o.queue
	o.queue = nil
	o.mu.Unlock()
	err := o.strat.rest(o, queue)
	if o.log != nil {
		if e := o.log.Sync(context.Background()); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// condition reports whether no collector takes chunks, and how many wait.
func (o *outbox) condition() (down bool, queued int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.down, len(o.queue)
}

// logChunk appends a chunk to the log as number seq, with the source position after its
// events. The record is an AppendRequest preceded by the position; the payload is not copied:
// the log writes it from the request's own memory.
func (o *outbox) logChunk(ctx context.Context, seq uint64, req *flumev1.AppendRequest, pos []byte) (wal.Pending, error) {
	head := binary.AppendUvarint(make([]byte, 0, 64+len(pos)), uint64(len(pos)))
	head = append(head, pos...)
	head, err := wire.AppendRequestHead(head, req)
	if err != nil {
		return nil, err
	}
	return o.log.Append(ctx, wal.Chunk{Seq: seq, Count: req.Count, Created: req.Created, Head: head, Data: req.Payload})
}

// load returns a chunk's request, reading it back from the log if it is not in memory.
func (o *outbox) load(it *item) (*flumev1.AppendRequest, error) {
	if it.req != nil {
		return it.req, nil
	}
	req, pos, err := o.log.request(it.logSeq)
	if err != nil {
		return nil, err
	}
	it.pos = pos
	return req, nil
}

// walLog is the log with a decoder of its chunks.
type walLog struct {
	*wal.Log
}

// request reads a chunk back as the request it was, with the source position it carries.
func (l *walLog) request(seq uint64) (*flumev1.AppendRequest, []byte, error) {
	c, err := l.Read(seq)
	if err != nil {
		return nil, nil, err
	}
	n, k := binary.Uvarint(c.Data)
	if k <= 0 || uint64(len(c.Data)-k) < n {
		return nil, nil, fmt.Errorf("chunk %d of the log does not decode: bad position length", seq)
	}
	var pos []byte
	if n > 0 {
		pos = slices.Clone(c.Data[k : k+int(n)]) // not a slice of the chunk: it outlives the payload
	}
	req, err := wire.DecodeRequest(c.Data[k+int(n):])
	if err != nil {
		return nil, nil, fmt.Errorf("chunk %d of the log does not decode: %w", seq, err)
	}
	return req, pos, nil
}
