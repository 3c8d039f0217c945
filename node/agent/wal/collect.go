package wal

import (
	"errors"
	"fmt"
	"os"
	"slices"
)

// collect deletes the segments whose chunks are all released. It runs in the writer (or in
// Open, before the writer starts).
//
// A release record may sit in a later segment than its chunk, so before deleting a segment
// collect writes again, into the active segment, the release records it holds for chunks that
// live on elsewhere ("carry"), and syncs them. The active segment itself, once all its chunks
// are released, is replaced by a fresh one first. Deletions go oldest first with a directory
// sync after each: a release record is never older than its chunk, so no crash can leave a
// chunk on disk whose release record is gone.
//
// With noWrite (the disk is full), collect writes nothing: it skips the active segment and any
// segment whose deletion would need a carry.
func (l *Log) collect(noWrite bool) error {
	gone := l.collectable(noWrite)
	if len(gone) == 0 {
		return nil
	}
	goneSet := make(map[*segment]bool, len(gone))
	for _, s := range gone {
		goneSet[s] = true
	}
	carry := l.carries(goneSet)
	if noWrite {
		for len(carry) > 0 {
			for _, c := range carry {
				delete(goneSet, c.rel)
			}
			carry = l.carries(goneSet)
		}
		gone = slices.DeleteFunc(gone, func(s *segment) bool { return !goneSet[s] })
	}
	if goneSet[l.activeSeg()] {
		if err := l.rotate(l.hiSeq); err != nil {
			return err
		}
	}
	if len(carry) > 0 {
		if err := l.writeCarry(carry); err != nil {
			return err
		}
	}
	for _, s := range gone {
		if err := l.deleteSegment(s); err != nil {
			return err
		}
	}
	return nil
}

// collectable lists the segments whose chunks are all released, oldest first. The active one
// qualifies only if it holds chunks: one holding none has nothing to free.
func (l *Log) collectable(noWrite bool) []*segment {
	active := l.activeSeg()
	var gone []*segment
	for _, s := range l.segs {
		if s.live > 0 || (s == active && (s.chunks == 0 || noWrite)) {
			continue
		}
		gone = append(gone, s)
	}
	return gone
}

// carries lists the released chunks that outlive the segments in gone while their release
// record dies with one of them.
func (l *Log) carries(gone map[*segment]bool) []*chunkInfo {
	var carry []*chunkInfo
	for _, c := range l.idx.chunks {
		if c.released && c.rel != nil && gone[c.rel] && !gone[c.seg] {
			carry = append(carry, c)
		}
	}
	return carry
}

// writeCarry writes one release record for carry into the active segment and syncs it.
func (l *Log) writeCarry(carry []*chunkInfo) error {
	seqs := make([]uint64, len(carry))
	for i, c := range carry {
		seqs[i] = c.seq
	}
	rec := appendReleaseRecord(nil, toRanges(nil, seqs))
	if _, err := l.writeSync([][]byte{rec}); err != nil {
		return fmt.Errorf("carry release records forward: %w", err)
	}
	seg := l.activeSeg()
	l.mu.Lock()
	for _, c := range carry {
		c.rel = seg
	}
	l.mu.Unlock()
	return nil
}

// deleteSegment removes one segment file, syncs the directory and forgets the segment.
func (l *Log) deleteSegment(s *segment) error {
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete released segment: %w", err)
	}
	if !l.opts.NoSync {
		if err := syncDir(l.dir); err != nil {
			return fmt.Errorf("delete released segment %s: %w", s.path, err)
		}
	}
	l.mu.Lock()
	l.segs = slices.DeleteFunc(l.segs, func(x *segment) bool { return x == s })
	l.diskBytes -= s.size
	l.idx.drop(map[*segment]bool{s: true})
	l.updateGauges()
	l.wakeWaitersLocked()
	l.mu.Unlock()
	return nil
}
