package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
)

// Span is a byte range one Write appended to one file.
type Span struct {
	// File is the file's final name relative to the root, without ".tmp".
	File string
	// From and To bound the bytes written: [From, To).
	From, To int64
}

// Writer writes events into bucket files. See the package documentation.
type Writer struct {
	mu  sync.Mutex
	o   Options
	l   *layout
	log *slog.Logger
	m   writerMetrics

	format    plugin.Format
	hasHeader bool  // a fresh encoder writes a header: it cannot resume mid-file
	headerLen int64 // its length, uncompressed

	unique uint64
	seq    uint64
	call   uint64 // counts Writes; a bucket remembers the last that touched it

	buckets  map[string]*bucket // buckets taking events, by key
	byName   map[string]*bucket // every open file, by Span.File
	lruHead  *bucket            // most recently written
	lruTail  *bucket            // least recently written
	nOpen    int
	last     *bucket // bucket of the previous event
	lastSec  int64   // its second, for time-only templates
	key      []byte  // scratch for expansions
	touched  []*bucket
	freeBufs [][]byte

	zw []byte // compressed output of a spill

	finished []string // files finalized since the last report (Roll, CloseIdle, Close)

	knownDirs map[string]bool     // directories known to exist
	dirtyDirs map[string]struct{} // directories whose entries changed since their last fsync
	closed    bool
}

type writerMetrics struct {
	events, bytes, opened, finalized, truncated, writeErrors, sizeRolls, cutsDeferred *metrics.Counter
	open                                                                              *metrics.Gauge
}

// spillSize is how much a bucket buffers before writing to its file within one Write.
const spillSize = 256 << 10

// maxKeptBuffer bounds the buffers kept between Writes, so one huge batch does not pin memory.
const maxKeptBuffer = 1 << 20

// Open checks o and returns a Writer. It creates the root directory. It does not touch files
// left by an earlier Writer: Recover does that, and must run first.
func Open(ctx context.Context, o Options) (*Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l, err := o.parse()
	if err != nil {
		return nil, err
	}
	if err := l.fs.MkdirAll(l.root); err != nil {
		return nil, fmt.Errorf("create root %q: %w", l.root, err)
	}
	w := &Writer{
		o: o, l: l, log: o.logger(),
		format:    o.Format,
		unique:    newUnique(o.Owner),
		buckets:   make(map[string]*bucket),
		byName:    make(map[string]*bucket),
		knownDirs: map[string]bool{l.root: true},
		dirtyDirs: make(map[string]struct{}),
	}
	if w.format == nil {
		w.format = rawFormat{}
	}
	if w.hasHeader, w.headerLen, err = probeHeader(w.format); err != nil {
		return nil, err
	}
	reg := o.counters()
	w.m = writerMetrics{
		events: reg.Counter("events_written"), bytes: reg.Counter("bytes_written"),
		opened: reg.Counter("files_opened"), finalized: reg.Counter("files_finalized"),
		truncated: reg.Counter("files_truncated"), writeErrors: reg.Counter("write_errors"),
		sizeRolls: reg.Counter("files_rolled_by_size"), cutsDeferred: reg.Counter("cuts_deferred"),
		open: reg.Gauge("buckets_open"),
	}
	return w, nil
}

// Root returns the directory every file lives under.
func (w *Writer) Root() string { return w.l.root }

// Skipped is an event WriteOrSkip left out: nothing of it is in the files.
type Skipped struct {
	// Index is the event's place in the batch.
	Index int
	// Err says why; it wraps ErrNameRefused.
	Err error
}

// Write appends each event to its bucket's file and returns the span written in each file,
// in the order the files were first touched. Each touched encoder is flushed, so every file
// ends at a record boundary. On error nothing of this call stays: files it created are
// removed and the others are cut back to where they were, so a failed Write leaves no partial
// data; the Writer stays usable.
func (w *Writer) Write(events []*event.Event) ([]Span, error) {
	spans, _, err := w.write(events, false)
	return spans, err
}

// WriteOrSkip is Write, except for an event whose file the storage refuses by its name (the
// error wraps ErrNameRefused): that event is left out and reported, and the others are
// written. Sending it again would fail again, so its owner sets it aside. An error fails the
// whole call, as for Write, and then nothing is skipped.
func (w *Writer) WriteOrSkip(events []*event.Event) ([]Span, []Skipped, error) {
	return w.write(events, true)
}

func (w *Writer) write(events []*event.Event, skip bool) ([]Span, []Skipped, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, nil, ErrClosed
	}
	if len(events) == 0 {
		return nil, nil, nil
	}
	w.call++
	touched := w.touched[:0]
	var skipped []Skipped
	var err error
	for i, e := range events {
		var b *bucket
		if b, err = w.bucketFor(e); err != nil {
			if skip && errors.Is(err, ErrNameRefused) {
				skipped = append(skipped, Skipped{Index: i, Err: err})
				err = nil
				continue
			}
			break
		}
		if b.call != w.call {
			b.call, b.from = w.call, b.size
			touched = append(touched, b)
			w.lruFront(b)
		}
		if err = b.enc.Encode(e); err != nil {
			err = fmt.Errorf("encode into %q: %w", b.tmp, err)
			break
		}
	}
	for i := 0; err == nil && i < len(touched); i++ {
		err = touched[i].flush()
	}
	w.touched = touched
	if err != nil {
		w.m.writeErrors.Inc()
		if rerr := w.rollbackCall(touched); rerr != nil {
			err = errors.Join(err, fmt.Errorf("roll back: %w", rerr))
		}
		clear(touched)
		return nil, nil, err
	}
	spans := make([]Span, len(touched))
	now := w.o.now()
	var n int64
	for i, b := range touched {
		spans[i] = Span{File: b.name, From: b.from, To: b.size}
		if !w.o.ManualSettle {
			b.settled = b.size
		}
		if w.o.RollBytes > 0 && b.size >= w.o.RollBytes {
			w.seal(b) // full: the bucket's next event opens a new file
			w.m.sizeRolls.Inc()
		}
		n += b.size - b.from
		b.dirty, b.lastWrite = true, now
		w.releaseBuf(b)
	}
	clear(touched)
	w.m.events.Add(int64(len(events) - len(skipped)))
	w.m.bytes.Add(n)
	return spans, skipped, nil
}

// bucketFor returns the bucket of e, opening it if needed. Consecutive events of one bucket
// cost a comparison: for a template of dates only, of their second; otherwise of the
// expansion, made in a reused buffer.
func (w *Writer) bucketFor(e *event.Event) (*bucket, error) {
	t := w.l.tpl
	if last := w.last; last != nil && last.live {
		if t.literal {
			return last, nil
		}
		if t.timeOnly && floorDiv(e.Timestamp, 1e9) == w.lastSec {
			return last, nil
		}
	}
	w.key = t.appendExpand(w.key[:0], e)
	sec := floorDiv(e.Timestamp, 1e9)
	b := w.last
	if b == nil || !b.live || b.key != string(w.key) {
		if b = w.buckets[string(w.key)]; b == nil {
			var err error
			if b, err = w.openBucket(string(w.key)); err != nil {
				return nil, err
			}
		}
	}
	// The cache names the bucket of one second: both change together.
	w.last, w.lastSec = b, sec
	return b, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// rollbackCall takes back what the current Write did to the touched buckets.
func (w *Writer) rollbackCall(touched []*bucket) error {
	var errs []error
	for _, b := range touched {
		b.raw = b.raw[:0]
		w.releaseBuf(b)
		if b.created == w.call {
			// The file is new: remove it rather than keep an empty one. If it cannot be
			// removed now (the NameNode is away), it stays, empty and sealed, and a later
			// finalize removes it.
			_ = b.f.Close()
			b.f = nil
			if err := w.l.fs.Remove(b.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove %q: %w", b.tmp, err))
				b.size, b.settled, b.synced, b.dirty, b.broken = 0, 0, 0, false, true
				w.seal(b)
				continue
			}
			w.drop(b)
			continue
		}
		errs = append(errs, w.cut(b, b.from))
		if b.from > 0 && w.hasHeader {
			// A container encoder keeps a failed write's error, and a fresh one would write
			// a second header mid-file: the file takes no more events.
			b.broken = true
			w.seal(b)
		}
	}
	return errors.Join(errs...)
}

// cut truncates b's file to size and makes b's encoder fit the new end. If the truncation
// fails, the cut is deferred: the file is sealed, takes nothing more, and is cut before it is
// finalized (Sync and finalize try again). What it holds past size is committed nowhere, so
// nothing waits for that cut but the file's own finalizing.
func (w *Writer) cut(b *bucket, size int64) error {
	b.size, b.dirty = size, true
	b.settled, b.synced = min(b.settled, size), min(b.synced, size)
	w.m.truncated.Inc()
	if b.needTrunc {
		return nil // cut before, and still deferred: cut to the new size later
	}
	if err := b.f.Truncate(size); err != nil {
		b.needTrunc, b.broken = true, true
		w.seal(b)
		w.m.cutsDeferred.Inc()
		w.log.Warn("a cut failed; the file takes nothing more and is cut before it is finalized",
			"file", b.tmp, "size", size, "err", err)
		return nil
	}
	if b.broken {
		return nil
	}
	if size == 0 || !w.hasHeader {
		// A fresh encoder starts the stream again (a container writes its header anew); a
		// line encoder keeps nothing, so a fresh one is as good mid-file.
		enc, err := w.format.NewEncoder(b)
		if err != nil {
			b.broken = true
			w.seal(b)
			return fmt.Errorf("new encoder for %q: %w", b.tmp, err)
		}
		b.enc = enc
	}
	return nil
}

// Rollback cuts each span's file back to the span's From: the owner takes back a chunk it
// must not keep. Spans must be tails: each must end where its file ends, once the spans after
// it in the list are cut (they are cut last to first). A span that is not a tail, or of a file
// already finalized, is an error and changes nothing of that file.
func (w *Writer) Rollback(spans []Span) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	var errs []error
	for i := len(spans) - 1; i >= 0; i-- {
		s := spans[i]
		b := w.byName[s.File]
		switch {
		case b == nil || b.closing:
			errs = append(errs, fmt.Errorf("roll back %q: %w", s.File, ErrNotOpen))
		case s.From < 0 || s.From > s.To || b.size != s.To:
			errs = append(errs, fmt.Errorf("roll back %q [%d, %d) (file ends at %d): %w",
				s.File, s.From, s.To, b.size, ErrNotTail))
		case w.o.ManualSettle && s.From < b.settled:
			errs = append(errs, fmt.Errorf("roll back %q [%d, %d) (settled up to %d): %w",
				s.File, s.From, s.To, b.settled, ErrSettled))
		default:
			errs = append(errs, w.cut(b, s.From))
		}
	}
	return errors.Join(errs...)
}

// Settle records that the owner has made the spans safe (committed them): a file may be
// finalized once all that was written to it is settled. Spans of files no longer open are
// ignored.
func (w *Writer) Settle(spans []Span) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range spans {
		if b := w.byName[s.File]; b != nil && s.To > b.settled {
			b.settled = min(s.To, b.size)
		}
	}
}

// Sync fsyncs every file written or cut since the last Sync, and the directories where files
// were created or renamed.
func (w *Writer) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	var errs []error
	for b := w.lruHead; b != nil; b = b.next {
		err := w.syncBucket(b)
		if err != nil && b.needTrunc && b.synced >= b.size {
			// A deferred cut that fails again holds back only its own file's finalizing:
			// what the file keeps was made durable before. Data written to it since its last
			// sync is not known durable, and fails the Sync: it must not be committed.
			w.deferredCutFailed(b, err)
			continue
		}
		errs = append(errs, err)
	}
	errs = append(errs, w.syncDirs())
	return errors.Join(errs...)
}

func (w *Writer) syncBucket(b *bucket) error {
	if b.f == nil {
		return nil
	}
	if b.needTrunc {
		if err := b.f.Truncate(b.size); err != nil {
			return fmt.Errorf("truncate %q to %d: %w", b.tmp, b.size, err)
		}
		b.needTrunc = false
	}
	if !b.dirty {
		return nil
	}
	if err := b.f.Sync(); err != nil {
		return fmt.Errorf("fsync %q: %w", b.tmp, err)
	}
	b.dirty, b.synced = false, b.size
	return nil
}

func (w *Writer) syncDirs() error {
	var errs []error
	for d := range w.dirtyDirs {
		if err := w.l.fs.SyncDir(d); err != nil {
			errs = append(errs, fmt.Errorf("fsync directory %q: %w", d, err))
			continue
		}
		delete(w.dirtyDirs, d)
	}
	return errors.Join(errs...)
}

// deferredCutFailed logs, at most every 30 seconds per file, that a deferred cut failed again.
func (w *Writer) deferredCutFailed(b *bucket, err error) {
	if time.Since(b.cutLogged) < 30*time.Second {
		return
	}
	b.cutLogged = time.Now()
	w.log.Warn("a deferred cut failed again; the file waits to be finalized", "file", b.tmp, "size", b.size, "err", err)
}

// Open returns the root-relative names of the open .tmp files, sorted.
func (w *Writer) Open() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.byName))
	for name := range w.byName {
		out = append(out, name+tmpExt)
	}
	slices.Sort(out)
	return out
}

// Close finalizes every open file whose data is settled (Roll), returns the files finished,
// and releases the Writer. Files that could not be finalized stay as .tmp, for Recover (the
// error says why: ErrUnsettled for data not settled). Close is safe to call twice.
func (w *Writer) Close() ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, nil
	}
	err := w.finalize(w.all())
	for b := w.lruHead; b != nil; b = b.next {
		if b.f != nil {
			err = errors.Join(err, b.f.Close())
			b.f = nil
		}
		removeLive(b.liveID)
	}
	w.closed = true
	return w.takeFinished(), err
}

// releaseBuf gives b's buffer back once b has nothing pending, so only buckets being written
// hold one.
func (w *Writer) releaseBuf(b *bucket) {
	if b.raw == nil || len(b.raw) > 0 {
		return
	}
	if cap(b.raw) <= maxKeptBuffer && len(w.freeBufs) < 8 {
		w.freeBufs = append(w.freeBufs, b.raw)
	}
	b.raw = nil
}

func (w *Writer) takeBuf() []byte {
	if n := len(w.freeBufs); n > 0 {
		b := w.freeBufs[n-1]
		w.freeBufs[n-1] = nil
		w.freeBufs = w.freeBufs[:n-1]
		return b[:0]
	}
	return make([]byte, 0, 64<<10)
}

// compress returns raw as written to a file: itself, or one complete unit of the codec.
func (w *Writer) compress(raw []byte) ([]byte, error) {
	c := w.l.codec
	if c == nil {
		return raw, nil
	}
	out, err := c.AppendUnit(w.zw[:0], raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name(), err)
	}
	w.zw = out
	if cap(w.zw) > maxKeptBuffer {
		w.zw = nil
	}
	return out, nil
}
