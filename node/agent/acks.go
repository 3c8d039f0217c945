package agent

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/flumego/flume/collector/wire"
	"github.com/flumego/flume/node/agent/wal"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// readAcks takes the acks of one stream until it ends.
func (d *sender) readAcks(st *wire.Stream, target int, done chan struct{}) {
	defer close(done)
	for ack := range st.Acks() {
		d.onAck(ack, target)
	}
}

func (d *sender) onAck(ack *flumev1.AppendResponse, target int) {
	d.mu.Lock()
	it, ok := d.unacked[ack.GetSeq()]
	if ok {
		delete(d.unacked, ack.GetSeq())
	}
	d.s.metrics.inFlight.Set(int64(len(d.unacked)))
	d.mu.Unlock()
	if !ok {
		return
	}
	switch ack.GetStatus() {
	case flumev1.AckStatus_ACK_STATUS_OK, flumev1.AckStatus_ACK_STATUS_DUPLICATE:
		if ack.GetStatus() == flumev1.AckStatus_ACK_STATUS_DUPLICATE {
			d.s.metrics.duplicates.Add(1)
		}
		d.s.metrics.batchesAcked.Add(1)
		d.settled(it)
		d.mu.Lock()
		d.backoff[target] = d.s.opts.BackoffInitial
		d.retryB.Reset()
		d.pauseUntil, d.retryNote = time.Time{}, ""
		if it.req != nil {
			d.sample(time.Since(time.Unix(0, it.req.Created)))
		}
		d.mu.Unlock()
	case flumev1.AckStatus_ACK_STATUS_RETRY:
		// The collector could not take the chunk now (its disk is full, a chunk before it
		// was a duplicate): send it again after a pause, so a collector in trouble is not
		// flooded.
		d.s.metrics.retries.Add(1)
		d.mu.Lock()
		if now := time.Now(); !now.Before(d.pauseUntil) {
			// The first RETRY of a round: the chunks in flight with it get the same pause.
			wait, _ := d.retryB.Next()
			d.pauseUntil = now.Add(wait)
			d.s.bc.Log().Warn("collector cannot take chunks now; pausing", "collector", d.s.opts.Targets[target],
				"pause", wait, "reason", ack.GetError())
		}
		d.retryNote = ack.GetError()
		d.mu.Unlock()
		d.retryLater(it)
	default:
		d.reject(it, errors.New(ack.GetError()))
	}
	d.signal()
	d.notifyStop()
}

// settled forgets a chunk the collector has: its source position is kept, then it leaves the
// log. The settler does both for every chunk acked meanwhile at once, so that a stream of acks
// costs a write of the position file and a log release per round, not per chunk.
func (d *sender) settled(it *item) {
	if it.pos == nil && (d.s.log == nil || it.logSeq == 0) {
		return
	}
	d.mu.Lock()
	d.settling = append(d.settling, it)
	d.mu.Unlock()
	select {
	case d.settle <- struct{}{}:
	default:
	}
}

// settler settles acked chunks a round at a time until the sender stops, then the rest.
func (d *sender) settler() {
	defer d.wg.Done()
	for {
		select {
		case <-d.settle:
			d.settleRound()
		case <-d.ctx.Done():
			d.settleRound()
			return
		}
	}
}

// settleRound keeps the newest source position of the chunks acked since the last round,
// then releases them from the log: a chunk leaves the log only once a position at or past
// its events is kept, so a restart neither reads its events again nor misses them. If the
// position cannot be kept, the chunks stay in the log: a restart sends them again, and the
// commit point takes them for the duplicates they are.
func (d *sender) settleRound() {
	d.mu.Lock()
	its := d.settling
	d.settling = nil
	d.mu.Unlock()
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
		if err := d.s.keepPosition(newest.order, newest.pos); err != nil {
			d.s.bc.Log().Error("save the source position; the acked chunks stay in the log", "err", err)
			return
		}
	}
	if d.s.log == nil || len(seqs) == 0 {
		return
	}
	if err := d.s.log.Release(seqs...); err != nil && !errors.Is(err, wal.ErrReleased) {
		d.s.bc.Log().Error("release chunks from the log", "chunks", len(seqs), "err", err)
	}
}

// reject gives up a chunk no collector will take, or that cannot be read back from the log:
// it is counted and logged loudly, and released.
func (d *sender) reject(it *item, err error) {
	d.s.metrics.rejected.Add(1)
	d.s.metrics.dropped.Add(int64(it.count))
	d.s.bc.Log().Error("CHUNK DROPPED; its events are lost", "seq", it.seq, "events", it.count, "err", err)
	d.settled(it)
}

func (d *sender) sample(lat time.Duration) {
	d.latency[d.latN%len(d.latency)] = lat.Microseconds()
	d.latN++
}

// AckLatency returns the median and 99th percentile of recent ack latencies.
func (s *Sink) AckLatency() (p50, p99 time.Duration) {
	if s.snd == nil {
		return 0, 0
	}
	a, b := s.snd.percentiles()
	return time.Duration(a) * time.Microsecond, time.Duration(b) * time.Microsecond
}

func (d *sender) percentiles() (p50, p99 int64) {
	d.mu.Lock()
	n := min(d.latN, len(d.latency))
	xs := slices.Clone(d.latency[:n])
	d.mu.Unlock()
	if n == 0 {
		return 0, 0
	}
	slices.Sort(xs)
	return xs[n/2], xs[min(n-1, n*99/100)]
}

// housekeeping publishes latencies and tells the commit point which chunks the agent will
// never send again, so their commit records can go.
func (d *sender) housekeeping() {
	defer d.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-d.ctx.Done():
			d.releaseCommits()
			return
		case <-t.C:
		}
		p50, p99 := d.percentiles()
		d.s.metrics.latencyP50.Set(p50)
		d.s.metrics.latencyP99.Set(p99)
		d.releaseCommits()
	}
}

func (d *sender) releaseCommits() {
	s := d.s
	if s.opts.Mode != EndToEnd || s.bc.Commits == nil {
		return
	}
	// Never a chunk that is still on its way into the log: its commit would be taken for a
	// duplicate of a released one.
	through := s.log.ReleasedThrough()
	d.mu.Lock()
	last := d.released
	d.mu.Unlock()
	if through <= last {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.bc.Commits.Release(ctx, s.agent, s.epoch, through); err != nil {
		s.bc.Log().Debug("release commit records", "through", through, "err", err)
		return
	}
	d.mu.Lock()
	d.released = through
	d.mu.Unlock()
}
