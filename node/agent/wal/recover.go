package wal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
)

// recover scans every segment into the index. It runs in Open, before the writer starts.
func (l *Log) recover() error {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("open wal: %w", err)
	}
	var bases []uint64
	for _, e := range entries {
		if base, ok := parseSegName(e.Name()); ok && e.Type().IsRegular() {
			bases = append(bases, base)
		}
	}
	slices.Sort(bases)
	l.nextSeq = 1
	var ranges []seqRange
	for i, base := range bases {
		seg := &segment{base: base, path: filepath.Join(l.dir, segName(base))}
		rs := &recoveryScan{l: l, seg: seg, last: i == len(bases)-1, ranges: ranges}
		if err := rs.run(); err != nil {
			return fmt.Errorf("open wal: recover %s: %w", seg.path, err)
		}
		ranges = rs.ranges
		l.segs = append(l.segs, seg)
		l.diskBytes += seg.size
		l.nextSeq = max(l.nextSeq, base, rs.hiSeq)
	}
	return nil
}

// recoveryScan recovers one segment.
type recoveryScan struct {
	l      *Log
	seg    *segment
	last   bool
	hiSeq  uint64 // one above the highest seq seen, damaged records included
	ranges []seqRange

	goodEnd            int64 // end of the last valid record
	badRecs, badBytes  int64 // damaged records since goodEnd, not yet counted
	skipped, skipBytes int64 // totals, for the report
}

func (rs *recoveryScan) run() error {
	flag := os.O_RDONLY
	if rs.last {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(rs.seg.path, flag, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	hdr := make([]byte, segHeaderSize)
	n, err := io.ReadFull(f, hdr)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return err
	}
	base, err := parseSegHeader(hdr[:n])
	switch {
	case errors.Is(err, ErrVersion):
		return err
	case err != nil:
		return rs.badHeader(size, err)
	case base != rs.seg.base:
		return fmt.Errorf("%w: header names base seq %d", ErrCorrupt, base)
	}
	rs.goodEnd = segHeaderSize
	if err := rs.scan(newScanner(f, segHeaderSize, size)); err != nil {
		return err
	}
	return rs.finish(f, size)
}

// badHeader handles a segment whose header cannot be read. Its records cannot be trusted, so
// the whole file counts as cut; the last segment is rewritten with a fresh header (a segment
// created just before a crash), an older one is left for collect to delete.
func (rs *recoveryScan) badHeader(size int64, cause error) error {
	l := rs.l
	if size > 0 {
		l.m.truncRecs.Inc()
		l.m.truncBytes.Add(size)
	}
	lvl := slog.LevelError
	if errors.Is(cause, errNoHeader) {
		lvl = slog.LevelWarn // a segment created just before a crash
	}
	l.report(lvl, "wal segment header unreadable: segment skipped",
		"segment", rs.seg.path, "bytes", size, "err", cause)
	rs.seg.size = size
	if rs.last {
		rs.seg.size = 0 // openActive rewrites it
	}
	return nil
}

// scan reads the records, applying the valid ones, until the end of the segment or a record that
// ends it.
func (rs *recoveryScan) scan(sc *scanner) error {
	for {
		rec, err := sc.next()
		switch {
		case err == nil:
			rs.flushBad()
			if err := rs.apply(rec); err != nil {
				rs.skip(rec, err)
			}
			rs.goodEnd = sc.off
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, errBadPayload):
			if rec.typ == recChunk && rec.seq >= rs.hiSeq {
				rs.hiSeq = rec.seq + 1
			}
			rs.badRecs++
			rs.badBytes += rec.size
		case errors.Is(err, errTorn), errors.Is(err, errBadHeader):
			if errors.Is(err, errTorn) && rec.typ == recChunk && rec.seq >= rs.hiSeq {
				rs.hiSeq = rec.seq + 1 // its header was whole: never reuse its seq
			}
			rs.badRecs++ // the record that ends the segment
			return nil
		default:
			return err
		}
	}
}

// flushBad reports the damaged records skipped between two valid ones.
func (rs *recoveryScan) flushBad() {
	if rs.badRecs == 0 {
		return
	}
	rs.skipped += rs.badRecs
	rs.skipBytes += rs.badBytes
	rs.l.m.truncRecs.Add(rs.badRecs)
	rs.l.m.truncBytes.Add(rs.badBytes)
	rs.badRecs, rs.badBytes = 0, 0
}

// skip counts a record that passed its checksums but does not make sense (a malformed payload,
// an unknown type, a seq out of order): written by a faulty build, it is reported and ignored,
// never delivered.
func (rs *recoveryScan) skip(rec record, err error) {
	if rec.typ == recChunk && rec.seq >= rs.hiSeq {
		rs.hiSeq = rec.seq + 1
	}
	rs.skipped++
	rs.skipBytes += rec.size
	rs.l.m.truncRecs.Inc()
	rs.l.m.truncBytes.Add(rec.size)
	rs.l.report(slog.LevelError, "wal record skipped", "segment", rs.seg.path,
		"offset", rec.off, "err", err)
}

// apply indexes one valid record.
func (rs *recoveryScan) apply(rec record) error {
	l := rs.l
	switch rec.typ {
	case recChunk:
		c, err := decodeChunk(rec)
		if err != nil {
			return err
		}
		if c.Seq < rs.hiSeq || c.Seq < l.nextSeq {
			return fmt.Errorf("%w: chunk seq %d at offset %d is not above the seqs before it",
				ErrCorrupt, c.Seq, rec.off)
		}
		rs.hiSeq = c.Seq + 1
		l.idx.add(&chunkInfo{seq: c.Seq, count: c.Count, created: c.Created,
			size: len(c.Data), off: rec.off, seg: rs.seg})
	case recRelease:
		var err error
		if rs.ranges, err = decodeRelease(rs.ranges[:0], rec); err != nil {
			return err
		}
		for _, r := range rs.ranges {
			l.idx.inRange(r.first, r.last, func(c *chunkInfo) { l.idx.release(c, rs.seg) })
		}
	default:
		return fmt.Errorf("%w: unknown record type %d at offset %d", ErrCorrupt, rec.typ, rec.off)
	}
	return nil
}

// finish cuts the damaged tail: truncated in the last segment, skipped in an older one.
func (rs *recoveryScan) finish(f *os.File, size int64) error {
	l := rs.l
	tail := size - rs.goodEnd
	rs.seg.size = size
	if tail > 0 {
		l.m.truncRecs.Add(rs.badRecs)
		l.m.truncBytes.Add(tail)
		rs.skipped += rs.badRecs
		rs.skipBytes += tail
	}
	if rs.skipped > 0 {
		what := "wal segment damaged: records skipped"
		if rs.last && tail > 0 {
			what = "wal tail torn or damaged: truncated"
		}
		l.report(slog.LevelError, what, "segment", rs.seg.path, "records", rs.skipped,
			"bytes", rs.skipBytes, "valid_end", rs.goodEnd)
	}
	if !rs.last || tail == 0 {
		return nil
	}
	if err := f.Truncate(rs.goodEnd); err != nil {
		return fmt.Errorf("truncate torn tail: %w", err)
	}
	if !l.opts.NoSync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sync after truncating torn tail: %w", err)
		}
	}
	rs.seg.size = rs.goodEnd
	return nil
}

// report logs a recovery finding.
func (l *Log) report(level slog.Level, msg string, args ...any) {
	l.log.Log(context.Background(), level, msg, append([]any{"dir", l.dir}, args...)...)
}

// openActive opens the last segment for writing, creating the first one of a new log and
// rewriting the header of one cut before its header was synced.
func (l *Log) openActive() error {
	if len(l.segs) == 0 {
		return l.rotate(l.nextSeq)
	}
	seg := l.segs[len(l.segs)-1]
	f, err := os.OpenFile(seg.path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open wal: %w", err)
	}
	if seg.size == 0 {
		if err := l.writeHeader(f, seg); err != nil {
			f.Close()
			return fmt.Errorf("open wal: rewrite header of %s: %w", seg.path, err)
		}
	}
	l.active = f
	l.hiSeq = l.nextSeq
	return nil
}

// writeHeader writes a fresh header into the empty or headerless segment seg and syncs it.
func (l *Log) writeHeader(f *os.File, seg *segment) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(appendSegHeader(nil, seg.base), 0); err != nil {
		return err
	}
	if !l.opts.NoSync {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	l.diskBytes += segHeaderSize
	seg.size = segHeaderSize
	return nil
}
