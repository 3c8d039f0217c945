package agent

import (
	"context"
	"errors"
	"slices"
	"time"

	flumev1 "github.com/flumego/flume/proto/flume/v1"
	"github.com/flumego/flume/wire"
)

// readAcks takes the acks of one stream until it ends.
func (d *sender) readAcks(st *wire.Stream, target int, done chan struct{}) {
	defer close(done)
	for ack := range st.Acks() {
		d.onAck(ack, target)
	}
}

func (d *sender) onAck(ack *flumev1.AppendResponse, target int) {
	it, ok := d.out.acked(ack.GetSeq())
	if !ok {
		return
	}
	switch ack.GetStatus() {
	case flumev1.AckStatus_ACK_STATUS_OK, flumev1.AckStatus_ACK_STATUS_DUPLICATE:
		if ack.GetStatus() == flumev1.AckStatus_ACK_STATUS_DUPLICATE {
			d.cfg.m.duplicates.Inc()
		}
		d.cfg.m.batchesAcked.Inc()
		d.out.settled(it)
		d.mu.Lock()
		d.backoff[target] = d.cfg.backoffInitial
		d.retryB.Reset()
		d.pauseUntil, d.retryNote = time.Time{}, ""
		if it.created != 0 {
			d.sample(time.Since(time.Unix(0, it.created)))
		}
		d.mu.Unlock()
	case flumev1.AckStatus_ACK_STATUS_RETRY:
		// The collector could not take the chunk now (its disk is full, a chunk before it
		// was a duplicate): the stream pauses, longer at each round, so that a collector in
		// trouble is not flooded.
		d.cfg.m.retries.Inc()
		d.mu.Lock()
		if now := time.Now(); !now.Before(d.pauseUntil) {
			// The first RETRY of a round: the chunks in flight with it get the same pause.
			wait, _ := d.retryB.Next()
			d.pauseUntil = now.Add(wait)
			d.cfg.log.Warn("collector cannot take chunks now; pausing", "collector", d.cfg.targets[target],
				"pause", wait, "reason", ack.GetError())
		}
		d.retryNote = ack.GetError()
		d.mu.Unlock()
		d.retryLater(it)
	default:
		d.out.reject(it, errors.New(ack.GetError()))
	}
	notify(d.out.wake)
	notify(d.out.changed)
}

// settler settles acked chunks a round at a time until the sender stops, then the rest.
func (d *sender) settler() {
	defer d.wg.Done()
	for {
		select {
		case <-d.out.settle:
			d.out.settleRound()
		case <-d.ctx.Done():
			d.out.settleRound()
			return
		}
	}
}

func (d *sender) sample(lat time.Duration) {
	d.latency[d.latN%len(d.latency)] = lat.Microseconds()
	d.latN++
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

func (d *sender) publishLatency() {
	p50, p99 := d.percentiles()
	d.cfg.m.latencyP50.Set(p50)
	d.cfg.m.latencyP99.Set(p99)
}

// condition says why the sender holds the flow up, or "".
func (d *sender) condition() (note string, pause time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.retryNote, time.Until(d.pauseUntil)
}

// housekeeping publishes latencies every second and, end to end, tells the commit point which
// chunks the agent will never send again, so their commit records can go.
func (s *Sink) housekeeping(stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			s.releaseCommits()
			return
		case <-t.C:
		}
		s.snd.publishLatency()
		s.releaseCommits()
	}
}

func (s *Sink) releaseCommits() {
	if s.opts.Mode != EndToEnd || s.bc.Commits == nil {
		return
	}
	// Never a chunk that is still on its way into the log: its commit would be taken for a
	// duplicate of a released one.
	through := s.log.ReleasedThrough()
	if through <= s.released {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.bc.Commits.Release(ctx, s.agent, s.epoch, through); err != nil {
		s.bc.Log().Debug("release commit records", "through", through, "err", err)
		return
	}
	s.released = through
}

// AckLatency returns the median and 99th percentile of recent ack latencies.
func (s *Sink) AckLatency() (p50, p99 time.Duration) {
	if s.snd == nil {
		return 0, 0
	}
	a, b := s.snd.percentiles()
	return time.Duration(a) * time.Microsecond, time.Duration(b) * time.Microsecond
}
