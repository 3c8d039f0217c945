package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/flumego/flume/node/agent/wal"
	"github.com/flumego/flume/node/retry"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
	"github.com/flumego/flume/wire"
)

// errStopped retires the last stream of a stopping sender without waiting for its acks.
var errStopped = errors.New("agent sink closed")

// maxAckWait bounds how long a chunk waits for its ack before its stream is given up.
const maxAckWait = 10 * time.Second

// retryPause is how long the stream pauses after the first RETRY answer; the pause doubles
// with each round of RETRY answers, up to the failover backoff's cap.
const retryPause = 250 * time.Millisecond

// senderConfig is what a sender needs to know.
type senderConfig struct {
	targets        []string // the collectors, in the order they are tried
	hello          *flumev1.StreamHello
	client         wire.ClientOptions
	backoffInitial time.Duration // the first wait before a failed collector is tried again
	backoffMax     time.Duration
	dropPayloads   bool // chunks in flight need no events in memory: the log has them
	log            *slog.Logger
	m              *agentMetrics
}

// sender moves the outbox's chunks to the collectors of a chain: one stream at a time, to the
// first collector that takes it; what a failed stream had in flight goes again on the next.
type sender struct {
	cfg    senderConfig
	out    *outbox
	ctx    context.Context // ends when the sender stops for good
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	client  *wire.Client
	stream  *wire.Stream
	ackDone chan struct{} // closed when the current stream's ack reader has returned
	cur     int           // the index of the current target, -1 without a stream
	retryAt []time.Time   // when each target may be tried again
	backoff []time.Duration
	// A collector that answers RETRY (its disk is full, say) pauses the stream until
	// pauseUntil; the pause grows with each round of RETRY answers, and a chunk acked ends it.
	retryB     retry.Backoff
	pauseUntil time.Time
	retryNote  string      // why the collector asked to retry, for the sink's condition
	latency    [1024]int64 // recent ack latencies, microseconds, a ring
	latN       int
}

func newSender(cfg senderConfig, out *outbox) *sender {
	n := len(cfg.targets)
	d := &sender{cfg: cfg, out: out, cur: -1, retryAt: make([]time.Time, n), backoff: make([]time.Duration, n),
		retryB: retry.Backoff{Initial: retryPause, Max: max(cfg.backoffMax, retryPause), Jitter: 0.2}}
	for i := range d.backoff {
		d.backoff[i] = cfg.backoffInitial
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d
}

// start starts the sender's loop and the outbox's settler.
func (d *sender) start() {
	d.wg.Add(2)
	go d.run()
	go d.settler()
}

// run is the sender's loop.
func (d *sender) run() {
	defer d.wg.Done()
	for d.ctx.Err() == nil {
		if !d.connected() && !d.connect() {
			d.out.unreachable()
			d.waitRetry()
			continue
		}
		d.maybeReturn()
		it := d.next()
		if it == nil {
			continue
		}
		err := d.send(it)
		d.out.done()
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
	for i, target := range d.cfg.targets {
		d.mu.Lock()
		due := !now.Before(d.retryAt[i])
		d.mu.Unlock()
		if due && d.open(i, target) {
			return true
		}
	}
	return false
}

// open opens a stream to target i.
func (d *sender) open(i int, target string) bool {
	cl, err := wire.Dial(d.ctx, target, d.cfg.client)
	if err == nil {
		var st *wire.Stream
		if st, err = cl.Open(d.ctx, d.cfg.hello); err == nil {
			done := make(chan struct{})
			d.mu.Lock()
			d.client, d.stream, d.ackDone, d.cur = cl, st, done, i
			d.mu.Unlock()
			d.out.reachable()
			go d.readAcks(st, i, done)
			d.cfg.log.Info("sending to collector", "collector", target, "mode", d.cfg.hello.GetReliability().String())
			return true
		}
		_ = cl.Close()
	}
	if d.ctx.Err() == nil {
		d.cfg.log.Warn("collector unavailable", "collector", target, "err", err)
		d.markDown(i)
	}
	return false
}

func (d *sender) markDown(i int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.retryAt[i] = time.Now().Add(d.backoff[i])
	d.backoff[i] = min(2*d.backoff[i], d.cfg.backoffMax)
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
	_ = retry.Wait(d.ctx, max(time.Until(next), 10*time.Millisecond))
}

// earlierDue returns when an earlier target of the chain than the current one may be tried
// again; zero if there is none.
func (d *sender) earlierDue() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	var due time.Time
	for i := 0; i < d.cur; i++ {
		if due.IsZero() || d.retryAt[i].Before(due) {
			due = d.retryAt[i]
		}
	}
	return due
}

// maybeReturn goes back to an earlier target of the chain once its backoff has passed: the
// current stream is closed once its chunks in flight are acked, and the next connect tries the
// earlier target first.
func (d *sender) maybeReturn() {
	if due := d.earlierDue(); !due.IsZero() && !time.Now().Before(due) {
		d.retire(nil)
	}
}

// next waits for the next chunk to send; nil when the stream failed, the sender stops, or an
// earlier target of the chain is due.
func (d *sender) next() *item {
	var back <-chan time.Time
	if due := d.earlierDue(); !due.IsZero() {
		t := time.NewTimer(max(time.Until(due), 0))
		defer t.Stop()
		back = t.C
	}
	for {
		d.mu.Lock()
		st, pause := d.stream, time.Until(d.pauseUntil)
		d.mu.Unlock()
		if st == nil {
			return nil
		}
		if pause > 0 {
			// The collector asked to retry: nothing goes to it until the pause ends.
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-d.ctx.Done():
			case <-st.Done():
			}
			t.Stop()
			if d.ctx.Err() != nil {
				return nil
			}
			continue
		}
		if it := d.out.take(); it != nil {
			return it
		}
		select {
		case <-d.out.wake:
		case <-d.ctx.Done():
			return nil
		case <-back:
			return nil
		case <-st.Done():
			d.failStream(st.Err())
			return nil
		}
	}
}

// send sends one chunk on the current stream. An end-to-end chunk goes out only once it is
// durable in the log.
func (d *sender) send(it *item) error {
	if it.pending != nil {
		select {
		case <-it.pending.Done():
		case <-d.ctx.Done():
			d.out.requeue(it)
			return nil
		}
		if err := it.pending.Err(); err != nil {
			d.out.fail(fmt.Errorf("%w: %w", errOutboxFailed, err))
			return nil
		}
		it.pending = nil
	}
	req, err := d.out.load(it)
	if err != nil {
		if errors.Is(err, wal.ErrReleased) || errors.Is(err, wal.ErrNotFound) {
			return nil // acked meanwhile, or never durable: nothing to send
		}
		// Unreadable (damaged): counted, logged and released, so that it does not hold the
		// log and the commit point's records back for ever.
		d.out.reject(it, fmt.Errorf("read chunk back from the log: %w", err))
		return nil
	}
	d.mu.Lock()
	st := d.stream
	d.mu.Unlock()
	if st == nil {
		d.out.requeue(it)
		return nil
	}
	d.out.inflight(it, req)
	err = st.Send(d.ctx, req)
	switch {
	case err == nil:
		d.cfg.m.batchesSent.Inc()
		d.cfg.m.bytesOut.Add(int64(len(req.Payload)))
		if d.cfg.dropPayloads {
			it.req = nil // the log has the chunk: a resend reads it back
		}
		return nil
	case errors.Is(err, wire.ErrTooLarge):
		if it, ok := d.out.acked(it.seq); ok {
			d.out.reject(it, err)
		}
		return nil
	case d.ctx.Err() != nil:
		return nil
	}
	d.cfg.m.sendErrors.Inc()
	return err
}

// retryLater requeues a chunk the collector answered RETRY once the pause has passed; the
// chunk counts as busy meanwhile, so that a closing sink waits for it.
func (d *sender) retryLater(it *item) {
	if d.ctx.Err() != nil {
		d.out.requeue(it) // stopping: what is queued is dealt with by stop
		return
	}
	d.mu.Lock()
	wait := max(time.Until(d.pauseUntil), 0)
	d.mu.Unlock()
	d.out.hold()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		_ = retry.Wait(d.ctx, wait)
		d.out.requeue(it)
		d.out.done()
	}()
}

// failStream gives up the current stream after an error: the target backs off, and what was
// in flight goes to the strategy (sent again on the next stream, or dropped).
func (d *sender) failStream(err error) {
	d.mu.Lock()
	i := d.cur
	d.mu.Unlock()
	if i >= 0 && d.ctx.Err() == nil {
		d.cfg.log.Warn("collector failed; failing over", "collector", d.cfg.targets[i], "err", err)
		d.cfg.m.failovers.Inc()
		d.markDown(i)
	}
	d.retire(err)
}

// retire closes the current stream, waiting briefly for its acks when it is healthy, and hands
// what it did not ack to the strategy.
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
	d.out.lost()
}

// stop waits, within ctx, until every chunk is delivered, then stops the sender. Every mode
// delivers what it holds before the sink reports closed: best effort and disk failover until
// every collector failed once since the close began, end to end until its chunks are committed.
// What is left then stays in the log (end to end), goes to the spool (disk failover) or is
// dropped (best effort), and is said.
func (d *sender) stop(ctx context.Context) error {
	d.out.beginClose()
	notify(d.out.wake)
	for {
		left, settling, giveUp := d.out.left()
		if (left == 0 && !settling) || giveUp {
			break
		}
		if ctx.Err() != nil {
			d.cfg.log.Warn("closing before every chunk was delivered", "mode", d.cfg.hello.GetReliability().String(),
				"chunks", left, "err", ctx.Err())
			break
		}
		select {
		case <-ctx.Done():
		case <-d.out.changed:
		}
	}
	d.cancel()
	d.wg.Wait()
	d.retire(errStopped)
	d.out.settleRound() // acks that came after the settler's last round
	d.publishLatency()
	return d.out.finish()
}
