package sinks

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/flumego/flume/collector/store"
	"github.com/flumego/flume/commitpoint"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
)

// The collector's side of the end-to-end commit protocol (DESIGN.md §6.1).
//
// Every batch a collector sink takes is written to its bucket files at once, and recorded as
// pending with the byte ranges it wrote; events the storage refuses by their names go to the
// sink's dead-letter file instead, as part of the batch. A commit loop makes the pending
// batches durable (one fsync for all of them) and commits them, in write order, through the
// commit point (the masters): the chunk identity of each end-to-end batch, and for every batch
// the new committed length of each file it touched. Only then are the agents acked, whatever
// the reliability they asked for: a restart keeps exactly what is committed, so nothing acked
// is ever cut. A batch that came from no agent (another source feeding the sink) returns from
// Append once it is committed. Since commits follow write order, what is not committed is
// always the tail of each file: when the commit point refuses a chunk as committed already (a
// copy another collector, or this one, committed first), the collector truncates that chunk
// and everything written after it, acks the chunk as a duplicate and asks for the rest again.
// A collector that restarts truncates its unfinished files to their committed lengths; the
// agents send again what was cut.

const (
	// commitEvery is how long pending batches wait for company before a commit.
	commitEvery = 5 * time.Millisecond
	// maxPending bounds the batches written and not yet committed: beyond it Append waits,
	// so a slow commit point slows the agents instead of growing the collector's memory.
	maxPending = 512
	// commitTimeout bounds one commit attempt; a commit whose answer did not come is asked
	// again, which the commit point recognizes.
	commitTimeout = 30 * time.Second
)

// written is a batch in the files, not yet committed.
type written struct {
	chunk  *commitpoint.Chunk              // nil for a batch without chunk identity
	settle func(commitpoint.Result, error) // acks the batch's agent, or ends the Append waiting for it; nil once called
	wait   chan error                      // a batch without chunk: its Append waits here
	spans  []store.Span                    // in the sink's files
	dead   []store.Span                    // in its dead-letter files
	deadN  int                             // events set aside in the dead letters
	why    error                           // why the last of them was
}

// committer drives one collector sink's Writer through the commit protocol.
type committer struct {
	bc        *plugin.BuildContext
	log       commitpoint.Log
	collector string // the physical node
	identity  string // what the sink commits as (identity.go)
	root      string
	dead      *DeadLetter
	health    Health

	commitMu sync.Mutex // one commit at a time; taken before mu
	mu       sync.Mutex // pending, and Writer calls that must not interleave with a rollback
	space    *sync.Cond // signalled when pending shrinks
	pending  []*written
	failed   error    // a rollback that failed: the files are not as the commits say
	finished []string // finalized files whose committed lengths may be forgotten

	w    *store.Writer
	kick chan struct{}
	quit context.Context // ends when the sink closes: commits give up
	halt context.CancelFunc
	done chan struct{}

	commits, chunks, duplicates, stale, retried, rolledBack, writeErrors *metrics.Counter
	lastWriteErr                                                         time.Time // when a failed write was last logged
}

// newCommitter gives a collector sink the commit protocol when the node has a commit point;
// flows built only to be checked, and nodes without one, keep the plain sinks.
func newCommitter(bc *plugin.BuildContext) *committer {
	if bc.Validating || bc.Commits == nil {
		return nil
	}
	r := bc.Counters().Sub("commit")
	c := &committer{bc: bc, log: bc.Commits, collector: bc.PhysicalNode,
		commits: r.Counter("commits"), chunks: r.Counter("chunks_committed"),
		duplicates: r.Counter("duplicates_dropped"), stale: r.Counter("stale_chunks_refused"),
		retried: r.Counter("chunks_retried"), rolledBack: r.Counter("bytes_rolled_back"),
		writeErrors: r.Counter("write_errors")}
	c.identity = identity(bc)
	c.space = sync.NewCond(&c.mu)
	return c
}

// Condition says why batches are refused: the storage fails.
func (c *committer) Condition() string { return c.health.Note() }

// key is how the commit point names a file: its path on this host.
func (c *committer) key(file string) string { return filepath.Join(c.root, file) }

// open fetches the committed lengths of the collector's unfinished files (the commit point
// keeps them by physical node, whichever of its sinks asks).
func (c *committer) open(ctx context.Context, root string) (func(string) int64, error) {
	c.root = root
	lengths, err := c.log.FileLengths(ctx, c.identity)
	if err != nil {
		return nil, fmt.Errorf("committed file lengths: %w", err)
	}
	return func(file string) int64 {
		if n, ok := lengths[c.key(file)]; ok {
			return n
		}
		return store.KeepUnknown // nothing of it was committed
	}, nil
}

// start starts the commit loop over an open Writer (ManualSettle) and the dead letters, and
// returns the committer as the sink's files. recovered names the files Open recovered: their
// lengths are forgotten.
func (c *committer) start(w *store.Writer, dead *DeadLetter, recovered []string) files {
	c.w, c.dead = w, dead
	c.finished = nil
	c.finishedLocked(recovered)
	c.kick, c.done = make(chan struct{}, 1), make(chan struct{})
	c.quit, c.halt = context.WithCancel(context.Background())
	c.failed = nil
	go c.loop()
	return c
}

// Append writes the batch and records it as pending; its agent is acked once it is committed.
// A batch without chunk waits here until it is committed.
func (c *committer) Append(ctx context.Context, batch []*event.Event) error {
	c.mu.Lock()
	p, err := c.appendLocked(ctx, c.w, batch)
	c.mu.Unlock()
	if err != nil || p == nil || p.wait == nil {
		return err
	}
	select {
	case err := <-p.wait:
		return err
	case <-ctx.Done():
		// The batch stays pending, and is committed all the same unless a restart cuts it.
		return ctx.Err()
	}
}

// appendLocked writes the batch and records it as pending. It returns nil and no error for a
// chunk the files cannot take (the agent is told to send it again).
func (c *committer) appendLocked(ctx context.Context, w *store.Writer, batch []*event.Event) (*written, error) {
	chunk := commitpoint.ChunkFrom(ctx)
	if len(c.pending) >= maxPending {
		// A ctx that ends wakes the wait.
		stop := context.AfterFunc(ctx, func() {
			c.mu.Lock()
			c.space.Broadcast()
			c.mu.Unlock()
		})
		defer stop()
	}
	for len(c.pending) >= maxPending && c.failed == nil && ctx.Err() == nil {
		c.space.Wait()
	}
	if c.failed != nil {
		return nil, c.failed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	spans, skipped, err := w.WriteOrSkip(batch)
	for try := 0; errors.Is(err, store.ErrUnsettled) && try < 3; try++ {
		// Opening a file needs one finalized, and every other holds batches not committed
		// (too many open): commit them first, as the one commit in progress (commitMu,
		// taken before mu): a commit of the loop settles the batches it sent, which must
		// still be pending. A failed Write leaves nothing behind, so it can be done again.
		c.mu.Unlock()
		c.commitMu.Lock()
		c.mu.Lock()
		err = c.commitAllLocked(ctx)
		c.commitMu.Unlock()
		if err == nil {
			spans, skipped, err = w.WriteOrSkip(batch)
		}
	}
	var dead []store.Span
	if err == nil && len(skipped) > 0 {
		// The events the storage refuses by their names would be refused however often they
		// were sent: they are set aside, with the batch, and the rest of it goes on.
		if dead, err = c.dead.Write(batch, skipped, chunk); err != nil {
			if rerr := w.Rollback(spans); rerr != nil {
				c.failed = fmt.Errorf("cut a batch whose dead letters failed: %w", rerr)
				return nil, c.failed
			}
		}
	}
	if err != nil {
		if errors.Is(err, store.ErrClosed) {
			return nil, err
		}
		c.health.Set(err)
		c.writeErrors.Add(1)
		if chunk == nil {
			return nil, err
		}
		// The files could not take the batch (a full or read-only disk): nothing of it is in
		// them. Its agent sends it again later; the flow goes on, and takes batches again as
		// soon as the disk does.
		if time.Since(c.lastWriteErr) > 10*time.Second {
			c.lastWriteErr = time.Now()
			c.bc.Log().Error("COLLECTOR CANNOT WRITE; batches are refused until it can", "err", err)
		}
		chunk.Hold()(commitpoint.Retry, err)
		return nil, nil
	}
	c.health.Set(nil)
	p := &written{chunk: chunk, spans: spans, dead: dead, deadN: len(skipped)}
	if len(skipped) > 0 {
		p.why = skipped[len(skipped)-1].Err
	}
	if chunk != nil {
		// Every chunk waits for its commit, whatever its reliability: a best-effort or
		// disk-failover agent forgets a chunk once it is acked, so what is acked must survive
		// a restart, which keeps only what is committed.
		p.settle = chunk.Hold()
	} else {
		p.wait = make(chan error, 1)
		p.settle = func(r commitpoint.Result, err error) {
			if r == commitpoint.OK {
				err = nil
			} else if err == nil {
				err = errors.New("batch not committed")
			}
			select {
			case p.wait <- err:
			default: // told already
			}
		}
	}
	c.pending = append(c.pending, p)
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return p, nil
}

// loop commits pending batches until the sink closes.
func (c *committer) loop() {
	defer close(c.done)
	t := time.NewTicker(commitEvery)
	defer t.Stop()
	for {
		select {
		case <-c.quit.Done():
			return
		case <-c.kick:
		case <-t.C:
		}
		c.commitPending()
		c.finish()
	}
}

// commitPending makes the batches pending now durable and commits them, without holding c.mu
// during the fsync and the commit, so that Append goes on meanwhile.
func (c *committer) commitPending() {
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	c.mu.Lock()
	group := append([]*written(nil), c.pending...)
	c.mu.Unlock()
	if len(group) == 0 {
		return
	}
	if err := c.sync(); err != nil {
		c.mu.Lock()
		c.abortLocked(0, commitpoint.Retry, err)
		c.mu.Unlock()
		return
	}
	// Bounded, so that a roll or a close waiting for commitMu is not held up for as long as
	// the commit point is away: the batches stay pending, their agents send them again, and
	// the next round tries anew.
	ctx, cancel := context.WithTimeout(c.quit, commitTimeout)
	defer cancel()
	out, err := c.commit(ctx, group)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settleLocked(out, err)
}

// commitAllLocked commits every pending batch while holding c.mu (and so stopping Append):
// for a roll, a close, or a Write that must finalize a file.
func (c *committer) commitAllLocked(ctx context.Context) error {
	for len(c.pending) > 0 {
		if err := c.sync(); err != nil {
			c.abortLocked(0, commitpoint.Retry, err)
			return err
		}
		out, err := c.commit(ctx, c.pending)
		c.settleLocked(out, err)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return c.failed
}

// sync makes what was written durable: the sink's files and its dead letters.
func (c *committer) sync() error {
	err := errors.Join(c.w.Sync(), c.dead.Sync())
	if err != nil {
		c.health.Set(err)
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

// commit asks the commit point to commit the batches, in order. An attempt whose answer did not
// come is made again, until ctx ends or the sink stops: the commit point answers a repeated
// commit as it answered the first.
func (c *committer) commit(ctx context.Context, group []*written) (commitpoint.Outcome, error) {
	reqs := make([]commitpoint.Commit, len(group))
	for i, p := range group {
		if p.chunk != nil && p.chunk.Reliability == commitpoint.EndToEnd {
			reqs[i] = commitpoint.Commit{Agent: p.chunk.Agent, Epoch: p.chunk.Epoch, Seq: p.chunk.Seq}
		}
		for _, s := range slices.Concat(p.spans, p.dead) {
			reqs[i].Files = append(reqs[i].Files, commitpoint.FileLength{File: c.key(s.File), Length: s.To})
		}
	}
	backoff := 100 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, commitTimeout)
		out, err := c.log.Commit(actx, c.identity, reqs)
		cancel()
		if err == nil {
			c.commits.Add(1)
			return out, nil
		}
		c.bc.Log().Warn("commit failed; trying again", "chunks", len(reqs), "err", err)
		select {
		case <-c.quit.Done():
			return commitpoint.Outcome{}, fmt.Errorf("commit: %w", err)
		case <-ctx.Done():
			return commitpoint.Outcome{}, fmt.Errorf("commit: %w", err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// settleLocked applies a commit's outcome: the first batches are committed; at a duplicate or
// a stale chunk, that batch and everything written after it are cut from the files.
func (c *committer) settleLocked(out commitpoint.Outcome, err error) {
	if err != nil {
		// The commit point did not answer in time: the batches stay in the files,
		// uncommitted and pending, so no file holding them is finalized; their agents send
		// them again (here, or elsewhere), and a restart cuts them.
		for _, p := range c.pending {
			if p.settle != nil {
				p.settle(commitpoint.Retry, err)
				p.settle = nil
			}
		}
		return
	}
	n := out.Committed
	for _, p := range c.pending[:n] {
		c.w.Settle(p.spans)
		c.dead.Settle(p.dead)
		c.dead.Counted(p.deadN, p.why)
		if p.settle != nil {
			p.settle(commitpoint.OK, nil)
		}
	}
	c.chunks.Add(int64(n))
	c.pending = c.pending[n:]
	switch {
	case len(c.pending) == 0:
	case out.Duplicate:
		c.duplicates.Add(1)
		c.abortLocked(0, commitpoint.Duplicate, nil)
	case out.Stale:
		c.stale.Add(1)
		ch := c.pending[0].chunk
		c.bc.Log().Warn("refused a chunk of an old agent epoch", "agent", ch.Agent, "epoch", ch.Epoch, "seq", ch.Seq)
		c.abortLocked(0, commitpoint.Rejected, fmt.Errorf("agent %s epoch %d is stale: the agent has a newer epoch", ch.Agent, ch.Epoch))
	}
	c.space.Broadcast()
}

// abortLocked cuts pending batches from index i on out of the files, newest first so that each
// cut is a tail, and tells their agents: the first one gets first (with why), every other one
// is to be sent again.
func (c *committer) abortLocked(i int, first commitpoint.Result, why error) {
	for j := len(c.pending) - 1; j >= i; j-- {
		p := c.pending[j]
		if err := errors.Join(c.w.Rollback(p.spans), c.dead.Rollback(p.dead)); err != nil && c.failed == nil {
			c.failed = fmt.Errorf("cut uncommitted data: %w", err)
			c.bc.Log().Error("COLLECTOR FILES DIFFER FROM THEIR COMMITS; the sink stops", "err", err)
		}
		for _, s := range slices.Concat(p.spans, p.dead) {
			c.rolledBack.Add(s.To - s.From)
		}
		res, err := commitpoint.Retry, why
		if j == i {
			res = first
		} else {
			c.retried.Add(1)
			err = errors.New("a chunk before it was refused; send it again")
		}
		if p.settle != nil {
			p.settle(res, err)
		}
	}
	c.pending = c.pending[:i]
	c.space.Broadcast()
}

// finish tells the commit point which files were finalized.
func (c *committer) finish() {
	c.mu.Lock()
	files := c.finished
	c.finished = nil
	c.mu.Unlock()
	if len(files) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.log.FinishFiles(ctx, c.identity, files); err != nil {
		c.bc.Log().Debug("forget finished files", "files", len(files), "err", err)
	}
}

// Roll commits everything written, then finalizes every open file, the dead letters' too. When
// the commit point does not answer within commitTimeout the roll waits for the next period: the
// files stay open.
func (c *committer) Roll() error {
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(c.quit, commitTimeout)
	defer cancel()
	if err := c.commitAllLocked(ctx); err != nil {
		if c.failed != nil || c.quit.Err() != nil {
			return err
		}
		c.bc.Log().Warn("roll postponed: the commit point does not answer", "err", err)
		return nil
	}
	done, err := c.w.Roll()
	dead, derr := c.dead.Roll()
	c.finishedLocked(done, dead)
	return errors.Join(err, derr)
}

// Tidy finalizes the files that are full or idle and hold only committed data.
func (c *committer) Tidy() error {
	done, err := c.w.Tidy(time.Now())
	c.mu.Lock()
	c.finishedLocked(done)
	c.mu.Unlock()
	return err
}

// finishedLocked records files finalized: their committed lengths may be forgotten. A file
// whose rename failed is not among them: its length stays with the commit point, so a restart
// recovers it whole.
func (c *committer) finishedLocked(lists ...[]string) {
	for _, files := range lists {
		for _, f := range files {
			c.finished = append(c.finished, c.key(f))
		}
	}
}

// Halt makes the commits in progress, and those of a roll, give up: the sink is closing.
func (c *committer) Halt() { c.halt() }

// Close stops the loop, commits what is left (one attempt, within ctx: a commit point that
// does not answer does not hold the close up) and closes the Writer. Batches left uncommitted are
// handed back to their agents to send again, and their files stay unfinished: a restart cuts
// them to their committed lengths.
func (c *committer) Close(ctx context.Context) error {
	c.halt()
	<-c.done
	c.commitMu.Lock()
	c.mu.Lock()
	err := c.commitAllLocked(ctx)
	// The files of uncommitted batches stay unfinished (they are not settled).
	done, werr := c.w.Close()
	dead, derr := c.dead.Close()
	if len(c.pending) > 0 {
		werr, derr = ignoreUnsettled(werr), ignoreUnsettled(derr)
	}
	err = errors.Join(err, werr, derr)
	c.finishedLocked(done, dead)
	for _, p := range c.pending {
		if p.settle != nil {
			p.settle(commitpoint.Retry, errors.New("the collector sink closed before the chunk was committed"))
		}
	}
	c.pending = nil // a reopened sink starts afresh: its Open recovers the files
	c.space.Broadcast()
	c.mu.Unlock()
	c.commitMu.Unlock()
	c.finish()
	return err
}

// ignoreUnsettled drops store.ErrUnsettled from err: files left open for what was not
// committed are expected when the commit did not go through.
func ignoreUnsettled(err error) error {
	if errors.Is(err, store.ErrUnsettled) && !hasOther(err) {
		return nil
	}
	return err
}

// hasOther reports whether err, a join, holds an error other than ErrUnsettled.
func hasOther(err error) bool {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return !errors.Is(err, store.ErrUnsettled)
	}
	for _, e := range j.Unwrap() {
		if e != nil && hasOther(e) {
			return true
		}
	}
	return false
}
