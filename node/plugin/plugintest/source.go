package plugintest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
)

// Source is the part of plugin.Source that Drain, GoNext and BenchSource need.
type Source interface {
	Next(ctx context.Context) ([]*event.Event, error)
}

// Drain calls Next until io.EOF and returns clones of every event, failing the test on any
// other error, on an empty batch (Next returns at least one event), or if the source takes
// longer than d.
func Drain(t testing.TB, s Source, d time.Duration) []*event.Event {
	t.Helper()
	return DrainLimit(t, s, d, 0)
}

// DrainLimit is Drain that also fails the test on a batch of more than maxBatch events, the
// most a source promises in one batch; 0 means no limit.
func DrainLimit(t testing.TB, s Source, d time.Duration, maxBatch int) []*event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out []*event.Event
	for {
		batch, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("next after %d events: %v", len(out), err)
		}
		checkBatch(t, len(batch), maxBatch)
		for _, e := range batch {
			out = append(out, e.Clone())
		}
	}
}

// checkBatch fails the test unless a batch of n events keeps the source contract and a limit
// of maxBatch (0: none).
func checkBatch(t testing.TB, n, maxBatch int) {
	t.Helper()
	if n == 0 || (maxBatch > 0 && n > maxBatch) {
		t.Fatalf("batch of %d events", n)
	}
}

// Stop stops s as the flow driver does (see plugin.Source): a Next whose ctx is done must
// return context.Canceled at once and without an event; then Close, and Next until it returns
// an error, which it must do within d. Stop returns clones of the events Next delivered after
// Close and that last error. Like DrainLimit, it fails the test on an empty batch or one of
// more than maxBatch events (0: no limit).
func Stop(t testing.TB, s plugin.Source, d time.Duration, maxBatch int) ([]*event.Event, error) {
	t.Helper()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if batch, err := s.Next(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with its ctx done = %d events, %v; want context.Canceled and no event", len(batch), err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var got []*event.Event
	for {
		batch, err := s.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("Next after Close blocked until the deadline, after %d events", len(got))
			}
			return got, err
		}
		checkBatch(t, len(batch), maxBatch)
		for _, e := range batch {
			got = append(got, e.Clone())
		}
	}
}

// NextResult is what a call of Next returned: the bodies of its batch, and its error.
type NextResult struct {
	Bodies []string
	Err    error
}

// GoNext calls s.Next(ctx) on a goroutine of its own (see Go), for tests of what ends a Next
// that blocks. The bodies are taken on that goroutine, before the batch can be reused.
func GoNext(ctx context.Context, s Source) *Call[NextResult] {
	return Go(func() NextResult {
		evs, err := s.Next(ctx)
		return NextResult{Bodies: Bodies(evs), Err: err}
	})
}

// BenchSource reads b.N events from s as the flow driver does, handing each batch to sink
// when it is not nil, and reports events/s. One op is one event of eventBytes bytes. The
// timer starts here: set up s and sink (open them) before.
func BenchSource(b *testing.B, s Source, sink plugin.Sink, eventBytes int64) {
	b.Helper()
	ctx := context.Background()
	b.SetBytes(eventBytes)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		batch, err := s.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if sink != nil {
			if err := sink.Append(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		n += len(batch)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// WriteLines writes n lines of 100 bytes (the newline included) to a new file at path, each
// starting with its number: the input of the file sources' benchmarks.
func WriteLines(t testing.TB, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := range n {
		fmt.Fprintf(w, "%010d %088d\n", i, i) // 99 bytes and '\n'
	}
	if err := w.Flush(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
