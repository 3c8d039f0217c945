package source

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/sink"
	"github.com/flumego/flume/node/spec"
)

// BenchmarkASCIISynthNext measures generation alone: one op is one 100-byte event.
func BenchmarkASCIISynthNext(b *testing.B) {
	s := newEnv(nil).OpenSource(b, "asciisynth(0, 100)")
	plugintest.BenchSource(b, s, nil, 100)
}

// BenchmarkASCIISynthToNull is `asciisynth(0, 100) | null` as the driver runs it: Next, then
// Append of the batch to the null sink. One op is one event.
func BenchmarkASCIISynthToNull(b *testing.B) {
	e := plugintest.NewEnv(nil, Register, sink.Register)
	plugintest.BenchSource(b, e.OpenSource(b, "asciisynth(0, 100)"), e.OpenSink(b, "null"), 100)
}

// BenchmarkTextSource100MB reads a 100 MB file of 100-byte lines. One op is the whole file.
func BenchmarkTextSource100MB(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.log")
	const lines = 1 << 20 // 100-byte lines: 100 MiB
	plugintest.WriteLines(b, path, lines)
	e := newEnv(nil)
	c := &spec.Call{Name: "text", Args: []spec.Value{{Kind: spec.KindString, Str: path}}}
	ctx := context.Background()
	b.SetBytes(lines * 100)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s, err := e.Registry.BuildSource(e.BuildContext, c)
		if err != nil {
			b.Fatal(err)
		}
		if n := readAllEvents(b, ctx, s); n != lines {
			b.Fatalf("%d events, want %d", n, lines)
		}
	}
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "events/s")
}

func readAllEvents(b *testing.B, ctx context.Context, s plugin.Source) int {
	if err := s.Open(ctx); err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	n := 0
	for {
		batch, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		n += len(batch)
	}
}
