package tail

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
)

// BenchmarkTailReadsAFile reads a file of 100-byte lines through tail to nothing. One op is
// one event: events/s is lines a second, MB/s the bytes.
func BenchmarkTailReadsAFile(b *testing.B) {
	path := logPath(b)
	plugintest.WriteLines(b, path, b.N)
	plugintest.BenchSource(b, newEnv(fastPoll).OpenSource(b, tailSpec(path, "")), nil, 100)
}

// BenchmarkTailReadsAFileWithPositions is BenchmarkTailReadsAFile with the position taken
// after every batch, as the flow driver does with a sink that keeps it.
func BenchmarkTailReadsAFileWithPositions(b *testing.B) {
	path := logPath(b)
	plugintest.WriteLines(b, path, b.N)
	s := newEnv(fastPoll).OpenSource(b, tailSpec(path, ""))
	plugintest.BenchSource(b, positions{s}, nil, 100)
}

// BenchmarkTailDirReadsManyFiles reads 1000 files of 100-byte lines through tailDir. One op is
// one event.
func BenchmarkTailDirReadsManyFiles(b *testing.B) {
	const files = 1000
	dir := b.TempDir()
	per := b.N/files + 1
	for i := range files {
		plugintest.WriteLines(b, filepath.Join(dir, fmt.Sprintf("f%04d.log", i)), per)
	}
	s := newEnv(fastPoll).OpenSource(b, dirSpec(dir, ""))
	plugintest.BenchSource(b, positions{s}, nil, 100)
}

// positions takes the position after every batch.
type positions struct{ plugin.Source }

func (p positions) Next(ctx context.Context) ([]*event.Event, error) {
	evs, err := p.Source.Next(ctx)
	if err == nil {
		_ = p.Source.(plugin.Checkpointer).Position()
	}
	return evs, err
}
