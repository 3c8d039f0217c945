package agent

import (
	"context"
	"fmt"
)

// strategy is what a delivery mode decides in the outbox: where a sealed chunk is kept, what
// becomes of the queue while no collector answers and of the chunks a failed stream had in
// flight, and what is left when the sink closes. The outbox never holds its lock while a
// strategy writes to the log, which may wait for room.
type strategy interface {
	// accept takes a chunk just sealed and reports whether it joins the queue; down and
	// queued are the outbox's state when it came.
	accept(ctx context.Context, o *outbox, it *item, down bool, queued int) (bool, error)
	// unreachable deals with the queue while no collector takes chunks; it returns the
	// chunks that leave the queue.
	unreachable(o *outbox, queue []*item) (gone []*item)
	// lost deals with the chunks a failed stream had in flight.
	lost(o *outbox, its []*item)
	// rest deals with what is queued when the sink closes.
	rest(o *outbox, queue []*item) error
	// renumbers says chunks get a new wire number each time they are sent: only end-to-end
	// chunks keep theirs, by which the commit point knows them.
	renumbers() bool
	// waits says a closing sink waits for its chunks even while no collector answers.
	waits() bool
}

// memCache is how many queued chunks keep their events in memory while the log or spool also
// has them; the others are read back from it when they are sent. It is the end-to-end window:
// a steady stream reads nothing back (8 % more lines a second than with 4, for 1 MiB more).
const memCache = 12

// endToEnd writes every chunk to the write-ahead log before it is queued; a chunk is sent only
// once durable there, and stays there until a collector acks it, which it does once the commit
// point holds it. Nothing is dropped: while no collector answers the log grows (up to its cap,
// then Append waits) and what is left at close is sent by the next flow of the logical node.
type endToEnd struct{}

func (endToEnd) accept(ctx context.Context, o *outbox, it *item, _ bool, queued int) (bool, error) {
	it.logSeq = it.order
	p, err := o.logChunk(ctx, it.order, it.req, it.pos)
	if err != nil {
		if ctx.Err() != nil {
			return false, err
		}
		return false, fmt.Errorf("%w: %w", errOutboxFailed, err)
	}
	it.pending = p
	if queued >= memCache {
		it.req = nil // the log has it
	}
	return true, nil
}

func (endToEnd) unreachable(*outbox, []*item) []*item { return nil }

func (endToEnd) lost(o *outbox, its []*item) {
	o.m.retries.Add(int64(len(its)))
	o.requeue(its...)
}

func (endToEnd) rest(*outbox, []*item) error { return nil }
func (endToEnd) renumbers() bool             { return false }
func (endToEnd) waits() bool                 { return true }

// diskFailover sends chunks from memory and acks them per hop; while no collector takes them
// they are spooled to the log and sent once one is back, and what is left at close stays in the
// spool for the next flow of the logical node.
type diskFailover struct{}

func (diskFailover) accept(ctx context.Context, o *outbox, it *item, down bool, queued int) (bool, error) {
	if down || queued >= memCache {
		if err := spool(ctx, o, it); err != nil {
			return false, err
		}
	}
	return true, nil
}

func (diskFailover) unreachable(o *outbox, queue []*item) []*item {
	for _, it := range queue {
		if err := spool(context.Background(), o, it); err != nil {
			o.lg.Error("spool", "err", err)
		}
	}
	return nil
}

func (diskFailover) lost(o *outbox, its []*item) {
	o.m.retries.Add(int64(len(its)))
	o.requeue(its...)
}

func (diskFailover) rest(o *outbox, queue []*item) error {
	var err error
	for _, it := range queue {
		if e := spool(context.Background(), o, it); e != nil && err == nil {
			err = e
		}
	}
	return err
}

func (diskFailover) renumbers() bool { return true }
func (diskFailover) waits() bool     { return false }

// spool writes a chunk to the spool, which numbers its chunks itself, in the order they are
// spooled: chunks reach it out of their sealed order (a chunk in flight is spooled after later
// ones when its collector fails), and each gets a new wire number when it is sent.
func spool(ctx context.Context, o *outbox, it *item) error {
	if it.spooled || it.req == nil {
		return nil
	}
	// Numbers are given and appended in one turn: the spool takes them in order.
	o.spoolMu.Lock()
	defer o.spoolMu.Unlock()
	seq := max(o.spoolSeq+1, o.log.NextSeq())
	p, err := o.logChunk(ctx, seq, it.req, it.pos)
	if err != nil {
		return fmt.Errorf("spool chunk: %w", err)
	}
	o.spoolSeq = seq
	// The spool syncs in the background; the chunk is read back once it is written.
	it.logSeq, it.spooled, it.req, it.pending = seq, true, nil, p
	o.m.spooled.Inc()
	return nil
}

// bestEffort sends chunks from memory and acks them per hop; what no collector takes is
// dropped and counted.
type bestEffort struct{}

func (bestEffort) accept(_ context.Context, o *outbox, it *item, down bool, _ int) (bool, error) {
	if down {
		o.drop(it)
		return false, nil
	}
	return true, nil
}

func (bestEffort) unreachable(o *outbox, queue []*item) []*item {
	for _, it := range queue {
		o.drop(it)
	}
	return queue
}

func (bestEffort) lost(o *outbox, its []*item) {
	for _, it := range its {
		o.drop(it)
	}
}

func (bestEffort) rest(o *outbox, queue []*item) error {
	for _, it := range queue {
		o.drop(it)
	}
	return nil
}

func (bestEffort) renumbers() bool { return true }
func (bestEffort) waits() bool     { return false }
