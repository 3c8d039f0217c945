package deco

import (
	"context"
	"fmt"
	"testing"

	"github.com/flumego/flume/node/event"
)

// benchLines returns n events shaped like access-log lines.
func benchLines(n int) []*event.Event {
	out := make([]*event.Event, n)
	for i := range out {
		e := eventOf(fmt.Sprintf(`10.0.%d.%d - - [29/Jul/2010:12:00:05 -0700] "GET /item/%d HTTP/1.1" 200 %d`,
			i%250, i%7, i, 1000+i), "tailSrcFile", "/var/log/httpd/access_log")
		out[i] = e
	}
	return out
}

// benchPerEvent appends in, in batches of len(in), until b.N events went through: ns/op and
// allocs/op are per event.
func benchPerEvent(b *testing.B, text string, in []*event.Event) {
	b.Helper()
	d := openForBench(b, text)
	ctx := context.Background()
	for i := 0; i < b.N; i += len(in) {
		if err := d.Append(ctx, in[:min(len(in), b.N-i)]); err != nil {
			b.Fatal(err)
		}
	}
}

// benchAggregates is benchPerEvent for a decorator that expands aggregates of per events each:
// ns/op and allocs/op are per event carried.
func benchAggregates(b *testing.B, text string, aggs []*event.Event, per int) {
	b.Helper()
	d := openForBench(b, text)
	ctx := context.Background()
	for i, k := 0, 0; i < b.N; i, k = i+per, k+1 {
		if err := d.Append(ctx, aggs[k%len(aggs):k%len(aggs)+1]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValue(b *testing.B) {
	benchPerEvent(b, `value("dc", "east")`, benchLines(100))
}

func BenchmarkValueEscape(b *testing.B) {
	benchPerEvent(b, `value("where", "%{host}/%Y-%m-%d", escape=true)`, benchLines(100))
}

func BenchmarkRegex(b *testing.B) {
	benchPerEvent(b, `regex("\"GET ([^ ]+)", 1, "path")`, benchLines(100))
}

func BenchmarkSplit(b *testing.B) {
	benchPerEvent(b, `split(" ", 6, "path")`, benchLines(100))
}

func BenchmarkExDate(b *testing.B) {
	in := benchLines(100)
	for _, e := range in {
		_ = e.SetAttr("when", []byte("29/Jul/2010:12:00:05 -0700"))
	}
	benchPerEvent(b, `exDate("when", "dd/MMM/yyyy:HH:mm:ss Z")`, in)
}

func BenchmarkBatch(b *testing.B) {
	benchPerEvent(b, `batch(100)`, benchLines(100))
}

func BenchmarkUnbatch(b *testing.B) {
	aggs := runThrough(b, testEnv(), "batch(100)", benchLines(1000))
	benchAggregates(b, "unbatch", aggs, 100)
}

func BenchmarkGzip(b *testing.B) {
	benchPerEvent(b, `gzip`, benchLines(100))
}

func BenchmarkGunzip(b *testing.B) {
	zipped := runThrough(b, testEnv(), "gzip", benchLines(100))
	benchAggregates(b, "gunzip", zipped, 1)
}
