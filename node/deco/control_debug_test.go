package deco

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/spec"
)

func TestDelay(t *testing.T) {
	t.Run("waits before each batch", func(t *testing.T) {
		sink := &testSink{}
		s := mustBuildCall(t, testEnv(), newCall("delay", argInt(30)), sink)
		mustOpen(t, s)
		start := time.Now()
		appendAll(t, s, numbered("e", 4), 2)
		if el := time.Since(start); el < 60*time.Millisecond {
			t.Fatalf("two batches took %v, want at least 60ms", el)
		}
		equalStrings(t, "delivered", sink.bodies(), []string{"e0", "e1", "e2", "e3"})
	})
	t.Run("string durations", func(t *testing.T) {
		s := mustBuildCall(t, testEnv(), newCall("delay", argStr("20ms")), &testSink{})
		mustOpen(t, s)
		start := time.Now()
		appendAll(t, s, numbered("e", 1), 1)
		if el := time.Since(start); el < 20*time.Millisecond {
			t.Fatalf("batch took %v, want at least 20ms", el)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		sink := &testSink{}
		s := mustBuildCall(t, testEnv(), newCall("delay", argStr("1h")), sink)
		mustOpen(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		err := plugintest.Go(func() error {
			time.AfterFunc(10*time.Millisecond, cancel)
			return s.Append(ctx, numbered("e", 1))
		}).Wait(t, 5*time.Second)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Append = %v, want context.Canceled", err)
		}
		if _, appends, _ := sink.counts(); appends != 0 {
			t.Fatalf("a cancelled delay passed the batch on")
		}
	})
}

func TestMult(t *testing.T) {
	tests := []struct {
		args []spec.Value
		want []string
	}{
		{nil, []string{"e0", "e1"}},
		{[]spec.Value{argInt(1)}, []string{"e0", "e1"}},
		{[]spec.Value{argInt(3)}, []string{"e0", "e0", "e0", "e1", "e1", "e1"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(len(tt.want)), func(t *testing.T) {
			sink := &testSink{}
			s := mustBuildCall(t, testEnv(), newCall("mult", tt.args...), sink)
			mustOpen(t, s)
			in := numbered("e", 2)
			in[0].SetAttr("a", []byte("1"))
			appendAll(t, s, in, 2)
			equalStrings(t, "delivered", sink.bodies(), tt.want)
			for _, e := range sink.events()[:len(tt.want)/2] {
				if v, _ := e.Attr("a"); string(v) != "1" {
					t.Fatalf("copy of e0 lost its attribute: %q", v)
				}
			}
		})
	}
}

// mult with a large n passes the copies on in batches of at most maxMultBatch events, so
// memory stays bounded whatever n times the batch size.
func TestMultLargeN(t *testing.T) {
	const n = 2500
	sink := &testSink{}
	s := mustBuildCall(t, testEnv(), newCall("mult", argInt(n)), sink)
	mustOpen(t, s)
	appendAll(t, s, numbered("e", 3), 3)
	total := 0
	for i, size := range sink.batchSizes() {
		if size > maxMultBatch {
			t.Fatalf("batch %d has %d events, want at most %d", i, size, maxMultBatch)
		}
		total += size
	}
	if total != 3*n {
		t.Fatalf("passed on %d events, want %d", total, 3*n)
	}
	for i, b := range sink.bodies() {
		if want := fmt.Sprintf("e%d", i/n); b != want {
			t.Fatalf("event %d is %q, want %q: the copies of an event go next to each other", i, b, want)
		}
	}
	if c := cap(s.(*mult).copies); c > maxMultBatch {
		t.Fatalf("mult keeps %d copies, want at most %d", c, maxMultBatch)
	}
}

// A failed sub-batch stops mult: the rest of the copies are not sent.
func TestMultStopsOnFailure(t *testing.T) {
	sink := &testSink{}
	s := mustBuildCall(t, testEnv(), newCall("mult", argInt(maxMultBatch)), sink)
	mustOpen(t, s)
	sink.mu.Lock()
	sink.onAppend = func(context.Context, []*event.Event) error {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		if sink.appends == 2 {
			return errAppendRefused
		}
		return nil
	}
	sink.mu.Unlock()
	err := s.Append(context.Background(), numbered("e", 3))
	if !errors.Is(err, errAppendRefused) {
		t.Fatalf("Append = %v, want the sink's refusal", err)
	}
	if _, appends, _ := sink.counts(); appends != 2 {
		t.Fatalf("sink got %d appends, want 2: none after the failed one", appends)
	}
	if got := sink.batchSizes(); len(got) != 1 || got[0] != maxMultBatch {
		t.Fatalf("delivered batches of %v events, want only the first of %d", got, maxMultBatch)
	}
}

func TestFlakeyAppend(t *testing.T) {
	// pattern appends 40 single-event batches and returns which failed.
	pattern := func(t *testing.T, args ...spec.Value) string {
		t.Helper()
		env := testEnv()
		sink := &testSink{}
		s := mustBuildCall(t, env, newCall("flakeyAppend", args...), sink)
		mustOpen(t, s)
		var b []byte
		fails := 0
		for _, e := range numbered("e", 40) {
			err := s.Append(context.Background(), []*event.Event{e})
			switch {
			case err == nil:
				b = append(b, '.')
			case errors.Is(err, ErrInjected) && !plugin.IsPermanent(err):
				b = append(b, 'x')
				fails++
			default:
				t.Fatalf("Append = %v, want nil or a transient ErrInjected", err)
			}
		}
		if got := env.Counter("flakeyAppend.failures"); got != int64(fails) {
			t.Fatalf("failures = %d, want %d", got, fails)
		}
		if n := len(sink.bodies()); n != 40-fails {
			t.Fatalf("sink delivered %d events after %d failures of 40", n, fails)
		}
		return string(b)
	}
	a := pattern(t, argFloat(0.5), argInt(99))
	if b := pattern(t, argFloat(0.5), argInt(99)); a != b {
		t.Fatalf("same seed, different failures:\n%s\n%s", a, b)
	}
	if !strings.Contains(a, ".") || !strings.Contains(a, "x") {
		t.Fatalf("p=0.5 gave %s", a)
	}
	if p := pattern(t, argInt(0)); strings.Contains(p, "x") {
		t.Fatalf("p=0 failed: %s", p)
	}
	if p := pattern(t, argInt(1)); strings.Contains(p, ".") {
		t.Fatalf("p=1 succeeded: %s", p)
	}
}

func TestIntervalFlakeyAppend(t *testing.T) {
	env := testEnv()
	sink := &testSink{}
	s := mustBuildCall(t, env, newCall("intervalFlakeyAppend", argInt(3)), sink)
	mustOpen(t, s)
	var failed []int
	for i, e := range numbered("e", 9) {
		if err := s.Append(context.Background(), []*event.Event{e}); err != nil {
			if !errors.Is(err, ErrInjected) || plugin.IsPermanent(err) {
				t.Fatalf("Append = %v, want a transient ErrInjected", err)
			}
			failed = append(failed, i+1)
		}
	}
	if fmt.Sprint(failed) != "[3 6 9]" {
		t.Fatalf("failed appends %v, want [3 6 9]", failed)
	}
	equalStrings(t, "delivered", sink.bodies(), []string{"e0", "e1", "e3", "e4", "e6", "e7"})
	if got := env.Counter("intervalFlakeyAppend.failures"); got != 3 {
		t.Fatalf("failures = %d, want 3", got)
	}
}

func TestIntervalDroppyAppend(t *testing.T) {
	env := testEnv()
	sink := &testSink{}
	s := mustBuildCall(t, env, newCall("intervalDroppyAppend", argInt(3)), sink)
	mustOpen(t, s)
	appendAll(t, s, numbered("e", 9), 4)
	equalStrings(t, "delivered", sink.bodies(), []string{"e0", "e1", "e3", "e4", "e6", "e7"})
	if got := env.Counter("intervalDroppyAppend.drops"); got != 3 {
		t.Fatalf("drops = %d, want 3", got)
	}
}

func TestChoke(t *testing.T) {
	kb := make([]byte, 1024)
	events := func(n int) []*event.Event {
		out := make([]*event.Event, n)
		for i := range out {
			out[i] = &event.Event{Body: kb}
		}
		return out
	}
	t.Run("limits the rate", func(t *testing.T) {
		// 100 KB/s with a burst of 100 KB: 150 KB take at least the 0.5 s the last 50 KB need.
		// Two chokes with the same id share the limit, so each sends half.
		env := testEnv()
		env.Chokes = plugin.NewChokeTable()
		env.Chokes.SetLimit("c1", 100)
		sink := &testSink{}
		s1 := mustBuildCall(t, env, newCall("choke", argStr("c1")), sink)
		s2 := mustBuildCall(t, env, newCall("choke", argStr("c1")), sink)
		mustOpen(t, s1)
		mustOpen(t, s2)
		start := time.Now()
		for range 15 {
			appendAll(t, s1, events(5), 5)
			appendAll(t, s2, events(5), 5)
		}
		if el := time.Since(start); el < 450*time.Millisecond {
			t.Fatalf("150 KB through a 100 KB/s choke took %v, want at least 0.5s", el)
		}
		if n := len(sink.bodies()); n != 150 {
			t.Fatalf("delivered %d events, want 150", n)
		}
		if got := env.Counter("choke.bytes"); got != 150*1024 {
			t.Fatalf("bytes = %d, want %d", got, 150*1024)
		}
	})
	t.Run("no limit", func(t *testing.T) {
		for _, chokes := range []*plugin.ChokeTable{nil, plugin.NewChokeTable()} {
			env := testEnv()
			env.Chokes = chokes
			sink := &testSink{}
			s := mustBuildCall(t, env, newCall("choke", argStr("unset")), sink)
			mustOpen(t, s)
			appendAll(t, s, events(1000), 100)
			if n := len(sink.bodies()); n != 1000 {
				t.Fatalf("delivered %d events, want 1000", n)
			}
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		env := testEnv()
		env.Chokes = plugin.NewChokeTable()
		env.Chokes.SetLimit("slow", 1)
		sink := &testSink{}
		s := mustBuildCall(t, env, newCall("choke", argStr("slow")), sink)
		mustOpen(t, s)
		appendAll(t, s, events(1), 1) // spends the 1 KB burst
		ctx, cancel := context.WithCancel(context.Background())
		err := plugintest.Go(func() error {
			time.AfterFunc(10*time.Millisecond, cancel)
			return s.Append(ctx, events(10))
		}).Wait(t, 5*time.Second)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Append = %v, want context.Canceled", err)
		}
		if n := len(sink.bodies()); n != 1 {
			t.Fatalf("delivered %d events, want only the first", n)
		}
	})
}
