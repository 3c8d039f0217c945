// Package tail holds the sources that follow growing files: tail follows one file by name, as
// `tail -F` does; multitail follows several; tailDir follows every file of a directory whose
// name matches a regex. They make an event of every line (or of every record cut by a
// delimiter regex) appended to the files, and never lose or repeat one across rotations and
// restarts.
//
// # Files
//
// A file is known by its identity: device, inode and a fingerprint, the CRC-32C of its first
// 256 bytes (of all of it while it is shorter), so that an inode reused by a new file is not
// taken for the old one. A name is followed, not a file:
//
//   - When the name comes to denote another file (rename and create rotation), the old file
//     becomes an orphan: it is read on to its end, and kept open while a writer may still
//     append to it; once it has been idle for the grace period (10 poll periods, at least 2 s)
//     its unterminated last record is emitted and it is released. The new file is read from
//     its start, after the old one. Rotated siblings that were created and rotated away
//     between two looks at the name (name.1, name-20240101: the name, a separator and digits)
//     are read too, save copies of a followed file.
//   - A deleted file is read on to its end in the same way; the name is waited for again.
//   - A file that shrinks below what was read was truncated (copytruncate, or truncated in
//     place). If a copy of it is found in its directory (a file that begins with the same bytes
//     and holds at least what was read), the rest is read from the copy. The bytes the file
//     was seen to hold and that can be read from nowhere are counted in bytes_lost_truncated
//     and logged: the lines written between the last read and the truncation, when they were
//     seen; what was written between a copy and the truncation cannot be seen by anyone. Copies
//     made by later rotations before the source looked again (tail, multitail: rotated siblings
//     modified since the copy) hold what was written between the truncations: they are read
//     too. The file is then read again from its start.
//   - A file that does not exist yet is waited for, and read from its start.
//
// tailDir follows each matching name in the same way; a rotated file renamed to a name that
// matches too is followed on under it, not read again. A copy made by copytruncate under a
// name that matches is a new file to tailDir, read whole: let fileregex leave such copies out.
//
// # Positions
//
// The sources are plugin.Checkpointers. Position is the identity and offset of every followed
// file after the last event Next returned, in a compact binary form (about 10 bytes a file).
// Resume, called before Open with a position of an earlier run, makes Open find each file
// again by identity: at its name, or among the files of its directory (a sibling it was
// rotated to while the source was down), or, when its inode now holds other bytes, as a copy
// (copytruncate while down). Each is read on from its offset, rotated files first; files that
// appeared since are read from their start (startFromEnd applies only to a first run). A file
// of the position found nowhere (deleted, or its inode holding other bytes, with no copy) is
// counted in files_gone: what was written to it after the position, if anything, is lost.
//
// # Records
//
// One event per '\n'-terminated line (the '\n' dropped, a '\r' before it kept, as classic
// tail did), or per record of delim="regex" placed by delimMode. Bytes pass as they are:
// binary and invalid UTF-8 alike. An unterminated last record is held until it is completed,
// or its file is released, or truncated without a copy; and, for the file being read, when the
// source closes, as classic tail did, if the file has been idle for the grace period (a file
// that changed just now may be in the middle of a write: the line is read whole after a
// restart). Records over flume.event.max.size.bytes are truncated or
// rejected (oversize=), and counted; if the source stops or turns to another file while it
// skips the rest of such a record, that rest comes as a record of its own. Every event
// carries the attribute tailSrcFile: the base name of the followed name (tail and multitail:
// the configured name, also for the rest of a rotated file).
//
// # Watching
//
// The directories of the followed names are watched with inotify (fsnotify) where the system
// has it; names are also looked at every flume.tail.pollperiod (1000 ms), sooner after
// activity, so that a file system without notifications is followed too. tailDir rescans its
// tree every poll period without notifications, and every 10 with them.
//
// # Descriptors
//
// At most 256 files are open at once: a file holds a descriptor while it is read and for as
// long as room allows; the least recently read files (those at their end first) are closed,
// and opened again by name, with their identity checked, when they grow.
//
// # Errors
//
// A tail or multitail name that is a directory, or a tailDir path that is not a directory,
// fails Open. A file that cannot be read (permission denied) does not stop the flow: it is
// logged once, reported by Condition, and tried again every poll period.
package tail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/source/internal/record"
)

// AttrTailSrcFile is the attribute holding the base name of the followed file.
const AttrTailSrcFile = "tailSrcFile"

// DefaultPollPeriod is the default of flume.tail.pollperiod.
const DefaultPollPeriod = time.Second

// DefaultMaxOpen is the most files a source keeps open at once.
const DefaultMaxOpen = 256

// minIdle is the shortest time an orphan must be idle to be released. A variable, so that
// tests need not wait for it.
var minIdle = 2 * time.Second

var (
	// ErrNotOpen is returned by Next before Open.
	ErrNotOpen = errors.New("tail source not open")
	// ErrIsDir is returned when a tailed name is a directory.
	ErrIsDir = errors.New("is a directory")
	// ErrNotDir is returned when the directory of tailDir is not one.
	ErrNotDir = errors.New("not a directory")
	// ErrNotRegular is reported when a tailed name is not a regular file (a FIFO, a device).
	ErrNotRegular = errors.New("not a regular file")

	// errMoved: a name a followed file was opened by denotes another file now.
	errMoved = errors.New("the name denotes another file")
	// errReplaced: the inode of a followed file holds another file (it was deleted and its
	// inode reused, or its content was rewritten).
	errReplaced = errors.New("the file was replaced")
	// errBadPosition is the error of a position that does not decode.
	errBadPosition = errors.New("not a tail position")
)

// Source is what the flow driver and the node look for.
var (
	_ plugin.Source       = (*Source)(nil)
	_ plugin.Checkpointer = (*Source)(nil)
	_ plugin.Conditioner  = (*Source)(nil)
)

// kind is which of the sources a Source is.
type kind uint8

const (
	kindTail kind = iota + 1
	kindMulti
	kindDir
)

// config is what a builder checked and keeps.
type config struct {
	kind         kind
	name         string   // the component name, for logs and metrics
	paths        []string // tail, multitail: the followed names
	dir          string   // tailDir: the directory
	match        *regexp.Regexp
	depth        int
	startFromEnd bool
	poll         time.Duration
	idle         time.Duration // orphans are released after being idle this long
	maxOpen      int
	framer       record.Framer
	max          int
	policy       event.OversizePolicy
}

// Source is the tail, multitail and tailDir source. The driver calls Next and Close from one
// goroutine; Close also unblocks a Next in progress, so a Close from another goroutine is safe.
// Position and Resume are called between calls of Next (Resume before Open).
type Source struct {
	cfg  config
	host string
	ctr  counters
	log  *slog.Logger
	note atomic.Pointer[string] // what Condition reports

	mu     sync.Mutex // held by Next while it works, and by Close and Position
	closed chan struct{}
	once   sync.Once
	opened bool
	done   bool        // closed: the files are released; what was held is in final
	resume *savedState // the position Open resumes from

	fixed     []*target          // tail, multitail: the configured names
	targets   map[string]*target // every followed name
	byID      map[fileID]*file
	files     []*file // every followed file, sorted by id unless unsorted
	unsorted  bool
	nDropped  int // dropped files still in files
	nProblems int // followed files that cannot be read now
	orphans   []*file
	ready     fileQueue
	open      []*file // files with a descriptor
	clock     uint64
	fromEnd   bool   // files found now start at their end (the first scan, with startFromEnd)
	gen       uint64 // tailDir: the number of the scan in progress

	loaded    *file // the file the buffer holds bytes of
	buf       *record.Buffer
	batch     *batch
	arena     []byte
	final     []*event.Event // the records buffered at Close, owned, for the last Nexts
	finalEnds []int64        // the offset after each of them
	finalFile *file

	w        *watcher
	dirty    map[string]struct{} // names an event was reported for
	rescan   bool                // look at everything: notifications were lost
	due      time.Time           // the next look at the names
	wake     time.Duration       // the time between looks, shorter after activity
	nextWalk time.Time           // tailDir: the next scan of the tree
	timer    *time.Timer
}

func newSource(bc *plugin.BuildContext, cfg config) *Source {
	if cfg.poll <= 0 {
		cfg.poll = DefaultPollPeriod
	}
	cfg.idle = max(10*cfg.poll, minIdle)
	if cfg.maxOpen <= 0 {
		cfg.maxOpen = DefaultMaxOpen
	}
	return &Source{
		cfg:    cfg,
		host:   event.Hostname(),
		ctr:    newCounters(bc.Counters().Sub(cfg.name)),
		log:    bc.Log(),
		closed: make(chan struct{}),
	}
}

// Open looks for the files, opens the watches and, with a position given to Resume, finds the
// files of the earlier run. A file that does not exist yet is not an error: it is waited for.
// A tail name that is a directory, or a tailDir path that is not one, is a permanent error.
func (s *Source) Open(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened {
		return nil
	}
	select {
	case <-s.closed:
		return ErrNotOpen
	default:
	}
	if err := s.checkRoots(); err != nil {
		return plugin.Permanent(fmt.Errorf("%s: %w", s.cfg.name, err))
	}
	s.buf = record.NewBuffer(s.cfg.framer, s.cfg.max, s.cfg.policy)
	s.batch = newBatch(record.MaxBatch)
	s.targets = make(map[string]*target)
	s.byID = make(map[fileID]*file)
	s.dirty = make(map[string]struct{})
	s.w = newWatcher(s.log)
	for i, p := range s.cfg.paths {
		s.fixed = append(s.fixed, s.addTarget(p, i))
	}
	s.fromEnd = s.cfg.startFromEnd
	if s.resume != nil {
		if s.restore(s.resume) {
			s.fromEnd = false // the position says where every file is; new files are new
		}
		s.resume = nil
	}
	now := time.Now()
	s.watchDirs()
	s.rescan = true
	s.tick(now)
	s.fromEnd = false
	// Files found by the position that no name denotes were rotated while the source was
	// down: they are read first, oldest first.
	for i := len(s.orphans) - 1; i >= 0; i-- {
		s.ready.push(s.orphans[i], true)
	}
	// tail holds its files from Open on, so that a rotation before the first read is seen.
	for _, t := range s.fixed {
		if t.cur != nil {
			_ = s.openFile(t.cur) // a problem is logged and reported; retried at each look
		}
	}
	s.wake, s.due = s.cfg.poll, now.Add(s.cfg.poll)
	s.opened = true
	return nil
}

// checkRoots refuses names of the wrong type: a tail name that is a directory, a tailDir path
// that is not a directory. Names that do not exist are waited for.
func (s *Source) checkRoots() error {
	if s.cfg.kind == kindDir {
		if fi, err := os.Stat(s.cfg.dir); err == nil && !fi.IsDir() {
			return fmt.Errorf("%q: %w", s.cfg.dir, ErrNotDir)
		}
		return nil
	}
	for _, p := range s.cfg.paths {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return fmt.Errorf("%q: %w", p, ErrIsDir)
		}
	}
	return nil
}

// Next returns records appended to the files, waiting for some. It returns when it has
// events, when ctx ends (ctx.Err(), at once, even while files have more to read: what is
// buffered stays for a later call), or when the source is closed: then it returns the records
// that were buffered and the held unterminated record, if any, and io.EOF after that. A batch
// holds at most record.MaxBatch events.
func (s *Source) Next(ctx context.Context) ([]*event.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opened {
		return nil, ErrNotOpen
	}
	if s.done {
		return s.takeFinal()
	}
	s.batch.reset()
	s.arena = s.arena[:0]
	for {
		// Every pass reads at most once per file, so a stop is seen between reads.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		select {
		case <-s.closed:
			s.finish()
			return s.takeFinal()
		default:
		}
		now := time.Now()
		s.housekeep(now)
		s.pump()
		if s.batch.n > 0 {
			s.ctr.count(s.batch, s.buf)
			s.active(now)
			return s.batch.events(), nil
		}
		if s.ready.len() > 0 {
			continue
		}
		if err := s.wait(ctx); err != nil {
			return nil, err
		}
	}
}

// finish releases the files, keeping the buffered records for the last Nexts: the complete
// ones, then the unterminated one if its file was read to its end and has been idle for the
// grace period. A file that changed just now may be in the middle of a write (a writer's
// write becomes visible a page at a time): its unterminated record is the head of a line that
// a restarted source reads whole. Stopped in the middle of a file, the buffer merely ends
// where a read ended, and that fragment is not a record either: the position stays before it.
func (s *Source) finish() {
	if s.done || !s.opened {
		return
	}
	s.done = true
	if f := s.loaded; f != nil {
		base := s.committed(f)
		keep := func(rec []byte) {
			e := f.tmpl
			e.Body, e.Timestamp = rec, time.Now().UnixNano()
			s.final = append(s.final, e.Clone())
			s.finalEnds = append(s.finalEnds, s.committed(f))
		}
		fi, err := f.fd.Stat()
		idle := err == nil && fi.Size() == f.pos && time.Since(fi.ModTime()) >= s.cfg.idle
		if idle {
			s.buf.Settle() // a delimiter match at the end is final too
		}
		for rec, ok := s.buf.Next(); ok; rec, ok = s.buf.Next() {
			keep(rec)
		}
		if idle {
			if rec, ok := s.buf.Remainder(); ok {
				keep(rec)
			}
		}
		s.ctr.Oversize(s.buf)
		s.unload()
		f.off, s.finalFile = base, f
	}
	for len(s.open) > 0 {
		s.closeFile(s.open[len(s.open)-1])
	}
	s.w.close()
	s.buf, s.batch, s.arena = nil, nil, nil
	if s.timer != nil {
		s.timer.Stop()
	}
}

// takeFinal returns the held records, a batch at a time, then io.EOF.
func (s *Source) takeFinal() ([]*event.Event, error) {
	n := len(s.final)
	f := record.TakeHeld(&s.final)
	if f == nil {
		return nil, io.EOF
	}
	s.finalFile.off = s.finalEnds[len(f)-1]
	s.finalEnds = s.finalEnds[len(f):]
	if n == len(f) {
		s.finalEnds = nil
	}
	s.ctr.Add(f)
	return f, nil
}

// Close stops the source and releases the files. The calls to Next that follow return what
// was buffered: the complete records, then the unterminated one, then io.EOF. A Next in
// progress in another goroutine returns them in the same way. Safe without Open and twice.
func (s *Source) Close(context.Context) error {
	s.once.Do(func() { close(s.closed) })
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finish()
	return nil
}

// Condition reports what holds the source up: a file it cannot read, a name that is not a
// regular file. Empty when nothing does.
func (s *Source) Condition() string {
	if p := s.note.Load(); p != nil {
		return *p
	}
	return ""
}
