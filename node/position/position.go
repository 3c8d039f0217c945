// Package position is a logical node's position store: where its source resumes after a
// restart or a new config version, whatever the shape of its sink.
//
// A logical node has one store, a small file in its data directory, kept across the versions
// of its config. A record names the source it belongs to (its canonical spec text), the order
// of the batch it came with, and the source's position after that batch. Whoever makes a batch
// safe writes the batch's position: an agent sink once its collector acked the batch (or, end
// to end, once the batch is in its write-ahead log, which keeps the position with the events),
// a local sink once the batch is handed to it and flushed. A new config version whose source is
// the same resumes from the record; a changed source starts as configured, and its old
// position is dropped with a log line (Claim).
package position

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/flumego/flume/internal/atomicfile"
)

// FileName is the name of the store's file in the logical node's data directory.
const FileName = "position"

// Record is what the store holds.
type Record struct {
	// Source is the canonical spec of the source the position belongs to; empty in a
	// record of an older release, which belongs to whatever source runs.
	Source string `json:"source,omitempty"`
	// Seq orders the records: a record is never replaced by one with a lower Seq. Agent
	// sinks number their chunks past it, so chunks a log still holds from before are told
	// from those sealed after the record.
	Seq uint64 `json:"seq"`
	// Pos is the source's position, opaque; nil: start as configured.
	Pos []byte `json:"pos,omitempty"`
}

// Store is a logical node's position store. It is safe for concurrent use.
type Store struct {
	dir    string
	legacy []string // files of older releases, read when the store's own file is missing
	log    *slog.Logger

	mu     sync.Mutex
	rec    Record
	loaded bool
}

// New returns the store of the logical node whose data directory is dir. legacy names files
// an older release kept positions in: a JSON record, or the raw position bytes; the first that
// exists is read while the store has no file of its own.
func New(dir string, log *slog.Logger, legacy ...string) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{dir: dir, legacy: legacy, log: log}
}

// Path returns the store's file.
func (s *Store) Path() string { return filepath.Join(s.dir, FileName) }

// Load returns the record, reading the file the first time. A file that cannot be read is an
// error that names it, each time; one that does not decode is an error the first time, and the
// store is empty after it.
func (s *Store) Load() (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(); err != nil {
		return Record{}, err
	}
	return s.copyLocked(), nil
}

func (s *Store) copyLocked() Record {
	r := s.rec
	r.Pos = slices.Clone(r.Pos)
	return r
}

func (s *Store) loadLocked() error {
	if s.loaded {
		return nil
	}
	b, err := os.ReadFile(s.Path())
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &s.rec); err != nil {
			// Said once: the store is then empty, and the next write replaces the file.
			s.rec, s.loaded = Record{}, true
			return fmt.Errorf("position file %s does not decode: %w", s.Path(), err)
		}
	case errors.Is(err, os.ErrNotExist):
		s.loadLegacyLocked()
	default:
		return fmt.Errorf("position file: %w", err)
	}
	s.loaded = true
	return nil
}

func (s *Store) loadLegacyLocked() {
	for _, p := range s.legacy {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			s.log.Warn("cannot read the position file of an older release; it is ignored", "file", p, "err", err)
			continue
		}
		var r Record
		if json.Unmarshal(b, &r) == nil && (r.Seq != 0 || r.Pos != nil) {
			s.rec = r
		} else if len(b) > 0 {
			s.rec = Record{Pos: b}
		}
		s.log.Info("position taken from the file of an older release", "file", p)
		return
	}
}

// Save keeps pos as the position after the batch numbered seq, durably, unless the store holds
// a later one. The record keeps the source it names.
func (s *Store) Save(seq uint64, pos []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(); err != nil {
		return err
	}
	if seq < s.rec.Seq {
		return nil
	}
	r := Record{Source: s.rec.Source, Seq: seq, Pos: slices.Clone(pos)}
	return s.writeLocked(r)
}

// Next saves pos under the next number: for keepers that number nothing themselves.
func (s *Store) Next(pos []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(); err != nil {
		return err
	}
	return s.writeLocked(Record{Source: s.rec.Source, Seq: s.rec.Seq + 1, Pos: slices.Clone(pos)})
}

// Claim makes the store the position store of source (its canonical spec). It reports
// whether the record belonged to another source: its position is dropped, with a log line,
// and the new source starts as configured. floor is the highest number the position's keeper
// gave so far: positions numbered up to it that it still holds belong to the old source.
func (s *Store) Claim(source string, floor uint64) (changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(); err != nil {
		return false, err
	}
	if s.rec.Source == source {
		return false, nil
	}
	changed = s.rec.Source != "" && s.rec.Pos != nil
	r := Record{Source: source, Seq: max(s.rec.Seq, floor), Pos: s.rec.Pos}
	if s.rec.Source != "" {
		r.Pos = nil
		if changed {
			s.log.Info("the source changed: its old position is dropped and the new source starts as configured",
				"old_source", s.rec.Source, "source", source)
		}
	}
	return changed, s.writeLocked(r)
}

// Drop forgets the position: the source's next run starts as configured (a source that
// reached its end).
func (s *Store) Drop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(); err != nil {
		return err
	}
	if s.rec.Pos == nil {
		return nil
	}
	return s.writeLocked(Record{Source: s.rec.Source, Seq: s.rec.Seq + 1})
}

// writeLocked writes r durably: the file is renamed into place and the directory synced, so a
// power loss brings back neither an older record nor none.
func (s *Store) writeLocked(r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.dir, 0o750); err != nil {
		return fmt.Errorf("position file: %w", err)
	}
	if err := atomicfile.Write(s.Path(), b, 0o640); err != nil {
		return fmt.Errorf("position file: %w", err)
	}
	if err := atomicfile.SyncDir(s.dir); err != nil {
		return fmt.Errorf("position file: %w", err)
	}
	s.rec, s.loaded = r, true
	return nil
}
