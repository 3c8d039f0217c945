package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/flumego/flume/internal/atomicfile"
)

// An agent sink keeps its source's position with its data (plugin.PositionStore), so that a
// restarted agent reads on exactly where the events it still holds end. A position travels
// with the chunk of the last event before it: in the log record of an end-to-end or spooled
// chunk, so that the position is durable exactly when the events are. Once a chunk is acked
// and leaves the log, its position goes to the sink's position file first.

// positionFile is the file of the position of the last chunk acked.
const positionFile = "position"

type savedPosition struct {
	Seq uint64 `json:"seq"`
	Pos []byte `json:"pos"`
}

// SavePosition attaches pos to the chunk being filled, sealing it: the position is kept with
// the chunk's events.
func (s *Sink) SavePosition(ctx context.Context, pos []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return s.failed
	}
	s.positional = true
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.pos = slices.Clone(pos)
	if (s.count > 0 || s.sealedBare) && s.opened && !s.closed {
		// With no events waiting, the events before pos went out in chunks sealed by their
		// age: an empty chunk carries the position after them, in order.
		return s.sealLocked(ctx)
	}
	return nil
}

// LastPosition returns the position of the last chunk the sink kept: acked, or in its log.
func (s *Sink) LastPosition() []byte {
	s.mu.Lock()
	s.positional = true // positions will follow each batch: no need to seal by age
	s.mu.Unlock()
	s.posMu.Lock()
	defer s.posMu.Unlock()
	return slices.Clone(s.lastPos)
}

// loadPosition finds the last position: the newest chunk in the log that carries one, or the
// position file.
func (s *Sink) loadPosition() error {
	s.posMu.Lock()
	defer s.posMu.Unlock()
	if s.opts.LogDir == "" {
		return nil // best effort on a node without a directory: no positions are kept
	}
	b, err := os.ReadFile(filepath.Join(s.opts.LogDir, positionFile))
	switch {
	case err == nil:
		var p savedPosition
		if err := json.Unmarshal(b, &p); err != nil {
			return fmt.Errorf("position file in %s: %w", s.opts.LogDir, err)
		}
		s.lastPos, s.posSeq, s.fileAt = p.Pos, p.Seq, p.Seq
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("position file: %w", err)
	}
	if s.log == nil || s.opts.Mode != EndToEnd {
		// A disk-failover spool numbers chunks in the order they were spooled, not sealed:
		// its positions cannot be ordered against the file's; after a crash the source
		// resumes from the last acknowledged position, and spooled lines may come twice.
		return nil
	}
	refs := s.log.Unreleased()
	var tail []uint64 // chunks after the last position: an incomplete batch
	for i := len(refs) - 1; i >= 0 && refs[i].Seq > s.posSeq; i-- {
		_, pos, err := s.log.request(refs[i].Seq)
		if err == nil && pos != nil {
			s.lastPos, s.posSeq = slices.Clone(pos), refs[i].Seq
			break
		}
		tail = append(tail, refs[i].Seq)
	}
	if s.lastPos != nil && len(tail) > 0 {
		// The source reads these events again from the position: sending them too would
		// deliver them twice.
		s.bc.Log().Warn("dropping log chunks past the last source position; the source reads them again",
			"chunks", len(tail), "position_chunk", s.posSeq)
		if err := s.log.Release(tail...); err != nil {
			return fmt.Errorf("drop chunks past the last position: %w", err)
		}
	}
	return nil
}

// keepPosition writes the position of an acked chunk to the position file, before the chunk
// leaves the log.
func (s *Sink) keepPosition(seq uint64, pos []byte) error {
	s.posMu.Lock()
	defer s.posMu.Unlock()
	if seq <= s.fileAt || s.opts.LogDir == "" {
		return nil // acked out of order: the file holds a newer position already
	}
	b, err := json.Marshal(savedPosition{Seq: seq, Pos: pos})
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(s.opts.LogDir, positionFile), b, 0o640); err != nil {
		return err
	}
	// The rename must be durable before the chunks it covers leave the log (a release is
	// durable when it returns): else a power loss could bring an older position back.
	if err := atomicfile.SyncDir(s.opts.LogDir); err != nil {
		return err
	}
	s.fileAt = seq
	if seq > s.posSeq {
		s.lastPos, s.posSeq = slices.Clone(pos), seq
	}
	return nil
}
