package tail

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"testing"
)

// BenchmarkTailReadsAFile reads a file of 100-byte lines through tail. One op is one event.
func BenchmarkTailReadsAFile(b *testing.B) {
	path := logPath(b)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := range b.N {
		fmt.Fprintf(w, "%010d %088d\n", i, i)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	s := newEnv(fastPoll).open(b, tailSpec(path, ""))
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
