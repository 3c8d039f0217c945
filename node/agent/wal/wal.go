package wal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flumego/flume/node/metrics"
)

// Errors of the log. Callers test them with errors.Is.
var (
	// ErrClosed is returned by calls on a closed log, and by Pendings the log could not make
	// durable before it closed.
	ErrClosed = errors.New("wal: log closed")
	// ErrNotFound says the log holds no chunk with that seq: never appended, not yet durable,
	// or released and already deleted. A resend loop treats it like ErrReleased.
	ErrNotFound = errors.New("wal: chunk not found")
	// ErrReleased says the chunk was released and needs no resend.
	ErrReleased = errors.New("wal: chunk released")
	// ErrCorrupt says stored bytes failed their checksum or do not parse.
	ErrCorrupt = errors.New("wal: corrupt data")
	// ErrVersion says a segment or the meta file was written in a format version this build
	// does not know. Open refuses such a log rather than guess.
	ErrVersion = errors.New("wal: unsupported format version")
	// ErrOutOfOrder says an appended chunk's seq is not above every seq the log has seen.
	ErrOutOfOrder = errors.New("wal: chunk seq out of order")
	// ErrTooLarge says a chunk's data exceeds the largest record the log writes (256 MiB).
	ErrTooLarge = errors.New("wal: chunk too large")
	// ErrInUse says another process (or another Log in this one) has the directory open.
	ErrInUse = errors.New("wal: directory in use")
)

// Defaults of Options.
const (
	DefaultSegmentBytes  = 64 << 20
	DefaultMinFreeBytes  = 64 << 20
	DefaultMaxQueueBytes = 32 << 20
)

// Options configure a Log.
type Options struct {
	// Dir is the log's directory, created with mode 0o750 if missing.
	Dir string
	// SegmentBytes is the size beyond which the log starts a new segment (default 64 MiB).
	// With a MaxBytes cap it is lowered to MaxBytes/4, so that releases free space in pieces
	// well before the cap is reached.
	SegmentBytes int64
	// MaxBytes caps the bytes of all segments (0: no cap); flume.agent.logdir.maxbytes.
	// Append waits at the cap. A single chunk larger than the cap is still taken when the log
	// holds nothing unreleased, so an oversized chunk cannot wedge the log.
	MaxBytes int64
	// MinFreeBytes is the free space below which the log refuses to grow: Append waits
	// (flume.agent.logdir.minfreebytes; 0: 64 MiB; negative: no check).
	MinFreeBytes int64
	// MaxQueueBytes bounds the data appended but not yet written; Append waits beyond it, so a
	// disk slower than the source slows the source instead of growing memory (0: 32 MiB).
	MaxQueueBytes int64
	// NoSync skips fsync: for tests and best-effort spools only. Pendings then complete once
	// written, and nothing survives a power loss.
	NoSync bool
	// Logger receives recovery reports and alerts; nil discards them.
	Logger *slog.Logger
	// Metrics receives the counters wal_appends, wal_bytes, wal_fsyncs, wal_truncated_records,
	// wal_truncated_bytes, wal_released, wal_full_waits and the gauges wal_segments and
	// wal_bytes_on_disk. Nil records nothing.
	Metrics *metrics.Registry
}

// Chunk is one unit of the log: a batch of encoded events.
type Chunk struct {
	// Seq identifies the chunk. The caller assigns it, strictly increasing across the life of
	// the log (restarts included: continue from NextSeq).
	Seq uint64
	// Count is the number of events in Data, kept for reports.
	Count uint32
	// Created is when the chunk was made, in unix nanoseconds.
	Created int64
	// Head, if set, is written before Data in the same record; Read returns the two joined, in
	// Data. The log takes ownership of both.
	Head []byte
	// Data is the opaque payload.
	Data []byte
}

// ChunkRef describes a durable chunk without its data.
type ChunkRef struct {
	Seq     uint64
	Count   uint32
	Created int64 // unix nanoseconds
	Size    int   // bytes of the chunk's data: Head and Data together, as Read returns it
}

// Meta is what the log keeps besides chunks: who wrote it and under which epoch.
type Meta struct {
	Agent string // the agent (logical node) whose chunks these are
	Epoch uint64 // bumped by the agent when it starts over with an empty log
}

// State is a snapshot of the log for status pages and decisions.
type State struct {
	Bytes      int64 // bytes of all segments on disk
	Segments   int
	Unreleased int // durable chunks not released
	Queued     int // chunks appended but not yet durable
	Waiting    int // Appends blocked at the cap or on low free space
	// Full says an Append would wait now, and Reason says why: "cap 1.0 GiB reached",
	// "filesystem has 12 MiB free, below 64 MiB", "filesystem full: ...".
	Full   bool
	Reason string
	// Err is the failure that stopped the log (an fsync error), nil while it works.
	Err error
}

// Log is an open write-ahead log. Its methods are safe for concurrent use.
type Log struct {
	opts  Options
	dir   string
	log   *slog.Logger
	m     counters
	lock  *os.File // the flock'ed LOCK file
	meta  Meta
	metaM sync.Mutex

	// mu guards everything below; the writer takes it briefly, never across a write or a sync.
	// Fields only the writer changes it may read without mu.
	mu          sync.Mutex
	queue       []*op
	queueBytes  int64 // data bytes (Head and Data) of queued appends, for MaxQueueBytes
	queuedRecs  int64 // record bytes not yet on disk, for the cap
	queuedCount int
	nextSeq     uint64 // lowest seq Append accepts
	closing     bool
	failed      error  // sticky writer failure
	noSpace     string // set while writes fail for lack of space
	waiting     int
	waitReason  string
	fullSince   time.Time     // when Appends began to wait, zero while they do not
	spaceCh     chan struct{} // closed and replaced when space or queue room frees up
	idx         index
	segs        []*segment // in base order; the last is the active one
	diskBytes   int64
	freeSpace   func(dir string) (int64, error) // replaced in tests
	retryEvery  time.Duration                   // how often a write that found no space is retried
	// faultWrite, set by tests, fails segment writes with what it returns.
	faultWrite atomic.Pointer[func() error]

	kick     chan struct{} // wakes the writer; capacity 1
	stop     chan struct{} // closed by Close
	done     chan struct{} // closed when the writer has exited
	closeErr error
	closeMu  sync.Once

	// Writer-only state.
	active *os.File
	grp    group  // the group being written
	hiSeq  uint64 // one above the highest seq written
}

type counters struct {
	appends, bytes, fsyncs, truncRecs, truncBytes, released, fullWaits *metrics.Counter
	segments, diskBytes                                                *metrics.Gauge
}

func newCounters(r *metrics.Registry) counters {
	return counters{
		appends:    r.Counter("wal_appends"),
		bytes:      r.Counter("wal_bytes"),
		fsyncs:     r.Counter("wal_fsyncs"),
		truncRecs:  r.Counter("wal_truncated_records"),
		truncBytes: r.Counter("wal_truncated_bytes"),
		released:   r.Counter("wal_released"),
		fullWaits:  r.Counter("wal_full_waits"),
		segments:   r.Gauge("wal_segments"),
		diskBytes:  r.Gauge("wal_bytes_on_disk"),
	}
}

// Open opens the log in opts.Dir, creating it if needed, and recovers it: it scans every
// segment, verifies every checksum, truncates a torn tail of the last segment, skips damaged
// records elsewhere (counting and logging what it cut), and deletes segments left fully
// released. It then starts the writer goroutine, which Close stops.
func Open(opts Options) (*Log, error) {
	if opts.Dir == "" {
		return nil, errors.New("open wal: no directory")
	}
	opts = withDefaults(opts)
	l := &Log{
		opts:       opts,
		dir:        opts.Dir,
		log:        opts.Logger,
		m:          newCounters(opts.Metrics),
		spaceCh:    make(chan struct{}),
		freeSpace:  freeSpace,
		retryEvery: noSpaceRetry,
		kick:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	if err := os.MkdirAll(l.dir, 0o750); err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	lock, err := lockDir(l.dir)
	if err != nil {
		return nil, err
	}
	l.lock = lock
	if err := l.openFiles(); err != nil {
		l.closeFiles()
		return nil, err
	}
	go l.run()
	return l, nil
}

func withDefaults(o Options) Options {
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.MaxBytes > 0 && o.SegmentBytes > o.MaxBytes/4 {
		o.SegmentBytes = max(o.MaxBytes/4, 1)
	}
	if o.MinFreeBytes == 0 {
		o.MinFreeBytes = DefaultMinFreeBytes
	}
	if o.MaxQueueBytes <= 0 {
		o.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// openFiles reads meta, recovers the segments and opens the active one.
func (l *Log) openFiles() error {
	err := os.Remove(filepath.Join(l.dir, metaTemp))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("open wal: %w", err)
	}
	meta, err := readMeta(l.dir)
	if err != nil {
		return err
	}
	l.meta = meta
	if err := l.recover(); err != nil {
		return err
	}
	if err := l.openActive(); err != nil {
		return err
	}
	if err := l.collect(false); err != nil {
		if !retryable(err) {
			return fmt.Errorf("open wal: %w", err)
		}
		// A full disk must not keep the agent from starting: the writer collects later.
		l.log.Warn("wal: deleting released segments postponed", "dir", l.dir, "err", err)
	}
	l.updateGauges()
	return nil
}

// closeFiles releases the files; the writer has exited or never started.
func (l *Log) closeFiles() error {
	var errs []error
	if l.active != nil {
		errs = append(errs, l.active.Close())
		l.active = nil
	}
	if l.lock != nil {
		errs = append(errs, l.lock.Close()) // closing the descriptor drops the flock
		l.lock = nil
	}
	return errors.Join(errs...)
}

// Close makes everything queued durable, stops the writer and closes the files. Appends
// waiting for space return ErrClosed. It returns the failure that stopped the log, if any.
// Close is idempotent: later calls return the first call's result.
func (l *Log) Close() error {
	l.closeMu.Do(func() {
		l.mu.Lock()
		l.closing = true
		l.wakeWaitersLocked()
		l.mu.Unlock()
		close(l.stop)
		<-l.done
		l.mu.Lock()
		err := l.failed
		l.mu.Unlock()
		l.closeErr = errors.Join(err, l.closeFiles())
	})
	return l.closeErr
}

// Meta returns the persisted meta.
func (l *Log) Meta() Meta {
	l.metaM.Lock()
	defer l.metaM.Unlock()
	return l.meta
}

// SetMeta persists m atomically and durably before returning.
func (l *Log) SetMeta(m Meta) error {
	l.metaM.Lock()
	defer l.metaM.Unlock()
	if err := writeMeta(l.dir, m); err != nil {
		return err
	}
	l.meta = m
	return nil
}

// NextSeq returns the lowest seq Append accepts: one above every seq the log has held, after
// recovery included, so a seq once handed downstream is never reused. A new log starts at 1.
func (l *Log) NextSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nextSeq
}

// State returns a snapshot of the log.
func (l *Log) State() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := State{
		Bytes:      l.diskBytes,
		Segments:   len(l.segs),
		Unreleased: l.idx.live,
		Queued:     l.queuedCount,
		Waiting:    l.waiting,
		Err:        l.failed,
	}
	switch {
	case l.waiting > 0:
		s.Full, s.Reason = true, l.waitReason
	default:
		s.Reason = l.fullLocked(1)
		s.Full = s.Reason != ""
	}
	return s
}

// updateGauges publishes the segment count and size; callers hold mu or own the log alone.
func (l *Log) updateGauges() {
	l.m.segments.Set(int64(len(l.segs)))
	l.m.diskBytes.Set(l.diskBytes)
}

// wakeWaitersLocked wakes every Append waiting for space or queue room.
func (l *Log) wakeWaitersLocked() {
	close(l.spaceCh)
	l.spaceCh = make(chan struct{})
}

// errContext wraps the cause of ctx's end with the log's directory.
func (l *Log) errContext(ctx context.Context) error {
	return fmt.Errorf("wal %q: %w", l.dir, context.Cause(ctx))
}
