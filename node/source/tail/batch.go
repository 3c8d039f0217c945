package tail

import (
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/source/internal/record"
)

// arenaSize is the room for the records of a batch that spans files: records of one file are
// copied there before the read buffer is given to the next file.
const arenaSize = 256 << 10

// batch is a reusable batch of events. Its Event structs are allocated once and overwritten by
// each round: an event is a copy of its file's template (host, priority, tailSrcFile) with a
// body and a time, so a batch allocates nothing per event whichever files its events come from.
type batch struct {
	slots   []event.Event
	evs     []*event.Event
	n       int
	bytes   int64
	stashed int // events [0, stashed) have their bodies in the arena, not in the read buffer
}

func newBatch(capacity int) *batch {
	b := &batch{slots: make([]event.Event, capacity), evs: make([]*event.Event, capacity)}
	for i := range b.slots {
		b.evs[i] = &b.slots[i]
	}
	return b
}

func (b *batch) reset()     { b.n, b.bytes, b.stashed = 0, 0, 0 }
func (b *batch) full() bool { return b.n == len(b.slots) }

// add appends an event of tmpl with body (not copied) stamped at ts.
func (b *batch) add(tmpl *event.Event, body []byte, ts int64) {
	e := &b.slots[b.n]
	*e = *tmpl
	e.Body, e.Timestamp = body, ts
	b.n++
	b.bytes += int64(len(body))
}

// inBuffer reports whether events of the batch point into the read buffer: the buffer must not
// be filled again before the batch is returned or stashed.
func (b *batch) inBuffer() bool { return b.n > b.stashed }

func (b *batch) events() []*event.Event { return b.evs[:b.n] }

// stash copies the bodies that point into the read buffer into the arena, so that the buffer
// can be filled for another file while the batch is kept. It reports false, copying nothing,
// when the arena has no room for them.
func (s *Source) stash() bool {
	b := s.batch
	need := 0
	for _, e := range b.evs[b.stashed:b.n] {
		need += len(e.Body)
	}
	if s.arena == nil {
		s.arena = make([]byte, 0, arenaSize)
	}
	if len(s.arena)+need > cap(s.arena) {
		return false
	}
	for _, e := range b.evs[b.stashed:b.n] {
		start := len(s.arena)
		s.arena = append(s.arena, e.Body...)
		e.Body = s.arena[start:len(s.arena):len(s.arena)]
	}
	b.stashed = b.n
	return true
}

// counters are what the sources count.
type counters struct {
	record.Counters
	// lostTruncated counts the bytes a truncated file was seen to hold and that could be read
	// neither from it nor from a copy; lostDeleted the bytes of a file that disappeared (or was
	// replaced) while it was closed, before they were read; goneFiles the files of a saved
	// position that were gone at a restart: what was written to them after it, if anything,
	// is lost.
	lostTruncated, lostDeleted *metrics.Counter
	goneFiles                  *metrics.Counter
	rotations, truncations     *metrics.Counter
	added, released            *metrics.Counter
	tracked, opened            *metrics.Gauge
}

func newCounters(reg *metrics.Registry) counters {
	return counters{
		Counters:      record.NewCounters(reg),
		lostTruncated: reg.Counter("bytes_lost_truncated"),
		lostDeleted:   reg.Counter("bytes_lost_deleted"),
		goneFiles:     reg.Counter("files_gone"),
		rotations:     reg.Counter("rotations"),
		truncations:   reg.Counter("truncations"),
		added:         reg.Counter("files_added"),
		released:      reg.Counter("files_released"),
		tracked:       reg.Gauge("files_followed"),
		opened:        reg.Gauge("files_open"),
	}
}

// count records a batch and the oversize counts of buf, which it resets.
func (c counters) count(b *batch, buf *record.Buffer) {
	c.Events.Add(int64(b.n))
	c.Bytes.Add(b.bytes)
	c.Oversize(buf)
}

// fileQueue is the queue of files that may have bytes to read, or a change to handle.
type fileQueue struct {
	items []*file
	head  int
}

func (q *fileQueue) len() int { return len(q.items) - q.head }

// push queues f at the back, or at the front: a rotated file is read before the file that
// replaced it.
func (q *fileQueue) push(f *file, front bool) {
	if f.queued || f.dropped {
		return
	}
	f.queued = true
	switch {
	case !front:
		q.items = append(q.items, f)
	case q.head > 0:
		q.head--
		q.items[q.head] = f
	default:
		q.items = append(q.items, nil)
		copy(q.items[1:], q.items)
		q.items[0] = f
	}
}

// pop takes the file at the front, skipping dropped files; nil when the queue is empty.
func (q *fileQueue) pop() *file {
	for q.head < len(q.items) {
		f := q.items[q.head]
		q.items[q.head] = nil
		q.head++
		if q.head == len(q.items) {
			q.items, q.head = q.items[:0], 0
		}
		if f.queued && !f.dropped {
			f.queued = false
			return f
		}
	}
	return nil
}
