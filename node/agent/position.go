package agent

import (
	"context"
	"fmt"
	"slices"

	"github.com/flumego/flume/node/position"
)

// An agent sink keeps its source's positions (plugin.PositionStore) in its logical node's
// position store, so that a restarted agent, or the next version of its config, reads on
// exactly where the events it still holds end. A position travels with the chunk of the last
// event before it: in the log record of an end-to-end or spooled chunk, so that the position
// is durable exactly when the events are. Once a chunk is acked and leaves the log, its
// position goes to the store first; a sink that closes with chunks in its log (end to end) or
// spool (disk failover) stores the position of the last one, as those chunks are sent by the
// next flow of the logical node.

// ClaimPositions implements plugin.PositionStore: positions kept for another source, in the
// store or with chunks of the log, are not resumed from.
func (s *Sink) ClaimPositions(source string) error {
	if s.positions == nil {
		return nil
	}
	_, next, _, _ := s.chunks.state()
	floor := next - 1
	changed, err := s.positions.Claim(source, floor)
	if err != nil || !changed {
		return err
	}
	s.posMu.Lock()
	defer s.posMu.Unlock()
	s.lastPos, s.posSeq, s.fileAt = nil, max(s.posSeq, floor), max(s.fileAt, floor)
	return nil
}

// SavePosition attaches pos to the chunk being filled, sealing it: the position is kept with
// the chunk's events.
func (s *Sink) SavePosition(ctx context.Context, pos []byte) error {
	if !s.opened || s.closed {
		return nil
	}
	return s.chunks.position(ctx, pos)
}

// LastPosition returns the position of the last chunk the sink kept: acked, or in its log.
func (s *Sink) LastPosition() []byte {
	if s.chunks != nil {
		s.chunks.expectPositions() // positions will follow each batch: no need to seal by age
	}
	s.posMu.Lock()
	defer s.posMu.Unlock()
	return slices.Clone(s.lastPos)
}

// openPositions finds the store: the logical node's, or a file beside the log for a sink
// built without one.
func (s *Sink) openPositions() {
	s.positions = s.bc.Positions
	if s.positions == nil && s.opts.LogDir != "" {
		s.positions = position.New(s.opts.LogDir, s.bc.Log())
	}
}

// loadPosition finds the last position: the newest chunk in the log that carries one, or the
// store's.
func (s *Sink) loadPosition() error {
	s.posMu.Lock()
	defer s.posMu.Unlock()
	if s.positions == nil {
		return nil // best effort on a node without a directory: no positions are kept
	}
	r, err := s.positions.Load()
	if err != nil {
		return err
	}
	s.lastPos, s.posSeq, s.fileAt = r.Pos, r.Seq, r.Seq
	if s.log == nil || s.opts.Mode != EndToEnd {
		// A disk-failover spool numbers chunks in the order they were spooled, not sealed:
		// its positions cannot be ordered against the store's; the sink stores the position
		// of its last chunk when it closes, and after a crash the source resumes from the last
		// acknowledged position, so spooled lines may come twice.
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

// keepPosition stores the position of an acked chunk, before the chunk leaves the log; or, at
// Close, the position of the last chunk sealed, which the log or spool keeps.
func (s *Sink) keepPosition(seq uint64, pos []byte) error {
	s.posMu.Lock()
	defer s.posMu.Unlock()
	if seq <= s.fileAt || s.positions == nil {
		return nil // acked out of order: the store holds a newer position already
	}
	// The store's write is durable before the chunks it covers leave the log (a release is
	// durable when it returns): else a power loss could bring an older position back.
	if err := s.positions.Save(seq, pos); err != nil {
		return err
	}
	s.fileAt = seq
	if seq > s.posSeq {
		s.lastPos, s.posSeq = slices.Clone(pos), seq
	}
	return nil
}
