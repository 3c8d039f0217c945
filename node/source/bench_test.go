package source

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/sink"
	"github.com/flumego/flume/node/spec"
)

// BenchmarkASCIISynthNext measures generation alone: one op is one 100-byte event.
func BenchmarkASCIISynthNext(b *testing.B) {
	s := newEnv(b, nil).open(b, "asciisynth(0, 100)")
	ctx := context.Background()
	b.SetBytes(100)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		batch, err := s.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		n += len(batch)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkASCIISynthToNull is `asciisynth(0, 100) | null` as the driver runs it: Next, then
// Append of the batch to the null sink. One op is one event.
func BenchmarkASCIISynthToNull(b *testing.B) {
	e := newEnv(b, nil)
	sink.Register(e.reg)
	src := e.open(b, "asciisynth(0, 100)")
	snk, err := e.reg.BuildSink(e.bc, &spec.Call{Name: "null"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := snk.Open(ctx); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(100)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		batch, err := src.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := snk.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
		n += len(batch)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkTextSource100MB reads a 100 MB file of 100-byte lines. One op is the whole file.
func BenchmarkTextSource100MB(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.log")
	const lines = 1 << 20 // 100-byte lines: 100 MiB
	writeLines(b, path, lines)
	e := newEnv(b, nil)
	c := &spec.Call{Name: "text", Args: []spec.Value{{Kind: spec.KindString, Str: path}}}
	ctx := context.Background()
	b.SetBytes(lines * 100)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s, err := e.reg.BuildSource(e.bc, c)
		if err != nil {
			b.Fatal(err)
		}
		if n := readAllEvents(b, ctx, s); n != lines {
			b.Fatalf("%d events, want %d", n, lines)
		}
	}
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "events/s")
}

func writeLines(b *testing.B, path string, n int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := range n {
		fmt.Fprintf(w, "%010d %088d\n", i, i) // 99 bytes and '\n'
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
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
