package sink

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/flumego/flume/node/event"
)

// BenchmarkTextSinkRaw writes 100-byte events to a file in the raw format, in batches of
// 1000. One op is one event.
func BenchmarkTextSinkRaw(b *testing.B) {
	e := newEnv()
	s := e.OpenSink(b, fmt.Sprintf("text(%q, raw)", filepath.Join(b.TempDir(), "out.txt")))
	batch := make([]*event.Event, 1000)
	for i := range batch {
		batch[i] = &event.Event{Body: []byte(fmt.Sprintf("%099d", i)), Host: "h", Priority: event.INFO}
	}
	ctx := context.Background()
	b.SetBytes(100)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += len(batch) {
		if err := s.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
