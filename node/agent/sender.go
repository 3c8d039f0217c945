package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/flumego/flume/collector/wire"
	"github.com/flumego/flume/internal/tlsconf"
	"github.com/flumego/flume/node/agent/wal"
	"github.com/flumego/flume/node/retry"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// errStopped retires the last stream of a stopping sender without waiting for its acks.
var errStopped = errors.New("agent sink closed")

// item is one sealed chunk on its way to a collector.
type item struct {
	seq     uint64 // the chunk's number on the wire: end to end, also in the log
	logSeq  uint64 // the chunk's number in the log or spool; 0 when it is in neither
	order   uint64 // the order the chunk was sealed in, which orders source positions
	count   int
	req     *flumev1.AppendRequest // nil: read back from the log when it is sent
	pending wal.Pending            // end to end: done once the chunk is durable in the log
	spooled bool                   // disk failover: the chunk is in the spool
	pos     []byte                 // the source position after the chunk's events, if it has one
}

// sender moves chunks to the collectors of the sink's chain: one stream at a time, to the
// first collector that takes it; what a failed stream had in flight goes again on the next.
type sender struct {
	s      *Sink
	ctx    context.Context // ends when the sender stops for good
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	wake     chan struct{} // a buffered signal: the queue or the acks changed
	room     chan struct{} // a buffered signal: the queue shrank
	queue    []*item       // to send, in order
	unacked  map[uint64]*item
	busy     int  // chunks taken from the queue and not yet in flight or back in the queue
	down     bool // every collector failed the last attempt: best effort drops, disk failover spools
	closing  bool
	client   *wire.Client
	stream   *wire.Stream
	ackDone  chan struct{} // closed when the current stream's ack reader has returned
	cur      int           // the index of the current target
	retryAt  []time.Time   // when each target may be tried again
	backoff  []time.Duration
	latency  [1024]int64 // recent ack latencies, microseconds, a ring
	latN     int
	released uint64        // the highest chunk released to the commit point
	wireSeq  uint64        // the last wire number given to a disk-failover or best-effort chunk
	settling []*item       // acked chunks whose position is to be kept and log entry released
	settle   chan struct{} // a buffered signal: settling grew
	changed  chan struct{} // a buffered signal to stop: a chunk was acked, or no collector answered
	// downClosing is set when every collector failed after the sink began to close: a
	// best-effort or disk-failover sink stops waiting for one then.
	downClosing bool
	// A collector that answers RETRY (its disk is full, say) pauses the stream until
	// pauseUntil; the pause grows with each round of RETRY answers, and a chunk acked ends it.
	retryB     retry.Backoff
	pauseUntil time.Time
	retryNote  string // why the collector asked to retry, for the sink's condition
}

func newSender(s *Sink) *sender {
	n := len(s.opts.Targets)
	snd := &sender{s: s, wake: make(chan struct{}, 1), room: make(chan struct{}, 1), unacked: map[uint64]*item{},
		retryAt: make([]time.Time, n), backoff: make([]time.Duration, n), cur: -1, settle: make(chan struct{}, 1),
		changed: make(chan struct{}, 1),
		retryB:  retry.Backoff{Initial: retryPause, Max: max(s.opts.BackoffMax, retryPause), Jitter: 0.2}}
	for i := range snd.backoff {
		snd.backoff[i] = s.opts.BackoffInitial
	}
	snd.ctx, snd.cancel = context.WithCancel(context.Background())
	return snd
}

func (d *sender) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// notifyStop tells a stopping sender to look at its queues again.
func (d *sender) notifyStop() {
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

// start queues what the log holds from before (a restart) and starts the sender.
func (d *sender) start() {
	if d.s.log != nil {
		for _, c := range d.s.log.Unreleased() {
			d.queue = append(d.queue, &item{seq: c.Seq, logSeq: c.Seq, order: c.Seq, count: int(c.Count), spooled: true})
		}
		d.s.metrics.backlog.Set(int64(len(d.queue)))
	}
	d.wg.Add(3)
	go d.run()
	go d.housekeeping()
	go d.settler()
}

// enqueue hands a sealed chunk to the sender. An end-to-end chunk is in the log already, so
// the queue keeps only the newest ones in memory. A disk-failover chunk is spooled when no
// collector takes chunks; a best-effort one is dropped then.
func (d *sender) enqueue(ctx context.Context, it *item) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	// While a collector takes chunks, the source may run only a little ahead of it, so that
	// a chunk's wait for its ack stays short and memory small; while none does, end-to-end
	// chunks pile up in the log (up to its cap), disk-failover ones in the spool, and
	// best-effort ones are dropped.
	for !d.down && len(d.queue) >= 2*max(d.s.opts.Window, wire.DefaultWindow) && !d.closing {
		d.mu.Unlock()
		select {
		case <-ctx.Done():
			d.mu.Lock()
			return ctx.Err()
		case <-d.ctx.Done():
			d.mu.Lock()
			return wire.ErrClosed
		case <-d.room:
		case <-time.After(10 * time.Millisecond):
		}
		d.mu.Lock()
	}
	switch d.s.opts.Mode {
	case EndToEnd:
		if len(d.queue) >= memCache {
			it.req = nil // the log has it
		}
	case DiskFailover:
		if d.down || len(d.queue) >= memCache {
			if err := d.spool(ctx, it); err != nil {
				return err
			}
		}
	case BestEffort:
		if d.down {
			d.drop(it)
			return nil
		}
	}
	d.queue = append(d.queue, it)
	d.s.metrics.backlog.Set(int64(len(d.queue)))
	d.signal()
	return nil
}

// spool writes a disk-failover chunk to the spool; d.mu is held.
func (d *sender) spool(ctx context.Context, it *item) error {
	if it.spooled || it.req == nil {
		return nil
	}
	// The spool numbers its chunks itself, in the order they are spooled: chunks reach it
	// out of their wire order (a chunk in flight is spooled after later ones when its
	// collector fails), and a disk-failover chunk gets a new wire number when it is sent.
	seq := d.s.nextSpoolSeq()
	p, err := d.s.logChunkAt(ctx, seq, it.req, it.pos)
	if err != nil {
		return fmt.Errorf("spool chunk: %w", err)
	}
	it.logSeq = seq
	// The spool syncs in the background; the chunk is read back once it is written.
	it.spooled, it.req, it.pending = true, nil, p
	d.s.metrics.spooled.Add(1)
	return nil
}

func (d *sender) drop(it *item) {
	d.s.metrics.droppedBatches.Add(1)
	d.s.metrics.dropped.Add(int64(it.count))
}

// run is the sender's loop.
func (d *sender) run() {
	defer d.wg.Done()
	for d.ctx.Err() == nil {
		if !d.connected() && !d.connect() {
			d.disconnected()
			d.waitRetry()
			continue
		}
		d.maybeReturn()
		it := d.next()
		if it == nil {
			continue
		}
		err := d.send(it)
		d.mu.Lock()
		d.busy--
		d.mu.Unlock()
		if err != nil {
			d.failStream(err)
		}
	}
}

func (d *sender) connected() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stream != nil
}

// connect opens a stream to the first target that answers and is not backing off.
func (d *sender) connect() bool {
	now := time.Now()
	for i, target := range d.s.opts.Targets {
		d.mu.Lock()
		due := !now.Before(d.retryAt[i])
		d.mu.Unlock()
		if !due {
			continue
		}
		if d.open(i, target) {
			return true
		}
	}
	return false
}

// open opens a stream to target i.
func (d *sender) open(i int, target string) bool {
	// A chunk waits for its ack at most the retransmit time, and never more than
	// maxAckWait: a collector that stopped answering is left quickly, whatever the
	// configured retransmit time.
	opts := wire.ClientOptions{Window: d.s.opts.Window, AckTimeout: min(d.s.opts.Retransmit, maxAckWait)}
	if d.s.bc.TLS != nil {
		opts.Credentials = d.s.bc.TLS.ClientCredentials(tlsconf.NodeName)
	}
	cl, err := wire.Dial(d.ctx, target, opts)
	if err == nil {
		var st *wire.Stream
		st, err = cl.Open(d.ctx, &flumev1.StreamHello{Agent: d.s.agent, Epoch: d.s.epoch,
			Physical: d.s.bc.PhysicalNode, Reliability: d.s.opts.Mode.wire()})
		if err == nil {
			done := make(chan struct{})
			d.mu.Lock()
			d.client, d.stream, d.ackDone, d.cur = cl, st, done, i
			d.down = false
			d.mu.Unlock()
			go d.readAcks(st, i, done)
			d.s.bc.Log().Info("sending to collector", "collector", target, "mode", d.s.opts.Mode.String())
			return true
		}
		_ = cl.Close()
	}
	if d.ctx.Err() == nil {
		d.s.bc.Log().Warn("collector unavailable", "collector", target, "err", err)
		d.markDown(i)
	}
	return false
}

func (d *sender) markDown(i int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.retryAt[i] = time.Now().Add(d.backoff[i])
	d.backoff[i] = min(2*d.backoff[i], d.s.opts.BackoffMax)
}

// disconnected runs while no collector takes chunks: a best-effort sink drops its queue, a
// disk-failover sink spools it; an end-to-end sink keeps it in its log.
func (d *sender) disconnected() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down = true
	if d.closing {
		d.downClosing = true
		defer d.notifyStop()
	}
	switch d.s.opts.Mode {
	case BestEffort:
		for _, it := range d.queue {
			d.drop(it)
		}
		d.queue = d.queue[:0]
	case DiskFailover:
		for _, it := range d.queue {
			if err := d.spool(d.ctx, it); err != nil {
				d.s.bc.Log().Error("spool", "err", err)
			}
		}
	}
	d.s.metrics.backlog.Set(int64(len(d.queue)))
}

// waitRetry waits until the first target may be tried again.
func (d *sender) waitRetry() {
	d.mu.Lock()
	next := time.Time{}
	for _, t := range d.retryAt {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	d.mu.Unlock()
	wait := time.Until(next)
	if wait <= 0 {
		wait = 10 * time.Millisecond
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-d.ctx.Done():
	case <-t.C:
	}
}

// maybeReturn goes back to an earlier target of the chain once its backoff has passed: the
// current stream is closed once its chunks in flight are acked, and the next connect tries the
// earlier target first.
func (d *sender) maybeReturn() {
	d.mu.Lock()
	cur := d.cur
	due := false
	now := time.Now()
	for i := 0; i < cur; i++ {
		if !now.Before(d.retryAt[i]) {
			due = true
		}
	}
	d.mu.Unlock()
	if !due {
		return
	}
	d.retire(nil)
}

// next returns the next chunk to send, or nil after waiting a while (to look at the chain
// again) or when the stream failed.
func (d *sender) next() *item {
	t := time.NewTimer(250 * time.Millisecond)
	defer t.Stop()
	for {
		d.mu.Lock()
		if pause := time.Until(d.pauseUntil); pause > 0 && d.stream != nil {
			// The collector asked to retry: nothing goes to it until the pause ends.
			st := d.stream
			d.mu.Unlock()
			pt := time.NewTimer(pause)
			select {
			case <-pt.C:
			case <-d.ctx.Done():
			case <-st.Done():
			}
			pt.Stop()
			continue
		}
		if len(d.queue) > 0 && d.stream != nil {
			it := d.queue[0]
			d.queue[0] = nil // the backing array must not keep a sent chunk alive
			d.queue = d.queue[1:]
			d.busy++
			select {
			case d.room <- struct{}{}:
			default:
			}
			d.s.metrics.backlog.Set(int64(len(d.queue)))
			d.mu.Unlock()
			return it
		}
		st := d.stream
		d.mu.Unlock()
		if st == nil {
			return nil
		}
		select {
		case <-d.wake:
		case <-d.ctx.Done():
			return nil
		case <-t.C:
			return nil
		case <-st.Done():
			d.failStream(st.Err())
			return nil
		}
	}
}

// send sends one chunk on the current stream.
func (d *sender) send(it *item) error {
	if it.pending != nil {
		select {
		case <-it.pending.Done():
		case <-d.ctx.Done():
			d.requeue(it)
			return nil
		}
		if err := it.pending.Err(); err != nil {
			d.s.mu.Lock()
			d.s.failed = fmt.Errorf("write-ahead log: %w", err)
			d.s.mu.Unlock()
			return nil
		}
		it.pending = nil
	}
	req := it.req
	if req == nil {
		var err error
		if req, it.pos, err = d.s.log.request(it.logSeq); err != nil {
			if errors.Is(err, wal.ErrReleased) || errors.Is(err, wal.ErrNotFound) {
				return nil // acked meanwhile, or never durable: nothing to send
			}
			// Unreadable (damaged): counted, logged and released, so that it does not hold
			// the log and the commit point's records back for ever.
			d.reject(it, fmt.Errorf("read chunk back from the log: %w", err))
			return nil
		}
	}
	d.mu.Lock()
	st := d.stream
	if st == nil {
		d.queue = append([]*item{it}, d.queue...)
		d.mu.Unlock()
		return nil
	}
	if d.s.opts.Mode != EndToEnd {
		// Only end-to-end chunks keep their number across sends (the commit point knows
		// them by it); the others are numbered as they go out.
		d.wireSeq++
		it.seq, req.Seq = d.wireSeq, d.wireSeq
	}
	d.unacked[it.seq] = it
	d.s.metrics.inFlight.Set(int64(len(d.unacked)))
	d.mu.Unlock()
	err := st.Send(d.ctx, req)
	switch {
	case err == nil:
		d.s.metrics.batchesSent.Add(1)
		d.s.metrics.bytesOut.Add(int64(len(req.Payload)))
		return nil
	case errors.Is(err, wire.ErrTooLarge):
		d.mu.Lock()
		delete(d.unacked, it.seq)
		d.mu.Unlock()
		d.reject(it, err)
		return nil
	case d.ctx.Err() != nil:
		return nil
	}
	d.s.metrics.sendErrors.Add(1)
	return err
}

// maxAckWait bounds how long a chunk waits for its ack before its stream is given up.
const maxAckWait = 10 * time.Second

// retryPause is how long the stream pauses after the first RETRY answer; the pause doubles
// with each round of RETRY answers, up to the failover backoff's cap.
const retryPause = 250 * time.Millisecond

// retryLater requeues a chunk once the pause has passed; the chunk counts as busy meanwhile,
// so that a closing sink waits for it.
func (d *sender) retryLater(it *item) {
	d.mu.Lock()
	if d.ctx.Err() != nil {
		d.mu.Unlock()
		d.requeue(it) // stopping: what is queued is dealt with by stop
		return
	}
	d.busy++
	wait := max(time.Until(d.pauseUntil), 0)
	d.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-d.ctx.Done():
		}
		d.mu.Lock()
		d.busy--
		d.mu.Unlock()
		d.requeue(it)
	}()
}

// requeue puts chunks back at the front of the queue, in sequence order.
func (d *sender) requeue(items ...*item) {
	d.mu.Lock()
	defer d.mu.Unlock()
	slices.SortFunc(items, func(a, b *item) int { return int(a.seq - b.seq) })
	d.queue = append(items, d.queue...)
	d.signal()
}

// failStream gives up the current stream after an error: the target backs off, and what was
// in flight goes again on the next stream (best effort: is dropped).
func (d *sender) failStream(err error) {
	d.mu.Lock()
	i := d.cur
	d.mu.Unlock()
	if i >= 0 && d.ctx.Err() == nil {
		d.s.bc.Log().Warn("collector failed; failing over", "collector", d.s.opts.Targets[i], "err", err)
		d.s.metrics.failovers.Add(1)
		d.markDown(i)
	}
	d.retire(err)
}

// retire closes the current stream, waiting briefly for its acks when it is healthy, and
// requeues what it did not ack.
func (d *sender) retire(cause error) {
	d.mu.Lock()
	st, cl, done := d.stream, d.client, d.ackDone
	d.stream, d.client, d.ackDone, d.cur = nil, nil, nil, -1
	d.mu.Unlock()
	if st == nil {
		return
	}
	grace := 2 * time.Second
	if cause != nil {
		grace = 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	_ = st.Close(ctx)
	cancel()
	<-done
	_ = cl.Close()
	d.mu.Lock()
	var left []*item
	for seq, it := range d.unacked {
		left = append(left, it)
		delete(d.unacked, seq)
	}
	d.s.metrics.inFlight.Set(0)
	d.mu.Unlock()
	if d.s.opts.Mode == BestEffort {
		for _, it := range left {
			d.drop(it)
		}
		return
	}
	if len(left) > 0 {
		d.s.metrics.retries.Add(int64(len(left)))
		d.requeue(left...)
	}
}

// stop waits, within ctx, until every chunk is acked, then stops the sender. What is left
// stays in the log (end to end), goes to the spool (disk failover) or is dropped (best
// effort).
func (d *sender) stop(ctx context.Context) error {
	d.mu.Lock()
	d.closing = true
	d.mu.Unlock()
	d.signal()
	// Every mode delivers what it holds before the sink reports closed: a best-effort or
	// disk-failover sink until every collector failed once since the close began, an
	// end-to-end sink until its chunks are committed; all within ctx, and what is left then is
	// said.
	for {
		d.mu.Lock()
		left := len(d.queue) + len(d.unacked) + d.busy
		idle := left == 0 && len(d.settling) == 0
		gaveUp := d.downClosing && d.s.opts.Mode != EndToEnd
		d.mu.Unlock()
		if idle || gaveUp {
			break
		}
		if ctx.Err() != nil {
			d.s.bc.Log().Warn("closing before every chunk was delivered", "mode", d.s.opts.Mode.String(),
				"chunks", left, "err", ctx.Err())
			break
		}
		t := time.NewTimer(100 * time.Millisecond) // settling has no signal of its own
		select {
		case <-ctx.Done():
		case <-d.changed:
		case <-t.C:
		}
		t.Stop()
	}
	d.cancel()
	d.wg.Wait()
	d.retire(errStopped)
	d.settleRound() // acks that came after the settler's last round
	p50, p99 := d.percentiles()
	d.s.metrics.latencyP50.Set(p50)
	d.s.metrics.latencyP99.Set(p99)
	d.mu.Lock()
	defer d.mu.Unlock()
	var err error
	switch d.s.opts.Mode {
	case BestEffort:
		for _, it := range d.queue {
			d.drop(it)
		}
	case DiskFailover:
		for _, it := range d.queue {
			if e := d.spool(context.Background(), it); e != nil && err == nil {
				err = e
			}
		}
	}
	d.queue = nil
	if d.s.log != nil {
		if e := d.s.log.Sync(context.Background()); e != nil && err == nil {
			err = e
		}
	}
	return err
}
