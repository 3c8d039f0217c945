package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// maxBatchBytes bounds one group commit's write; a group keeps at least one op whatever its
// size.
const maxBatchBytes = 8 << 20

// noSpaceRetry is how often the writer tries again a write that failed for lack of space.
const noSpaceRetry = time.Second

// run is the writer goroutine: it owns the segment files. Each turn it takes what is queued,
// writes it with one vectored write (pwritev(2)), syncs it with one fdatasync(2), then completes
// the group. Close stops it after the queue is drained.
func (l *Log) run() {
	defer close(l.done)
	for {
		if ops := l.take(); len(ops) > 0 {
			l.commit(ops)
			continue
		}
		select {
		case <-l.kick:
		case <-l.stop:
			if ops := l.take(); len(ops) > 0 {
				l.commit(ops)
				continue
			}
			return
		}
	}
}

// take removes a group of ops from the queue: all of it, or the prefix that fills
// maxBatchBytes.
func (l *Log) take() []*op {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, bytes := 0, int64(0)
	for n < len(l.queue) && (n == 0 || bytes+l.queue[n].rec <= maxBatchBytes) {
		bytes += l.queue[n].rec
		n++
	}
	ops := make([]*op, n)
	copy(ops, l.queue)
	rest := copy(l.queue, l.queue[n:])
	clear(l.queue[rest:])
	l.queue = l.queue[:rest]
	return ops
}

// commit makes one group durable and completes it.
func (l *Log) commit(ops []*op) {
	l.mu.Lock()
	failed := l.failed
	l.mu.Unlock()
	if failed != nil {
		l.complete(ops, failed)
		return
	}
	l.prepare(ops)
	var off int64
	for {
		var err error
		if off, err = l.writeGroup(); err == nil {
			break
		}
		if !retryable(err) {
			l.grp.reset()
			l.fail(err)
			l.complete(ops, err)
			return
		}
		if !l.waitForSpace(err) {
			l.grp.reset()
			l.complete(ops, fmt.Errorf("%w before a write could succeed: %w", ErrClosed, err))
			return
		}
	}
	l.grp.reset() // written: keep no reference to the chunks' bytes
	// Appends complete as soon as they are durable; releases after the segments they emptied
	// are deleted, so that a caller who releases and then looks at State sees the space freed.
	releases := l.apply(ops, off)
	if err := l.collect(false); err != nil {
		if retryable(err) {
			l.log.Warn("wal: deleting released segments postponed", "dir", l.dir, "err", err)
		} else {
			l.fail(err)
		}
	}
	l.complete(releases, nil)
}

// prepare gathers the group's records into grp, the chunks' bytes by reference, and resolves
// its releases. A released chunk is marked in memory at once (its segment may then be deleted,
// which is safe: a deleted chunk cannot come back); its release record counts once synced.
func (l *Log) prepare(ops []*op) {
	parts, small := 0, 0
	for _, o := range ops {
		switch o.kind {
		case opAppend:
			p, s := chunkParts(&o.chunk)
			parts, small = parts+p, small+s
		case opRelease: // at most one range a seq
			parts, small = parts+1, small+releaseRecordSize(len(o.seqs))
		}
	}
	l.grp.grow(parts, small)
	var fresh []*chunkInfo // the group's appends, ascending
	for _, o := range ops {
		switch o.kind {
		case opAppend:
			c := &o.chunk
			o.info = &chunkInfo{seq: c.Seq, count: c.Count, created: c.Created,
				size: len(c.Head) + len(c.Data), off: l.grp.size}
			l.grp.addChunk(c)
			fresh = append(fresh, o.info)
		case opRelease:
			l.resolve(o, fresh)
			if len(o.released) == 0 {
				continue
			}
			seqs := make([]uint64, len(o.released))
			for i, c := range o.released {
				seqs[i] = c.seq
			}
			l.grp.addRelease(toRanges(nil, seqs))
		}
	}
}

// resolve finds the chunks a release names, among the indexed ones and those of the group.
func (l *Log) resolve(o *op, fresh []*chunkInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	j := 0
	for _, s := range o.seqs {
		if c := l.idx.find(s); c != nil {
			if !c.released {
				l.idx.release(c, nil)
				o.released = append(o.released, c)
			}
			continue
		}
		for j < len(fresh) && fresh[j].seq < s {
			j++
		}
		if j < len(fresh) && fresh[j].seq == s && !fresh[j].released {
			fresh[j].released = true
			o.released = append(o.released, fresh[j])
		}
	}
}

// writeGroup writes grp at the end of the active segment, rotating first if it is full, and
// syncs it. It returns where the group starts.
func (l *Log) writeGroup() (int64, error) {
	if l.grp.size == 0 {
		return 0, nil // barriers only: earlier groups are already durable
	}
	if seg := l.activeSeg(); seg.size >= l.opts.SegmentBytes && seg.chunks > 0 {
		if err := l.rotate(l.hiSeq); err != nil {
			return 0, err
		}
	}
	return l.writeSync(l.grp.parts)
}

// retryable says a write error is a lack of space, which left nothing behind and may pass.
func retryable(err error) bool { return isNoSpace(err) && !errors.Is(err, errSync) }

// errSync marks a failed fsync: the kernel may have dropped the dirty pages, so nothing written
// since the last good sync can be trusted and the log stops.
var errSync = errors.New("sync failed")

// writeSync appends parts, back to back, to the active segment with one vectored write and
// syncs them. A failed write is cut off again.
func (l *Log) writeSync(parts [][]byte) (int64, error) {
	seg := l.activeSeg()
	off := seg.size
	n, err := int64(0), error(nil)
	if fault := l.faultWrite.Load(); fault != nil {
		err = (*fault)()
	}
	if err == nil {
		n, err = writeVec(l.active, parts, off)
	}
	if err != nil {
		if terr := l.active.Truncate(off); terr != nil {
			return 0, fmt.Errorf("write %s: %w; cutting the partial write: %w", seg.path, err, terr)
		}
		return 0, fmt.Errorf("write %s: %w", seg.path, err)
	}
	if !l.opts.NoSync {
		if err := datasync(l.active); err != nil {
			return 0, fmt.Errorf("%w: %w", errSync, err)
		}
		l.m.fsyncs.Inc()
	}
	l.m.bytes.Add(n)
	l.mu.Lock()
	seg.size += n
	l.diskBytes += n
	l.noSpace = ""
	l.updateGauges()
	l.mu.Unlock()
	return off, nil
}

func (l *Log) activeSeg() *segment { return l.segs[len(l.segs)-1] }

// apply indexes a durable group and completes its appends and barriers; it returns its
// releases, which the caller completes.
func (l *Log) apply(ops []*op, off int64) (releases []*op) {
	seg := l.activeSeg()
	released := 0
	rest := make([]*op, 0, len(ops))
	l.mu.Lock()
	for _, o := range ops {
		switch o.kind {
		case opAppend:
			o.info.seg = seg
			o.info.off += off
			l.idx.add(o.info)
			l.hiSeq = max(l.hiSeq, o.info.seq+1)
		case opRelease:
			for _, c := range o.released {
				c.rel = seg
			}
			released += len(o.released)
			releases = append(releases, o)
			continue
		}
		rest = append(rest, o)
	}
	l.mu.Unlock()
	l.m.released.Add(int64(released))
	l.complete(rest, nil)
	return releases
}

// complete finishes ops with err and frees their queue room.
func (l *Log) complete(ops []*op, err error) {
	l.mu.Lock()
	for _, o := range ops {
		if o.kind == opAppend {
			l.queueBytes -= o.dataBytes()
			l.queuedRecs -= o.rec
			l.queuedCount--
			o.chunk.Head, o.chunk.Data = nil, nil
		}
	}
	l.wakeWaitersLocked()
	l.mu.Unlock()
	for _, o := range ops {
		o.err = err
		close(o.done)
	}
}

// fail stops the log for good.
func (l *Log) fail(err error) {
	l.log.Error("wal failed: appends refused until reopened", "dir", l.dir, "err", err)
	l.mu.Lock()
	if l.failed == nil {
		l.failed = fmt.Errorf("wal %q: %w", l.dir, err)
	}
	l.wakeWaitersLocked()
	l.mu.Unlock()
}

// waitForSpace holds the group back after a write found no space: appends wait (State says
// why), segments that need no write to delete are deleted, and the write is tried again after a
// while. It returns false if the log is closing.
func (l *Log) waitForSpace(err error) bool {
	l.mu.Lock()
	first := l.noSpace == ""
	l.noSpace = fmt.Sprintf("filesystem full: %v", err)
	l.mu.Unlock()
	if first {
		l.log.Error("wal: no space left; appends wait until space is freed", "dir", l.dir, "err", err)
	}
	if err := l.collect(true); err != nil {
		l.log.Warn("wal: deleting released segments failed", "dir", l.dir, "err", err)
	}
	t := time.NewTimer(l.retryEvery)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.stop:
		return false
	}
}

// rotate starts a new active segment with base seq base: created, header written and synced,
// directory synced, so that records acknowledged in it are found after a crash.
func (l *Log) rotate(base uint64) error {
	path := filepath.Join(l.dir, segName(base))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	_, err = f.Write(appendSegHeader(nil, base))
	if err == nil && !l.opts.NoSync {
		if err = f.Sync(); err == nil {
			err = syncDir(l.dir)
		}
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("create segment %s: %w", path, err)
	}
	if l.active != nil {
		if err := l.active.Close(); err != nil {
			l.log.Warn("wal: closing a full segment", "dir", l.dir, "err", err)
		}
	}
	l.active = f
	l.mu.Lock()
	l.segs = append(l.segs, &segment{base: base, path: path, size: segHeaderSize})
	l.diskBytes += segHeaderSize
	l.updateGauges()
	l.mu.Unlock()
	return nil
}
