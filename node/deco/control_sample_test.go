package deco

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

func TestIntervalSampler(t *testing.T) {
	tests := []struct {
		n, events, batch int
		want             []string
	}{
		{n: 1, events: 3, batch: 2, want: []string{"e0", "e1", "e2"}},
		{n: 3, events: 10, batch: 1, want: []string{"e0", "e3", "e6", "e9"}},
		{n: 3, events: 10, batch: 4, want: []string{"e0", "e3", "e6", "e9"}},
		{n: 4, events: 10, batch: 10, want: []string{"e0", "e4", "e8"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d/batch=%d", tt.n, tt.batch), func(t *testing.T) {
			bc := ctlBC()
			sink := &ctlSink{}
			s := ctlBuild(t, bc, ctlCall("intervalSampler", ctlInt(int64(tt.n))), sink)
			ctlOpen(t, s)
			ctlAppendAll(t, s, ctlEvents("e", tt.events), tt.batch)
			ctlEqual(t, "sampled", sink.bodies(), tt.want)
			if got, want := ctlCounter(bc, "intervalSampler.drops"), int64(tt.events-len(tt.want)); got != want {
				t.Fatalf("drops = %d, want %d", got, want)
			}
		})
	}
}

func TestProbSampler(t *testing.T) {
	run := func(t *testing.T, args ...spec.Value) []string {
		t.Helper()
		sink := &ctlSink{}
		s := ctlBuild(t, ctlBC(), ctlCall("probSampler", args...), sink)
		ctlOpen(t, s)
		ctlAppendAll(t, s, ctlEvents("e", 10000), 100)
		return sink.bodies()
	}
	t.Run("same seed same sample", func(t *testing.T) {
		a := run(t, ctlFloat(0.3), ctlInt(42))
		b := run(t, ctlFloat(0.3), ctlInt(42))
		ctlEqual(t, "second run", b, a)
		if c := run(t, ctlFloat(0.3), ctlInt(43)); fmt.Sprint(c) == fmt.Sprint(a) {
			t.Fatal("seeds 42 and 43 gave the same sample")
		}
	})
	t.Run("rate", func(t *testing.T) {
		// 10000 draws at p=0.3: the standard deviation is under 50, so 6 of them is 300.
		if n := len(run(t, ctlFloat(0.3), ctlInt(7))); n < 2700 || n > 3300 {
			t.Fatalf("sampled %d of 10000 at p=0.3", n)
		}
	})
	t.Run("bounds", func(t *testing.T) {
		if n := len(run(t, ctlFloat(0), ctlInt(1))); n != 0 {
			t.Fatalf("p=0 sampled %d events", n)
		}
		if n := len(run(t, ctlInt(1))); n != 10000 {
			t.Fatalf("p=1 sampled %d of 10000 events", n)
		}
	})
}

func TestReservoirSampler(t *testing.T) {
	ctx := context.Background()
	build := func(t *testing.T, k int64, seed int64, sink plugin.Sink) plugin.Sink {
		c := ctlCall("reservoirSampler", ctlInt(k))
		c.Kwargs = []spec.Kwarg{{Name: "seed", Value: ctlInt(seed)}}
		return ctlBuild(t, ctlBC(), c, sink)
	}
	t.Run("sends k events in arrival order on close", func(t *testing.T) {
		sink := &ctlSink{}
		s := build(t, 5, 1, sink)
		ctlOpen(t, s)
		ctlAppendAll(t, s, ctlEvents("e", 100), 7)
		if _, appends, _ := sink.counts(); appends != 0 {
			t.Fatalf("sink got %d appends before close", appends)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		got := sink.bodies()
		if len(got) != 5 {
			t.Fatalf("sample = %q, want 5 events", got)
		}
		prev := -1
		for _, b := range got {
			i, _ := strconv.Atoi(b[1:])
			if i <= prev {
				t.Fatalf("sample %q is not in arrival order", got)
			}
			prev = i
		}
		if _, _, closes := sink.counts(); closes != 1 {
			t.Fatalf("sink closed %d times, want 1", closes)
		}
	})
	t.Run("fewer than k events are all sent", func(t *testing.T) {
		sink := &ctlSink{}
		s := build(t, 5, 1, sink)
		ctlOpen(t, s)
		ctlAppendAll(t, s, ctlEvents("e", 3), 2)
		for range 2 {
			if err := s.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
		ctlEqual(t, "sample", sink.bodies(), []string{"e0", "e1", "e2"})
	})
	t.Run("keeps copies, not the source's events", func(t *testing.T) {
		sink := &ctlSink{}
		s := build(t, 2, 1, sink)
		ctlOpen(t, s)
		buf := []byte("x0")
		e := &event.Event{Body: buf}
		ctlAppendAll(t, s, []*event.Event{e}, 1)
		buf[1] = '9' // the source reuses its memory
		if err := s.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		ctlEqual(t, "sample", sink.bodies(), []string{"x0"})
	})
	t.Run("uniform", func(t *testing.T) {
		// k=1 of 10 events, 3000 times: each event should be chosen about 300 times.
		counts := map[string]int{}
		for trial := range 3000 {
			sink := &ctlSink{}
			s := build(t, 1, int64(trial), sink)
			ctlOpen(t, s)
			ctlAppendAll(t, s, ctlEvents("e", 10), 3)
			if err := s.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			for _, b := range sink.bodies() {
				counts[b]++
			}
		}
		for i := range 10 {
			// The standard deviation is about 16; allow over 5 of them.
			if n := counts["e"+strconv.Itoa(i)]; n < 215 || n > 385 {
				t.Fatalf("event e%d chosen %d times of 3000, want about 300: %v", i, n, counts)
			}
		}
	})
}

func BenchmarkIntervalSampler(b *testing.B) {
	s := ctlBuild(b, ctlBC(), ctlCall("intervalSampler", ctlInt(10)), ctlNopSink{})
	batch := ctlEvents("e", 100)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}

// ctlNopSink accepts everything and keeps nothing, for benchmarks.
type ctlNopSink struct{}

func (ctlNopSink) Open(context.Context) error                   { return nil }
func (ctlNopSink) Append(context.Context, []*event.Event) error { return nil }
func (ctlNopSink) Close(context.Context) error                  { return nil }
