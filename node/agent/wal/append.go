package wal

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"
)

// Pending is the outcome of an Append.
type Pending interface {
	// Done is closed once the chunk is durable (written and fsynced together with whatever
	// else was queued with it) or has failed.
	Done() <-chan struct{}
	// Err is nil once Done is closed and the chunk is durable; otherwise the failure. Before
	// Done is closed it returns nil.
	Err() error
}

type opKind uint8

const (
	opAppend opKind = iota + 1
	opRelease
	opBarrier
)

// op is one request to the writer; as an append's Pending it is handed to the caller.
type op struct {
	kind  opKind
	chunk Chunk // opAppend; Head and Data are dropped once written
	rec   int64 // opAppend: record bytes
	info  *chunkInfo
	seqs  []uint64 // opRelease: ascending, unique

	released []*chunkInfo // opRelease: the chunks it releases, found by the writer
	done     chan struct{}
	err      error // set before done is closed
}

func (o *op) Done() <-chan struct{} { return o.done }

// dataBytes is the size of an append's data, Head and Data, which MaxQueueBytes bounds.
func (o *op) dataBytes() int64 { return o.rec - chunkRecordSize(0) }

func (o *op) Err() error {
	select {
	case <-o.done:
		return o.err
	default:
		return nil
	}
}

// fullPoll is how often an Append waiting on low free space measures it again: space freed by
// someone else sends no signal.
const fullPoll = 250 * time.Millisecond

// Append queues c and returns at once with a Pending that completes when c is durable. The log
// takes ownership of c.Head and c.Data: the caller must not change them after the call (it may
// drop them). They are written from where they lie, without a copy.
//
// c.Seq must be at least NextSeq (ErrOutOfOrder). When the log is at its cap or the
// filesystem is low on space, Append waits until Release frees space or ctx is done (counted
// in wal_full_waits, visible in State); it also waits while MaxQueueBytes of data are not yet
// written. It never drops or overwrites anything to make room.
func (l *Log) Append(ctx context.Context, c Chunk) (Pending, error) {
	size := len(c.Head) + len(c.Data)
	if size > maxPayload-chunkFixedSize {
		return nil, fmt.Errorf("wal append seq %d: %w: %d bytes", c.Seq, ErrTooLarge, size)
	}
	o := &op{kind: opAppend, chunk: c, rec: chunkRecordSize(size), done: make(chan struct{})}
	l.mu.Lock()
	if err := l.admitLocked(ctx, o); err != nil {
		l.mu.Unlock()
		return nil, err
	}
	l.nextSeq = c.Seq + 1
	l.queue = append(l.queue, o)
	l.queueBytes += int64(size)
	l.queuedRecs += o.rec
	l.queuedCount++
	l.mu.Unlock()
	l.m.appends.Inc()
	l.wake()
	return o, nil
}

// admitLocked waits, with mu held (released while it sleeps), until o may be queued.
func (l *Log) admitLocked(ctx context.Context, o *op) error {
	counted := false
	for {
		switch {
		case l.closing:
			return ErrClosed
		case l.failed != nil:
			return l.failed
		case o.chunk.Seq < l.nextSeq:
			return fmt.Errorf("wal append seq %d: %w: the log has seen seqs below %d",
				o.chunk.Seq, ErrOutOfOrder, l.nextSeq)
		}
		reason := l.fullLocked(o.rec)
		queueFull := l.queueBytes > 0 && l.queueBytes+o.dataBytes() > l.opts.MaxQueueBytes
		if reason == "" && !queueFull {
			if !l.fullSince.IsZero() && l.waiting == 0 {
				l.log.Info("wal no longer full: appends resume", "dir", l.dir,
					"after", time.Since(l.fullSince).Round(time.Millisecond))
				l.fullSince = time.Time{}
			}
			return nil
		}
		if reason != "" {
			if !counted {
				counted = true
				l.m.fullWaits.Inc()
			}
			if l.fullSince.IsZero() {
				l.fullSince = time.Now()
				l.log.Warn("wal full: appends wait", "dir", l.dir, "reason", reason)
			}
			l.waiting++
			l.waitReason = reason
		}
		ch := l.spaceCh
		l.mu.Unlock()
		t := time.NewTimer(fullPoll)
		select {
		case <-ctx.Done():
		case <-ch:
		case <-t.C:
		}
		t.Stop()
		l.mu.Lock()
		if reason != "" {
			l.waiting--
		}
		if ctx.Err() != nil {
			return fmt.Errorf("wal append seq %d: %w", o.chunk.Seq, context.Cause(ctx))
		}
	}
}

// fullLocked says why a record of rec bytes would not fit now, or "" if it fits.
func (l *Log) fullLocked(rec int64) string {
	if l.noSpace != "" {
		return l.noSpace
	}
	used := l.diskBytes + l.queuedRecs
	if l.opts.MaxBytes > 0 && used+rec > l.opts.MaxBytes && (l.idx.live > 0 || l.queuedCount > 0) {
		return "cap " + formatBytes(l.opts.MaxBytes) + " reached"
	}
	if l.opts.MinFreeBytes > 0 {
		free, err := l.freeSpace(l.dir)
		if err == nil && free-l.queuedRecs-rec < l.opts.MinFreeBytes {
			return "filesystem has " + formatBytes(max(free, 0)) + " free, below " +
				formatBytes(l.opts.MinFreeBytes)
		}
	}
	return ""
}

// Sync waits until everything appended and released so far is durable, or ctx is done.
func (l *Log) Sync(ctx context.Context) error {
	o := &op{kind: opBarrier, done: make(chan struct{})}
	if err := l.enqueue(o); err != nil {
		return err
	}
	select {
	case <-o.done:
		return o.err
	case <-ctx.Done():
		return l.errContext(ctx)
	}
}

// Release forgets the chunks with the given seqs: they are committed downstream. It returns
// once the release is durable, so a restart does not resend them. Seqs the log does not hold
// (never appended, released before, or lost) are ignored: acknowledgements may repeat. A
// segment whose chunks are all released is deleted, which lets a waiting Append go on.
func (l *Log) Release(seqs ...uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	seqs = slices.Clone(seqs)
	slices.Sort(seqs)
	o := &op{kind: opRelease, seqs: slices.Compact(seqs), done: make(chan struct{})}
	if err := l.enqueue(o); err != nil {
		return err
	}
	<-o.done
	return o.err
}

// enqueue queues a release or a barrier; those never wait for space, since they are what frees it.
func (l *Log) enqueue(o *op) error {
	l.mu.Lock()
	switch {
	case l.closing:
		l.mu.Unlock()
		return ErrClosed
	case l.failed != nil:
		err := l.failed
		l.mu.Unlock()
		return err
	}
	l.queue = append(l.queue, o)
	l.mu.Unlock()
	l.wake()
	return nil
}

// wake nudges the writer.
func (l *Log) wake() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// ReleasedThrough returns the highest sequence number at and below which every chunk appended
// to the log is released. A chunk queued or being written counts as not released: Append has
// taken its seq, and it is not indexed yet.
func (l *Log) ReleasedThrough() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hiSeq == 0 {
		return 0
	}
	// Chunks are written in seq order: those not indexed yet are all at or above hiSeq.
	through := l.hiSeq - 1
	if seq, ok := l.idx.firstUnreleased(); ok {
		through = min(through, seq-1)
	}
	return through
}

// Unreleased returns every durable chunk not released, in seq order.
func (l *Log) Unreleased() []ChunkRef {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.idx.unreleased()
}

// Read reads a durable, unreleased chunk back from disk, verifying its checksum; the returned
// Data is the caller's, and holds the chunk's Head and Data joined (Head is nil). It returns
// ErrReleased or ErrNotFound for a chunk that needs no resend, and ErrCorrupt if the stored
// bytes no longer match their checksum.
func (l *Log) Read(seq uint64) (Chunk, error) {
	l.mu.Lock()
	c := l.idx.find(seq)
	if c == nil {
		l.mu.Unlock()
		return Chunk{}, fmt.Errorf("wal read seq %d: %w", seq, ErrNotFound)
	}
	if c.released {
		l.mu.Unlock()
		return Chunk{}, fmt.Errorf("wal read seq %d: %w", seq, ErrReleased)
	}
	path, off, size := c.seg.path, c.off, c.size
	l.mu.Unlock()

	f, err := os.Open(path)
	if os.IsNotExist(err) {
		// Found above, gone now: released and its segment deleted in between.
		return Chunk{}, fmt.Errorf("wal read seq %d: %w", seq, ErrReleased)
	}
	if err != nil {
		return Chunk{}, fmt.Errorf("wal read seq %d: %w", seq, err)
	}
	defer f.Close()
	buf := make([]byte, chunkRecordSize(size))
	if _, err := f.ReadAt(buf, off); err != nil {
		return Chunk{}, fmt.Errorf("wal read seq %d from %s at %d: %w", seq, path, off, err)
	}
	rec, err := parseRecord(buf)
	if err == nil && (rec.typ != recChunk || rec.seq != seq) {
		err = fmt.Errorf("%w: record at offset %d is type %d seq %d", ErrCorrupt, off, rec.typ, rec.seq)
	}
	if err != nil {
		return Chunk{}, fmt.Errorf("wal read seq %d from %s: %w", seq, path, err)
	}
	return decodeChunk(rec)
}

// formatBytes renders n in binary units the way State reasons read: "1.0 GiB", "12 MiB".
func formatBytes(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v < 10 {
		return fmt.Sprintf("%.1f %ciB", v, units[i])
	}
	return fmt.Sprintf("%.0f %ciB", v, units[i])
}
