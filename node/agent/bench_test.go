package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
)

// discardSink takes every batch and keeps nothing.
type discardSink struct{}

func (discardSink) Open(context.Context) error                   { return nil }
func (discardSink) Append(context.Context, []*event.Event) error { return nil }
func (discardSink) Close(context.Context) error                  { return nil }

// benchBatch is a batch of 100 events of about 200 bytes.
func benchBatch() []*event.Event {
	bs := bodies(strings.Repeat("x", 190), 0, 100)
	return batchOf(bs)
}

// benchDeco appends b.N batches of 100 events to decorator text around a sink that takes
// everything, then closes it; the log's sender decodes and delivers every chunk meanwhile.
func benchDeco(b *testing.B, text string) {
	bc := newBC(b, nil)
	d, err := buildDeco(bc, text, discardSink{})
	if err != nil {
		b.Fatal(err)
	}
	openSink(b, d)
	batch := benchBatch()
	ctx := context.Background()
	b.SetBytes(int64(100 * event.BinarySize(batch[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := d.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := closeSink(d, time.Minute); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAckedWriteAhead measures a batch's way through the write-ahead log.
func BenchmarkAckedWriteAhead(b *testing.B) { benchDeco(b, "ackedWriteAhead") }

// BenchmarkDiskFailoverDirect measures diskFailover while its sink works: a pass-through.
func BenchmarkDiskFailoverDirect(b *testing.B) { benchDeco(b, "diskFailover") }

// BenchmarkEventSlabDecode measures decoding a chunk of 1000 events for delivery.
func BenchmarkEventSlabDecode(b *testing.B) {
	var data []byte
	for range 10 {
		for _, e := range benchBatch() {
			data = event.AppendBinary(data, e)
		}
	}
	var slab eventSlab
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := slab.decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
