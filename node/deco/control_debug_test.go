package deco

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
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

// classicFlakeyFailures returns, for a stream of total events each appended on its own and
// retried until it went through, the index of the event of every failed append of classic
// Flume's intervalFlakeyAppend(n): the count goes up on every append, the retries included,
// and starts again at each failure.
func classicFlakeyFailures(n, total int) []int {
	var failed []int
	count := 0
	for i := range total {
		for {
			count++
			if count%n != 0 {
				break
			}
			count = 0
			failed = append(failed, i)
		}
	}
	return failed
}

// cutBatches cuts evs into batches whose sizes repeat pattern.
func cutBatches(evs []*event.Event, pattern []int) [][]*event.Event {
	var out [][]*event.Event
	for i := 0; len(evs) > 0; i++ {
		k := min(pattern[i%len(pattern)], len(evs))
		out = append(out, evs[:k])
		evs = evs[k:]
	}
	return out
}

// Retried batches of any size meet the failures classic Flume's retried single events met:
// each batch fails once for each classic failure among its events, delivering nothing when it
// fails, and then goes through whole, once.
func TestIntervalFlakeyAppendRetriedBatchesFailAsClassicEventsDid(t *testing.T) {
	const total = 60
	patterns := [][]int{{1}, {2}, {3}, {4}, {5}, {7}, {16}, {60}, {1, 5, 2, 8, 3}}
	for _, n := range []int{2, 3, 5} {
		for _, pattern := range patterns {
			t.Run(fmt.Sprintf("n=%d/batches=%v", n, pattern), func(t *testing.T) {
				classic := classicFlakeyFailures(n, total)
				env := testEnv()
				sink := &testSink{}
				s := mustBuildCall(t, env, newCall("intervalFlakeyAppend", argInt(int64(n))), sink)
				mustOpen(t, s)
				in := numbered("e", total)
				var sizes []int
				first := 0 // index of the batch's first event
				for _, b := range cutBatches(in, pattern) {
					want := 0 // classic failures among the batch's events
					for _, i := range classic {
						if i >= first && i < first+len(b) {
							want++
						}
					}
					fails := 0
					for {
						before := len(sink.bodies())
						err := s.Append(context.Background(), b)
						if err == nil {
							break
						}
						if !errors.Is(err, ErrInjected) || plugin.IsPermanent(err) {
							t.Fatalf("Append = %v, want a transient ErrInjected", err)
						}
						if got := len(sink.bodies()); got != before {
							t.Fatalf("a failed Append passed on %d events", got-before)
						}
						if fails++; fails > len(b) {
							t.Fatalf("batch of events %d..%d keeps failing", first, first+len(b)-1)
						}
					}
					if fails != want {
						t.Fatalf("batch of events %d..%d failed %d times, classic events failed %d times",
							first, first+len(b)-1, fails, want)
					}
					sizes = append(sizes, len(b))
					first += len(b)
				}
				var wantBodies []string
				for _, e := range in {
					wantBodies = append(wantBodies, string(e.Body))
				}
				equalStrings(t, "delivered", sink.bodies(), wantBodies)
				if got := sink.batchSizes(); !slices.Equal(got, sizes) {
					t.Fatalf("delivered batches of %v events, want each batch once, whole: %v", got, sizes)
				}
				if got := env.Counter("intervalFlakeyAppend.failures"); got != int64(len(classic)) {
					t.Fatalf("failures = %d, want classic's %d", got, len(classic))
				}
			})
		}
	}
}

// A worked case of the rule: with n = 3 and batches of 4, the first batch fails at its third
// event; its resend counts from that event (e2, e3 count 1, 2) and goes through. The second
// batch fails at its first event, then at its third (e4, e5 count 1, 2, e6 3), then goes
// through; the last fails at e8 and then goes through.
func TestIntervalFlakeyAppendResendCountsFromTheFailedEvent(t *testing.T) {
	sink := &testSink{}
	s := mustBuildCall(t, testEnv(), newCall("intervalFlakeyAppend", argInt(3)), sink)
	mustOpen(t, s)
	var outcome []string
	for _, b := range chunks(numbered("e", 10), 4) {
		for {
			err := s.Append(context.Background(), b)
			if err == nil {
				outcome = append(outcome, "ok")
				break
			}
			outcome = append(outcome, "fail")
		}
	}
	if got, want := strings.Join(outcome, " "), "fail ok fail fail ok fail ok"; got != want {
		t.Fatalf("appends: %s, want %s", got, want)
	}
	if n := len(sink.bodies()); n != 10 {
		t.Fatalf("delivered %d events, want 10", n)
	}
}

// A flow that does not resend a failed batch loses it, and the head of its next batch, as long
// as the events before the failed one, stands for the resend and is not counted.
func TestIntervalFlakeyAppendWithoutResend(t *testing.T) {
	sink := &testSink{}
	s := mustBuildCall(t, testEnv(), newCall("intervalFlakeyAppend", argInt(3)), sink)
	mustOpen(t, s)
	var failed []int
	for i, b := range chunks(numbered("e", 12), 4) {
		if err := s.Append(context.Background(), b); err != nil {
			failed = append(failed, i)
		}
	}
	// e0..e3: e2 counts 3 and fails; e4, e5 stand for the resent e0, e1, e6 and e7 count 1
	// and 2; e8 counts 3 and fails.
	if fmt.Sprint(failed) != "[0 2]" {
		t.Fatalf("failed batches %v, want [0 2]", failed)
	}
	equalStrings(t, "delivered", sink.bodies(), []string{"e4", "e5", "e6", "e7"})
}

// With n = 1 every event fails, so every Append does, retried or not.
func TestIntervalFlakeyAppendOfOneAlwaysFails(t *testing.T) {
	sink := &testSink{}
	s := mustBuildCall(t, testEnv(), newCall("intervalFlakeyAppend", argInt(1)), sink)
	mustOpen(t, s)
	for range 5 {
		if err := s.Append(context.Background(), numbered("e", 3)); !errors.Is(err, ErrInjected) {
			t.Fatalf("Append = %v, want ErrInjected", err)
		}
	}
	if n := len(sink.bodies()); n != 0 {
		t.Fatalf("delivered %d events", n)
	}
}

// As in classic Flume's test of stubbornAppend over intervalFlakeyAppend(5), 100 events all
// arrive once, after 24 failures, now whatever the batching, with a retrying decorator above.
func TestInsistentAppendOverIntervalFlakeyAppendDeliversEveryEventOnce(t *testing.T) {
	for _, size := range []int{1, 3, 10, 25, 100} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			env := testEnv()
			sink := &testSink{}
			flakey := mustBuild(t, env, "intervalFlakeyAppend(5)", sink)
			s := mustBuild(t, env, "insistentAppend", flakey)
			mustOpen(t, s)
			in := numbered("attempt ", 100)
			appendAll(t, s, in, size)
			var want []string
			for _, e := range in {
				want = append(want, string(e.Body))
			}
			equalStrings(t, "delivered", sink.bodies(), want)
			if got := env.Counter("intervalFlakeyAppend.failures"); got != 24 {
				t.Fatalf("failures = %d, want 24", got)
			}
			sink.checkContract(t)
		})
	}
}

// Whatever the batching, intervalDroppyAppend(n) drops exactly the events whose count is a
// multiple of n, as classic Flume did event by event, and passes the others in order.
func TestIntervalDroppyAppendDropsTheSameEventsWhateverTheBatching(t *testing.T) {
	const total = 60
	for _, n := range []int{1, 2, 3, 5, 7} {
		var want []string
		for i := range total {
			if (i+1)%n != 0 {
				want = append(want, "e"+strconv.Itoa(i))
			}
		}
		for _, pattern := range [][]int{{1}, {2}, {3}, {4}, {7}, {60}, {1, 5, 2, 8, 3}} {
			t.Run(fmt.Sprintf("n=%d/batches=%v", n, pattern), func(t *testing.T) {
				env := testEnv()
				sink := &testSink{}
				s := mustBuildCall(t, env, newCall("intervalDroppyAppend", argInt(int64(n))), sink)
				mustOpen(t, s)
				for _, b := range cutBatches(numbered("e", total), pattern) {
					if err := s.Append(context.Background(), b); err != nil {
						t.Fatal(err)
					}
				}
				equalStrings(t, "delivered", sink.bodies(), want)
				if got := env.Counter("intervalDroppyAppend.drops"); got != int64(total/n) {
					t.Fatalf("drops = %d, want %d", got, total/n)
				}
				sink.checkContract(t)
			})
		}
	}
}

// Every event offered counts, as every append did in classic Flume: a batch resent after the
// next sink refused it is counted again.
func TestIntervalDroppyAppendCountsAResentBatchAgain(t *testing.T) {
	sink := &testSink{}
	s := mustBuildCall(t, testEnv(), newCall("intervalDroppyAppend", argInt(3)), sink)
	mustOpen(t, s)
	b := numbered("e", 2)
	sink.refuse(1)
	if err := s.Append(context.Background(), b); !errors.Is(err, errAppendRefused) {
		t.Fatalf("Append = %v, want the sink's refusal", err)
	}
	// e0 and e1 counted 1 and 2; resent, e0 counts 3 and is dropped.
	if err := s.Append(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	equalStrings(t, "delivered", sink.bodies(), []string{"e1"})
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
		// 100 KB/s with a burst of a tenth of that: 60 events of 1 KB and the per-event
		// overhead, about 63 KB, take at least the 0.53 s all but the burst need. Two chokes
		// with the same id share the limit, so each sends half.
		env := testEnv()
		env.Chokes = plugin.NewChokeTable()
		env.Chokes.SetLimit("c1", 100)
		sink := &testSink{}
		s1 := mustBuildCall(t, env, newCall("choke", argStr("c1")), sink)
		s2 := mustBuildCall(t, env, newCall("choke", argStr("c1")), sink)
		mustOpen(t, s1)
		mustOpen(t, s2)
		start := time.Now()
		for range 6 {
			appendAll(t, s1, events(5), 5)
			appendAll(t, s2, events(5), 5)
		}
		if el := time.Since(start); el < 450*time.Millisecond {
			t.Fatalf("63 KB through a 100 KB/s choke took %v, want at least 0.5s", el)
		}
		if n := len(sink.bodies()); n != 60 {
			t.Fatalf("delivered %d events, want 60", n)
		}
		if got := env.Counter("choke.bytes"); got != 60*1024 {
			t.Fatalf("bytes = %d, want %d", got, 60*1024)
		}
	})
	t.Run("charges every event whatever the batching", func(t *testing.T) {
		// Classic Flume charged each event its body plus a fixed overhead, so events with no
		// body are throttled too. At 10 KB/s (a burst of 1 KB), 120 empty events cost 6000
		// bytes and take at least 0.48 s, in batches of one or all at once.
		for _, size := range []int{1, 8, 120} {
			t.Run(fmt.Sprint(size), func(t *testing.T) {
				env := testEnv()
				env.Chokes = plugin.NewChokeTable()
				env.Chokes.SetLimit("c", 10)
				sink := &testSink{}
				s := mustBuildCall(t, env, newCall("choke", argStr("c")), sink)
				mustOpen(t, s)
				start := time.Now()
				empty := make([]*event.Event, 120)
				for i := range empty {
					empty[i] = &event.Event{Priority: event.INFO}
				}
				appendAll(t, s, empty, size)
				if el := time.Since(start); el < 400*time.Millisecond {
					t.Fatalf("120 empty events took %v, want at least 0.48s", el)
				}
				if n := len(sink.bodies()); n != 120 {
					t.Fatalf("delivered %d events, want 120", n)
				}
				if got := env.Counter("choke.bytes"); got != 0 {
					t.Fatalf("bytes = %d, want 0 body bytes", got)
				}
			})
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
