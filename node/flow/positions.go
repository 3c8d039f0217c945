package flow

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/position"
)

// A flow whose source can resume (plugin.Checkpointer) keeps its positions in its logical
// node's position store (node/position), through the keeper of its sink: the agent sink behind
// the flow's forwarding decorators (plugin.Forwarder), which keeps each position with the data
// it ends, or else the flow itself (filePositions), for sinks that cannot keep positions
// (console, text, collectorSink, a fan-out...). Both write the same store, so a decorator added
// or removed, or a sink replaced, does not lose the position.
//
// The flow keeps a position after the events before it were handed to its sink, at most every
// positionEvery while events flow, and once more after the sink closed (flushed) when the flow
// stops. A flow that stops gracefully resumes exactly where it stopped; after a crash, it reads
// again at most positionEvery of events, and whatever the sink buffered and lost with the
// process: at least once, as best effort can. A flow whose source reached its end (text) drops
// the position: its next run reads from the start, as classic Flume did. An agent sink keeps
// positions with its data and gives exactly once.

// positionEvery is the most time between two writes of the position while events flow.
const positionEvery = 200 * time.Millisecond

// filePositions keeps a flow's positions in the store itself.
type filePositions struct {
	store *position.Store
	log   *slog.Logger

	mu      sync.Mutex
	pending []byte // the newest position, not written yet
	written time.Time
}

var _ plugin.PositionStore = (*filePositions)(nil)

// ClaimPositions implements plugin.PositionStore. A store that cannot be read is logged by
// LastPosition, and the source starts as on a first run; its next write replaces the file or
// fails the flow with an error naming it.
func (p *filePositions) ClaimPositions(source string) error {
	if _, err := p.store.Load(); err != nil {
		p.log.Warn("cannot read the source's position file; the source starts as on a first run",
			"file", p.store.Path(), "err", err)
		return nil
	}
	_, err := p.store.Claim(source, 0)
	return err
}

// LastPosition returns the position the store holds, nil if there is none. A store that cannot
// be read is logged with its path, and the source starts as on a first run; a position the
// source cannot use is logged by the source.
func (p *filePositions) LastPosition() []byte {
	r, err := p.store.Load()
	if err != nil {
		return nil // logged by ClaimPositions
	}
	if r.Pos != nil {
		p.log.Info("resuming the source from its position", "file", p.store.Path())
	}
	return r.Pos
}

// SavePosition keeps pos, and writes it if the last write is positionEvery old.
func (p *filePositions) SavePosition(_ context.Context, pos []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = slices.Clone(pos)
	if time.Since(p.written) < positionEvery {
		return nil
	}
	return p.writeLocked()
}

// flush writes the newest position, if it is not written yet: after the sink closed. A flow
// whose source ended drops the position instead: the next run is a run of its own.
func (p *filePositions) flush(ended bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ended {
		p.pending = nil
		return p.store.Drop()
	}
	return p.writeLocked()
}

func (p *filePositions) writeLocked() error {
	if p.pending == nil {
		return nil
	}
	if err := p.store.Next(p.pending); err != nil {
		return err
	}
	p.pending, p.written = nil, time.Now()
	return nil
}

// keeperOf returns the sink that keeps positions for snk: snk, or the sink behind its
// forwarding decorators, if it is a plugin.PositionStore; nil otherwise.
func keeperOf(snk plugin.Sink) plugin.PositionStore {
	for snk != nil {
		if ps, ok := snk.(plugin.PositionStore); ok {
			return ps
		}
		f, ok := snk.(plugin.Forwarder)
		if !ok {
			return nil
		}
		snk = f.Forwards()
	}
	return nil
}

// positionsFor returns where the driver keeps the positions of a flow's source: the keeper of
// its sink, the store itself, or nowhere (nil) for a source that cannot resume or a node
// without a position store.
func positionsFor(src plugin.Source, snk plugin.Sink, store *position.Store, log *slog.Logger) plugin.PositionStore {
	if _, ok := src.(plugin.Checkpointer); !ok {
		return nil
	}
	if ps := keeperOf(snk); ps != nil {
		return ps
	}
	if store == nil {
		return nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &filePositions{store: store, log: log}
}
