package record

import (
	"github.com/flumego/flume/node/event"
)

// MinBufferSize is the smallest read buffer a Buffer uses. Large reads keep system calls per
// event low: at 100-byte lines one read serves a few thousand records.
const MinBufferSize = 256 << 10

// Buffer reads a byte stream and cuts records out of it.
//
// Records are slices of the buffer's memory: they stay valid until the next Fill, which moves the
// unconsumed tail (at most one partial record) to the front and reads after it. A record longer
// than the size limit is cut to the limit (Truncate) or dropped (Reject), and the rest of it,
// up to its delimiter, is discarded; or it is returned as several records of at most the limit,
// in order (Split). Each case is counted.
//
// A Buffer is used from one goroutine.
type Buffer struct {
	buf     []byte
	r, w    int // the unconsumed window is buf[r:w]
	skip    bool
	split   bool // Split: the last record returned was a piece, not the end, of a record
	settled bool // no more bytes for now: a delimiter match at the end is final
	fr      Framer
	max     int
	policy  event.OversizePolicy

	// Truncated, Rejected and Split count oversized records since the owner last reset them.
	Truncated, Rejected, Split int64
}

// NewBuffer returns a buffer framing with fr that limits records to max bytes (max > 0). Its
// size is at least MinBufferSize and always more than max, so a partial record that fills
// the buffer is known to be oversized.
func NewBuffer(fr Framer, max int, policy event.OversizePolicy) *Buffer {
	size := MinBufferSize
	if max+64<<10 > size {
		size = max + 64<<10
	}
	return &Buffer{buf: make([]byte, size), fr: fr, max: max, policy: policy}
}

// Next returns the next complete record, or ok=false when the buffered bytes hold none.
// Rejected records are skipped (and counted); truncated ones are returned cut to the limit;
// split ones a piece at a time.
func (b *Buffer) Next() (rec []byte, ok bool) {
	for b.r < b.w {
		data := b.buf[b.r:b.w]
		if b.skip && b.fr.StartsRecord(data) {
			b.skip = false
		}
		body, adv, found := b.fr.Find(data, b.settled)
		if b.policy == event.Split && len(data) > b.max && (!found || len(body) > b.max) {
			return b.piece(data), true
		}
		if found && b.split {
			b.split = false // the last piece of a split record
		}
		if !found {
			if len(data) <= b.max {
				return nil, false
			}
			// No delimiter in more than max bytes: the record is oversized whatever
			// follows. Keep its head, drop what is buffered and the rest up to the
			// delimiter.
			b.r = b.w
			if b.skip {
				return nil, false
			}
			b.skip = true
			if rec, ok := b.limit(data); ok {
				return rec, true
			}
			return nil, false
		}
		b.r += adv
		if b.skip {
			b.skip = false
			continue
		}
		if rec, ok := b.limit(body); ok {
			return rec, true
		}
	}
	return nil, false
}

// piece returns the first max bytes of data, a piece of a record over the limit, and consumes
// them: the rest of the record follows as records of its own.
func (b *Buffer) piece(data []byte) []byte {
	if !b.split {
		b.split = true
		b.Split++
	}
	b.r += b.max
	return data[:b.max:b.max]
}

// limit applies the size limit to rec.
func (b *Buffer) limit(rec []byte) ([]byte, bool) {
	if len(rec) <= b.max {
		return rec, true
	}
	if b.policy == event.Reject {
		b.Rejected++
		return nil, false
	}
	b.Truncated++
	return rec[:b.max:b.max], true
}

// Remainder consumes what is buffered as one final record: the unterminated last record of a
// stream, at its end or when the stream is given up. ok is false when nothing is buffered.
// With Split, a remainder over the limit comes a piece per call: call it until ok is false.
func (b *Buffer) Remainder() (rec []byte, ok bool) {
	data := b.buf[b.r:b.w]
	if b.policy == event.Split && len(data) > b.max && !b.skip {
		return b.piece(data), true
	}
	b.r, b.w, b.split = 0, 0, false
	if len(data) == 0 {
		return nil, false
	}
	if b.skip {
		b.skip = false
		return nil, false
	}
	return b.limit(data)
}

// Discard drops what is buffered (after a truncation of the file it came from).
func (b *Buffer) Discard() {
	b.r, b.w, b.skip, b.split = 0, 0, false, false
}

// Buffered returns the number of unconsumed bytes.
func (b *Buffer) Buffered() int { return b.w - b.r }

// Fill reads once from read into the free space, after moving the unconsumed bytes to the
// front. It invalidates every record returned before; call it only when Next has no record.
// It returns what read returned.
func (b *Buffer) Fill(read func(p []byte) (int, error)) (int, error) {
	if b.r > 0 {
		n := copy(b.buf, b.buf[b.r:b.w])
		b.r, b.w = 0, n
	}
	n, err := read(b.buf[b.w:])
	if n > 0 {
		b.w += n
		b.settled = false
	}
	return n, err
}

// Settle tells the buffer that the stream has no more bytes for now (a file read to its end),
// so a delimiter match that ends with the buffered bytes is final. It reports whether that may
// give a record that Next did not give before.
func (b *Buffer) Settle() bool {
	if b.settled || b.r == b.w {
		return false
	}
	b.settled = true
	return true
}

// Space returns the free space after the buffered bytes, compacting first. A source that reads
// on another goroutine reads into it and reports the count with Wrote; no record returned
// before may be in use.
func (b *Buffer) Space() []byte {
	if b.r > 0 {
		n := copy(b.buf, b.buf[b.r:b.w])
		b.r, b.w = 0, n
	}
	return b.buf[b.w:]
}

// Wrote records that n bytes were read into the slice Space returned.
func (b *Buffer) Wrote(n int) {
	if n > 0 {
		b.w += n
		b.settled = false
	}
}
