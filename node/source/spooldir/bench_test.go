package spooldir

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flumego/flume/node/plugin/plugintest"
)

// BenchmarkSpoolFile reads a spooled file of 100,000 lines of 100 bytes as the flow driver
// does (Next, Ack, Position per batch). One op is the whole file; allocs/op over 100,000 is
// the cost per line. Between ops the file is marked done and put back, off the clock.
func BenchmarkSpoolFile(b *testing.B) {
	const lines = 100000
	dir := b.TempDir()
	path := filepath.Join(dir, "f")
	plugintest.WriteLines(b, path, lines)
	s := open(b, newEnv(nil), dir, "pollDelay=1")
	ctx := context.Background()
	b.SetBytes(lines * 100)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for n := 0; n < lines; {
			batch, err := s.Next(ctx)
			if err != nil {
				b.Fatal(err)
			}
			n += len(batch)
			if err := s.Ack(ctx); err != nil {
				b.Fatal(err)
			}
			s.Position()
		}
		b.StopTimer()
		// The Next after the last batch marks the file done, then waits for another.
		wait, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
		if _, err := s.Next(wait); !errors.Is(err, context.DeadlineExceeded) {
			b.Fatalf("Next on the spent directory = %v", err)
		}
		cancel()
		if err := os.Rename(path+DefaultSuffix, path); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "events/s")
}
