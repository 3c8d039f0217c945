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
			env := testEnv()
			sink := &testSink{}
			s := mustBuildCall(t, env, newCall("intervalSampler", argInt(int64(tt.n))), sink)
			mustOpen(t, s)
			appendAll(t, s, numbered("e", tt.events), tt.batch)
			equalStrings(t, "sampled", sink.bodies(), tt.want)
			if got, want := env.Counter("intervalSampler.drops"), int64(tt.events-len(tt.want)); got != want {
				t.Fatalf("drops = %d, want %d", got, want)
			}
		})
	}
}

func TestProbSampler(t *testing.T) {
	run := func(t *testing.T, args ...spec.Value) []string {
		t.Helper()
		sink := &testSink{}
		s := mustBuildCall(t, testEnv(), newCall("probSampler", args...), sink)
		mustOpen(t, s)
		appendAll(t, s, numbered("e", 10000), 100)
		return sink.bodies()
	}
	t.Run("same seed same sample", func(t *testing.T) {
		a := run(t, argFloat(0.3), argInt(42))
		b := run(t, argFloat(0.3), argInt(42))
		equalStrings(t, "second run", b, a)
		if c := run(t, argFloat(0.3), argInt(43)); fmt.Sprint(c) == fmt.Sprint(a) {
			t.Fatal("seeds 42 and 43 gave the same sample")
		}
	})
	t.Run("rate", func(t *testing.T) {
		// 10000 draws at p=0.3: the standard deviation is under 50, so 6 of them is 300.
		if n := len(run(t, argFloat(0.3), argInt(7))); n < 2700 || n > 3300 {
			t.Fatalf("sampled %d of 10000 at p=0.3", n)
		}
	})
	t.Run("bounds", func(t *testing.T) {
		if n := len(run(t, argFloat(0), argInt(1))); n != 0 {
			t.Fatalf("p=0 sampled %d events", n)
		}
		if n := len(run(t, argInt(1))); n != 10000 {
			t.Fatalf("p=1 sampled %d of 10000 events", n)
		}
	})
}

func TestReservoirSampler(t *testing.T) {
	ctx := context.Background()
	build := func(t *testing.T, k int64, seed int64, sink plugin.Sink) plugin.Sink {
		c := newCall("reservoirSampler", argInt(k))
		c.Kwargs = []spec.Kwarg{{Name: "seed", Value: argInt(seed)}}
		return mustBuildCall(t, testEnv(), c, sink)
	}
	t.Run("sends k events in arrival order on close", func(t *testing.T) {
		sink := &testSink{}
		s := build(t, 5, 1, sink)
		mustOpen(t, s)
		appendAll(t, s, numbered("e", 100), 7)
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
		sink := &testSink{}
		s := build(t, 5, 1, sink)
		mustOpen(t, s)
		appendAll(t, s, numbered("e", 3), 2)
		for range 2 {
			if err := s.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
		equalStrings(t, "sample", sink.bodies(), []string{"e0", "e1", "e2"})
	})
	t.Run("keeps copies, not the source's events", func(t *testing.T) {
		sink := &testSink{}
		s := build(t, 2, 1, sink)
		mustOpen(t, s)
		buf := []byte("x0")
		e := &event.Event{Body: buf}
		appendAll(t, s, []*event.Event{e}, 1)
		buf[1] = '9' // the source reuses its memory
		if err := s.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		equalStrings(t, "sample", sink.bodies(), []string{"x0"})
	})
	t.Run("uniform", func(t *testing.T) {
		// k=1 of 10 events, 3000 times: each event should be chosen about 300 times.
		counts := map[string]int{}
		for trial := range 3000 {
			sink := &testSink{}
			s := build(t, 1, int64(trial), sink)
			mustOpen(t, s)
			appendAll(t, s, numbered("e", 10), 3)
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
	benchAppend(b, "intervalSampler(10)")
}
