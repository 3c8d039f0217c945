package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/flumego/flume/internal/atomicfile"
	"github.com/flumego/flume/node/plugin"
)

// A flow whose source can resume (plugin.Checkpointer) and whose sink cannot keep positions
// with its data (not a plugin.PositionStore: console, text, collectorSink...) keeps them in a
// file of its logical node's data directory. The file is written after the events before the
// position were handed to the sink, at most every positionEvery while events flow, and once
// more after the sink closed (flushed) when the flow stops. A flow that stops gracefully resumes
// exactly where it stopped; after a crash, it reads again at most positionEvery of events, and
// whatever the sink buffered and lost with the process: at least once, as best effort can.
// A flow whose source reached its end (text) removes the file: its next run reads from the
// start, as classic Flume did. An agent sink keeps positions with its data and gives exactly
// once.

// positionFileName is the name of the position file in the logical node's data directory.
const positionFileName = "source.position"

// positionEvery is the most time between two writes of the position file while events flow.
const positionEvery = 200 * time.Millisecond

// filePositions is the position file of a flow.
type filePositions struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	pending []byte // the newest position, not written yet
	written time.Time
}

var _ plugin.PositionStore = (*filePositions)(nil)

func newFilePositions(dir string, log *slog.Logger) *filePositions {
	return &filePositions{path: filepath.Join(dir, positionFileName), log: log}
}

// LastPosition returns the position the file holds, nil if there is none. A file that cannot
// be read is logged with its path, and the source starts as on a first run; a position the
// source cannot use is logged by the source.
func (p *filePositions) LastPosition() []byte {
	b, err := os.ReadFile(p.path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			p.log.Warn("cannot read the source's position file; the source starts as on a first run",
				"file", p.path, "err", err)
		}
		return nil
	}
	if len(b) == 0 {
		return nil
	}
	p.log.Info("resuming the source from its position file", "file", p.path)
	return b
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
// whose source ended removes the file instead: the next run is a run of its own.
func (p *filePositions) flush(ended bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ended {
		p.pending = nil
		if err := os.Remove(p.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("position file: %w", err)
		}
		return nil
	}
	return p.writeLocked()
}

func (p *filePositions) writeLocked() error {
	if p.pending == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p.path), 0o750); err != nil {
		return fmt.Errorf("position file: %w", err)
	}
	if err := atomicfile.Write(p.path, p.pending, 0o640); err != nil {
		return fmt.Errorf("position file: %w", err)
	}
	p.pending, p.written = nil, time.Now()
	return nil
}

// positionsFor returns where the driver keeps the positions of a flow's source: its sink, the
// position file of dir, or nowhere (nil) for a source that cannot resume or a node without a
// data directory.
func positionsFor(src plugin.Source, snk plugin.Sink, dir string, log *slog.Logger) plugin.PositionStore {
	if _, ok := src.(plugin.Checkpointer); !ok {
		return nil
	}
	if ps, ok := snk.(plugin.PositionStore); ok {
		return ps
	}
	if dir == "" {
		return nil
	}
	return newFilePositions(dir, log)
}
