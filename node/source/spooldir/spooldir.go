// Package spooldir is the spooling directory source of Flume NG in the dataflow language:
//
//	spooldir("dir"{, suffix=".COMPLETED", deletePolicy="never|immediate",
//	         includePattern="^.*$", ignorePattern="^$", pollDelay=500, oversize="truncate"})
//
// Files dropped into dir are read once each, oldest modification time first (then by name),
// one event per '\n'-terminated line (a last line without '\n' is an event too; a '\r' before
// the '\n' is dropped), each carrying the file's base name in attribute spoolSrcFile. A file
// fully delivered is renamed with suffix, or removed with deletePolicy="immediate", and the
// next one is read; when none is left the directory is polled every pollDelay milliseconds.
//
// Which files: names matching includePattern and not ignorePattern (RE2, matched against the
// whole name as Java's matches() did), skipping hidden names (a leading '.'), names ending in
// suffix or in ".CHANGED", directories and anything that is not a regular file. The spool
// contract is NG's: a file must be complete and unchanging once it appears, and names must not
// be reused. Write a file elsewhere, or under an ignored or hidden name, and rename it in.
//
// Exactly once across restarts. The source is a plugin.Checkpointer: its position (the file,
// its identity and modification time, and the offset after the last line returned) is kept by
// a PositionStore sink with the events it covers, and a restarted flow resumes from it,
// mid-file, without reading a line twice or skipping one. A file counts as fully delivered,
// and is renamed, only once its last line is known delivered: the driver took the Position
// after it (to save it) or acknowledged the batch holding it (plugin.Acker); the rename
// happens in the following Next, which the driver calls only after both. Renames are made
// durable (the directory is synced) before the next file is read, so a saved position never
// names a later file while an earlier one could come back.
//
// A file that changed after it was picked up is never silently mixed with what was read of it:
// if at its end its size is not what was read or its modification time moved, or if by the
// time it is to be marked done it changed again, or if a restart finds it so, it is set aside:
// renamed with ".CHANGED" (never deleted), logged with what changed, and counted in
// files_changed. What was read of it before the change has been delivered; nothing after.
// The source then goes on with the next file, where NG's source stopped altogether. A file
// that cannot be opened or read is an error of Next naming it: the flow stops rather than
// skip it.
//
// One limit: a line over flume.event.max.size.bytes that is cut (oversize="truncate") while
// the rest of it is not read yet leaves the position inside it; a flow that crashes right
// then delivers the rest of that line as a line of its own after the restart.
//
// Name collisions: a file whose done name is taken ("a.log.COMPLETED" from an earlier "a.log")
// gets a numbered one, "a.log.1.COMPLETED", with a warning.
//
// Metrics, under spooldir: events_in, bytes_in, events_truncated, events_rejected, events_split
// (as every source of lines), files_done and files_changed.
package spooldir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/source/internal/record"
	"github.com/flumego/flume/node/spec"
)

const (
	// AttrSpoolSrcFile is the attribute holding the base name of the file a line came from.
	AttrSpoolSrcFile = "spoolSrcFile"
	// DefaultSuffix is what a file fully delivered is renamed with, as in Flume NG.
	DefaultSuffix = ".COMPLETED"
	// ChangedSuffix is what a file that changed after it was picked up is renamed with.
	ChangedSuffix = ".CHANGED"
	// DefaultPollDelay is how often an empty spool directory is looked at again.
	DefaultPollDelay = 500 * time.Millisecond
	// Doc describes the source in one line.
	Doc = "reads each file dropped into a directory once, line by line, then renames it (Flume NG's spooling directory)"
)

// Signature is the spooldir source's signature.
var Signature = spec.Signature{
	Name: "spooldir",
	Params: []spec.Param{
		{Name: "dir", Kind: spec.ParamString, Required: true},
		{Name: "suffix", Kind: spec.ParamString, KeywordOnly: true, Default: `".COMPLETED"`},
		{Name: "deletePolicy", Kind: spec.ParamString, KeywordOnly: true, Default: `"never"`},
		{Name: "includePattern", Kind: spec.ParamString, KeywordOnly: true, Default: `"^.*$"`},
		{Name: "ignorePattern", Kind: spec.ParamString, KeywordOnly: true, Default: `"^$"`},
		{Name: "pollDelay", Kind: spec.ParamDuration, KeywordOnly: true, Default: "500"},
		record.OversizeParam,
	},
	UsageText: `spooldir("dir"{, suffix=".COMPLETED", deletePolicy="never|immediate", includePattern="^.*$", ` +
		`ignorePattern="^$", pollDelay=500, oversize="truncate|reject|split"})`,
}

// ErrNotOpen is returned by Next before Open, and by Open after Close.
var ErrNotOpen = errors.New("spooldir source not open")

// The source resumes from a saved position and learns of delivered batches.
var (
	_ plugin.Checkpointer = (*Source)(nil)
	_ plugin.Acker        = (*Source)(nil)
)

// Register adds the spooldir source to r.
func Register(r *plugin.Registry) {
	r.RegisterSource(Signature, Doc, Build)
}

// Source is the spooldir source. The driver calls its methods from one goroutine; Close may
// also come from another one, and ends a Next that waits for files.
type Source struct {
	dir        string
	suffix     string
	deleteDone bool
	include    *regexp.Regexp
	ignore     *regexp.Regexp
	poll       time.Duration
	max        int
	policy     event.OversizePolicy
	host       string
	log        *slog.Logger
	ctr        record.Counters
	filesDone  *metrics.Counter
	changed    *metrics.Counter

	mu     sync.Mutex // held by Next while it works, and by the other methods
	closed chan struct{}
	once   sync.Once
	opened bool
	buf    *record.Buffer // the read buffer, reused from file to file
	queue  []string       // names to read, oldest first, from the last look at the directory
	cur    *spoolFile     // the file being read; nil between files
	// pending is set when Next returned events of cur that neither Position nor Ack has
	// confirmed since: while it is set, cur is not marked done.
	pending bool
	resume  *position
	timer   *time.Timer
}

// Build builds a spooldir source from its arguments. It does no I/O.
func Build(bc *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	dir := args.String("dir", "")
	if dir == "" {
		return nil, args.Errorf("dir", "empty directory name")
	}
	suffix := args.String("suffix", DefaultSuffix)
	switch {
	case suffix == "":
		return nil, args.Errorf("suffix", "empty suffix: a file done would keep its name and be read again")
	case strings.ContainsRune(suffix, '/') || strings.ContainsRune(suffix, filepath.Separator):
		return nil, args.Errorf("suffix", "%q has a path separator", suffix)
	case strings.HasSuffix(suffix, ChangedSuffix) || strings.HasSuffix(ChangedSuffix, suffix):
		return nil, args.Errorf("suffix", "%q cannot be told apart from %q, which marks files that changed", suffix, ChangedSuffix)
	}
	var deleteDone bool
	switch p := args.String("deletePolicy", "never"); p {
	case "never":
	case "immediate":
		deleteDone = true
	default:
		return nil, args.Errorf("deletePolicy", "%q: want never or immediate", p)
	}
	include, err := wholeName(args, "includePattern", "^.*$")
	if err != nil {
		return nil, err
	}
	ignore, err := wholeName(args, "ignorePattern", "^$")
	if err != nil {
		return nil, err
	}
	policy, err := record.Oversize(args)
	if err != nil {
		return nil, err
	}
	poll := args.Duration("pollDelay", DefaultPollDelay)
	if poll <= 0 {
		return nil, args.Errorf("pollDelay", "must be more than 0")
	}
	m := bc.Counters().Sub("spooldir")
	return &Source{
		dir:        filepath.Clean(dir),
		suffix:     suffix,
		deleteDone: deleteDone,
		include:    include,
		ignore:     ignore,
		poll:       poll,
		max:        bc.MaxEventSize(),
		policy:     policy,
		host:       event.Hostname(),
		log:        bc.Log(),
		ctr:        record.NewCounters(m),
		filesDone:  m.Counter("files_done"),
		changed:    m.Counter("files_changed"),
		closed:     make(chan struct{}),
	}, nil
}

// wholeName compiles string argument name as an RE2 regex that must match a whole file name,
// as Java's Matcher.matches() matched NG's patterns.
func wholeName(args *spec.Args, name, def string) (*regexp.Regexp, error) {
	expr := args.String(name, def)
	if _, err := regexp.Compile(expr); err != nil {
		return nil, args.Errorf(name, "%v (the syntax is RE2)", err)
	}
	return regexp.MustCompile(`^(?:` + expr + `)$`), nil
}

// Open checks the directory. A missing directory, or a path that is not one, is an error
// naming it.
func (s *Source) Open(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened {
		return nil
	}
	if s.isClosed() {
		return ErrNotOpen
	}
	fi, err := os.Stat(s.dir)
	if err != nil {
		return fmt.Errorf("spooldir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("spooldir: %q is not a directory", s.dir)
	}
	s.buf = record.NewBuffer(record.Lines(), s.max, s.policy)
	s.opened = true
	return nil
}

// Next returns lines of the current file, a batch from one file at a time, waiting for files
// when the directory has none. Before reading on it marks the file it finished done (or sets
// aside one that changed). It returns ctx.Err() as soon as ctx is done, keeping its place.
// After Close it returns the complete lines already buffered, then io.EOF.
//
// The last batch of a file must be confirmed (Position or Ack) before the file is marked
// done: a Next that finds it unconfirmed, which the flow driver never makes, waits as for an
// empty directory.
func (s *Source) Next(ctx context.Context) ([]*event.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opened {
		return nil, ErrNotOpen
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		closed := s.isClosed()
		c := s.cur
		switch {
		case c != nil && c.changed != "":
			if err := s.setAside(c); err != nil {
				return nil, err
			}
			continue
		case c != nil && c.finished && !s.pending:
			if err := s.retire(c); err != nil {
				return nil, err
			}
			continue
		case c != nil && c.finished, c == nil && closed:
			if closed {
				return nil, io.EOF
			}
			if err := s.wait(ctx); err != nil {
				return nil, err
			}
			continue
		case c == nil:
			ok, err := s.pick()
			if err != nil {
				return nil, err
			}
			if !ok {
				if err := s.wait(ctx); err != nil {
					return nil, err
				}
			}
			continue
		}
		evs, err := s.read(ctx, c, closed)
		if err != nil || evs != nil {
			return evs, err
		}
		if closed && !c.finished && c.changed == "" {
			return nil, io.EOF // what was buffered is out; the rest is for the next run
		}
	}
}

// isClosed reports whether Close was called.
func (s *Source) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
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

// Close stops the source and releases the file it reads. The calls to Next that follow return
// the complete lines already buffered, then io.EOF; a finished file whose last batch was
// confirmed is still marked done by them. Safe without Open and twice.
func (s *Source) Close(context.Context) error {
	s.once.Do(func() { close(s.closed) })
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		s.cur.release(s.log)
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	return nil
}
