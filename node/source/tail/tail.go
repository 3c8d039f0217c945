// Package tail is the tail source: it follows one file by name, as `tail -F` does, and makes an
// event of every line (or of every record cut by a delimiter regex) appended to it.
//
// It follows the name, not the file: when the name comes to denote another file (a rename and
// create rotation), the old file is read to its end, its unterminated last record is emitted,
// and the new file is read from its start. A file that shrinks below what was read was truncated
// in place (copytruncate) and is read again from its start. A file that does not exist yet is
// waited for. An unterminated last record is held until it is completed, the file rotates, or
// the source closes.
//
// Reading is polled: after reading to the end of the file, tail checks again every
// flume.tail.pollperiod (1000 ms), and reads without pause while there is data.
//
// Offsets are not persisted yet: a restarted tail reads the file again from its start (or from
// its end with startFromEnd), as classic Flume did. The read position is kept in one place
// (cursor) so that a checkpoint can record it.
package tail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/source/internal/record"
	"github.com/flumego/flume/node/spec"
)

// AttrTailSrcFile is the attribute holding the base name of the tailed file.
const AttrTailSrcFile = "tailSrcFile"

// DefaultPollPeriod is the default of flume.tail.pollperiod.
const DefaultPollPeriod = time.Second

// Doc describes the source in one line.
const Doc = "follows a file by name across rotation and truncation: one event per line or delimited record"

// Signature is the tail source's signature. delim is an RE2 regular expression (classic took
// Java's, which agree on everything but lookarounds and backreferences).
var Signature = spec.Signature{
	Name: "tail",
	Params: []spec.Param{
		{Name: "file", Kind: spec.ParamString, Required: true},
		{Name: "startFromEnd", Kind: spec.ParamBool, Default: "false"},
		{Name: "delim", Kind: spec.ParamString, KeywordOnly: true},
		{Name: "delimMode", Kind: spec.ParamString, KeywordOnly: true, Default: `"exclude"`},
		record.OversizeParam,
	},
	UsageText: `tail("file"[, startFromEnd=false]{, delim="regex", delimMode="exclude|prev|next", oversize="truncate|reject"})`,
}

var (
	// ErrNotOpen is returned by Next before Open.
	ErrNotOpen = errors.New("tail source not open")
	// ErrIsDir is returned when the tailed path is a directory.
	ErrIsDir = errors.New("is a directory")
)

// Source is the tail source. The driver calls Next and Close from one goroutine; Close also
// unblocks a Next in progress, so that a Close from another goroutine is safe as well.
type Source struct {
	path         string
	startFromEnd bool
	poll         time.Duration
	framer       record.Framer
	max          int
	policy       event.OversizePolicy
	host         string
	attr         []byte
	ctr          record.Counters
	log          *slog.Logger

	mu     sync.Mutex // held by Next while it works, and by Close
	closed chan struct{}
	once   sync.Once
	opened bool
	done   bool           // the file is released; what was held is in final
	final  []*event.Event // the records buffered at Close, owned, returned by the last Nexts
	cur    cursor
	buf    *record.Buffer
	batch  *record.Batch
	timer  *time.Timer
}

// Build builds a tail source from its arguments.
func Build(bc *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	path := args.String("file", "")
	if path == "" {
		return nil, args.Errorf("file", "empty file name")
	}
	framer := record.Lines()
	if args.Has("delim") {
		re, err := regexp.Compile(args.String("delim", ""))
		if err != nil {
			return nil, args.Errorf("delim", "%v", err)
		}
		mode, err := record.ParseMode(args.String("delimMode", "exclude"))
		if err != nil {
			return nil, args.Errorf("delimMode", "%v", err)
		}
		if framer, err = record.Delimited(re, mode); err != nil {
			return nil, args.Errorf("delim", "%v", err)
		}
	} else if args.Has("delimMode") {
		return nil, args.Errorf("delimMode", "needs delim=\"regex\"")
	}
	policy, err := record.Oversize(args)
	if err != nil {
		return nil, err
	}
	poll := bc.PropMillis("flume.tail.pollperiod", DefaultPollPeriod)
	if poll <= 0 {
		poll = DefaultPollPeriod
	}
	return &Source{
		path:         path,
		startFromEnd: args.Bool("startFromEnd", false),
		poll:         poll,
		framer:       framer,
		max:          bc.MaxEventSize(),
		policy:       policy,
		host:         event.Hostname(),
		attr:         []byte(filepath.Base(path)),
		ctr:          record.NewCounters(bc.Counters().Sub("tail")),
		log:          bc.Log(),
		closed:       make(chan struct{}),
	}, nil
}

// Open opens the file if it exists, at its end with startFromEnd. A file that does not exist
// yet is not an error: tail waits for it (and reads it from its start). A path that is a
// directory or cannot be read is an error naming it.
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
	s.buf = record.NewBuffer(s.framer, s.max, s.policy)
	s.batch = record.NewBatch(record.MaxBatch, s.host, event.Attr{Key: AttrTailSrcFile, Value: s.attr})
	if _, err := s.cur.open(s.path, s.startFromEnd); err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	s.opened = true
	return nil
}

// Next returns the records appended to the file, waiting for some. It returns when it has
// events, when ctx ends (ctx.Err(), at once, even while the file has more to read: what is
// buffered stays for a later call), or when the source is closed: then it returns the records
// that were buffered and the held unterminated record, if any, and io.EOF after that.
func (s *Source) Next(ctx context.Context) ([]*event.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opened {
		return nil, ErrNotOpen
	}
	for {
		// Every pass reads at most once, so a stop is seen between reads.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		select {
		case <-s.closed:
			s.finish()
			return s.takeFinal()
		default:
		}
		b := s.batch
		b.Reset()
		s.collect()
		if b.Len() > 0 {
			s.ctr.Count(b, s.buf)
			return b.Events(), nil
		}
		progress, err := s.advance()
		if err != nil {
			return nil, fmt.Errorf("tail: %w", err)
		}
		if b.Len() > 0 {
			s.ctr.Count(b, s.buf)
			return b.Events(), nil
		}
		if progress {
			continue
		}
		if err := s.wait(ctx); err != nil {
			return nil, err
		}
	}
}

// collect moves the complete records that are buffered into the batch.
func (s *Source) collect() {
	now := time.Now().UnixNano()
	for !s.batch.Full() {
		rec, ok := s.buf.Next()
		if !ok {
			return
		}
		s.batch.Add(rec, now)
	}
}

// wait sleeps one poll period, or until ctx ends or the source closes.
func (s *Source) wait(ctx context.Context) error {
	if s.timer == nil {
		s.timer = time.NewTimer(s.poll)
	} else {
		s.timer.Reset(s.poll)
	}
	select {
	case <-s.timer.C:
		return nil
	case <-ctx.Done():
		s.timer.Stop()
		return ctx.Err()
	case <-s.closed:
		s.timer.Stop()
		return nil // the loop sees closed
	}
}

// finish releases the file, keeping the unterminated record for the last Next.
func (s *Source) finish() {
	if s.done || !s.opened {
		return
	}
	s.done = true
	// What is buffered is all there will be: complete records, then the unterminated one.
	keep := func(rec []byte) {
		e := event.New(append([]byte(nil), rec...))
		_ = e.SetAttr(AttrTailSrcFile, s.attr)
		s.final = append(s.final, e)
	}
	s.buf.Settle()
	for rec, ok := s.buf.Next(); ok; rec, ok = s.buf.Next() {
		keep(rec)
	}
	// An unterminated record is the file's last line only if everything was read: then it is
	// delivered, as classic tail did on close. Stopped in the middle of a file, the buffer
	// merely ends where a read ended, and that fragment is not a record: it stays unread.
	if s.cur.atEnd() {
		if rec, ok := s.buf.Remainder(); ok {
			keep(rec)
		}
	}
	s.ctr.Oversize(s.buf)
	if err := s.cur.close(); err != nil {
		s.log.Warn("tail: close", "file", s.path, "err", err)
	}
	s.buf, s.batch = nil, nil
}

// takeFinal returns the held records, a batch at a time, then io.EOF.
func (s *Source) takeFinal() ([]*event.Event, error) {
	f := record.TakeHeld(&s.final)
	if f == nil {
		return nil, io.EOF
	}
	s.ctr.Add(f)
	return f, nil
}

// Close stops the source and releases the file. The calls to Next that follow return what was
// buffered: the complete records, then the unterminated one, then io.EOF. A Next in progress
// in another goroutine returns them in the same way. Safe without Open and twice.
func (s *Source) Close(context.Context) error {
	s.once.Do(func() { close(s.closed) })
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finish()
	return nil
}
