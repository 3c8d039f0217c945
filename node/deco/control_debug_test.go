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
	"github.com/flumego/flume/node/spec"
)

func TestDelay(t *testing.T) {
	t.Run("waits before each batch", func(t *testing.T) {
		sink := &ctlSink{}
		s := ctlBuild(t, ctlBC(), ctlCall("delay", ctlInt(30)), sink)
		ctlOpen(t, s)
		start := time.Now()
		ctlAppendAll(t, s, ctlEvents("e", 4), 2)
		if el := time.Since(start); el < 60*time.Millisecond {
			t.Fatalf("two batches took %v, want at least 60ms", el)
		}
		ctlEqual(t, "delivered", sink.bodies(), []string{"e0", "e1", "e2", "e3"})
	})
	t.Run("string durations", func(t *testing.T) {
		s := ctlBuild(t, ctlBC(), ctlCall("delay", ctlStr("20ms")), &ctlSink{})
		ctlOpen(t, s)
		start := time.Now()
		ctlAppendAll(t, s, ctlEvents("e", 1), 1)
		if el := time.Since(start); el < 20*time.Millisecond {
			t.Fatalf("batch took %v, want at least 20ms", el)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		sink := &ctlSink{}
		s := ctlBuild(t, ctlBC(), ctlCall("delay", ctlStr("1h")), sink)
		ctlOpen(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		err := ctlWithin(t, 5*time.Second, func() error {
			time.AfterFunc(10*time.Millisecond, cancel)
			return s.Append(ctx, ctlEvents("e", 1))
		})
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
		{[]spec.Value{ctlInt(1)}, []string{"e0", "e1"}},
		{[]spec.Value{ctlInt(3)}, []string{"e0", "e0", "e0", "e1", "e1", "e1"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(len(tt.want)), func(t *testing.T) {
			sink := &ctlSink{}
			s := ctlBuild(t, ctlBC(), ctlCall("mult", tt.args...), sink)
			ctlOpen(t, s)
			in := ctlEvents("e", 2)
			in[0].SetAttr("a", []byte("1"))
			ctlAppendAll(t, s, in, 2)
			ctlEqual(t, "delivered", sink.bodies(), tt.want)
			for _, e := range sink.got[:len(tt.want)/2] {
				if v, _ := e.Attr("a"); string(v) != "1" {
					t.Fatalf("copy of e0 lost its attribute: %q", v)
				}
			}
		})
	}
}

func TestFlakeyAppend(t *testing.T) {
	// pattern appends 40 single-event batches and returns which failed.
	pattern := func(t *testing.T, args ...spec.Value) string {
		t.Helper()
		bc := ctlBC()
		sink := &ctlSink{}
		s := ctlBuild(t, bc, ctlCall("flakeyAppend", args...), sink)
		ctlOpen(t, s)
		var b []byte
		fails := 0
		for _, e := range ctlEvents("e", 40) {
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
		if got := ctlCounter(bc, "flakeyAppend.failures"); got != int64(fails) {
			t.Fatalf("failures = %d, want %d", got, fails)
		}
		if n := len(sink.bodies()); n != 40-fails {
			t.Fatalf("sink delivered %d events after %d failures of 40", n, fails)
		}
		return string(b)
	}
	a := pattern(t, ctlFloat(0.5), ctlInt(99))
	if b := pattern(t, ctlFloat(0.5), ctlInt(99)); a != b {
		t.Fatalf("same seed, different failures:\n%s\n%s", a, b)
	}
	if !strings.Contains(a, ".") || !strings.Contains(a, "x") {
		t.Fatalf("p=0.5 gave %s", a)
	}
	if p := pattern(t, ctlInt(0)); strings.Contains(p, "x") {
		t.Fatalf("p=0 failed: %s", p)
	}
	if p := pattern(t, ctlInt(1)); strings.Contains(p, ".") {
		t.Fatalf("p=1 succeeded: %s", p)
	}
}

func TestIntervalFlakeyAppend(t *testing.T) {
	bc := ctlBC()
	sink := &ctlSink{}
	s := ctlBuild(t, bc, ctlCall("intervalFlakeyAppend", ctlInt(3)), sink)
	ctlOpen(t, s)
	var failed []int
	for i, e := range ctlEvents("e", 9) {
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
	ctlEqual(t, "delivered", sink.bodies(), []string{"e0", "e1", "e3", "e4", "e6", "e7"})
	if got := ctlCounter(bc, "intervalFlakeyAppend.failures"); got != 3 {
		t.Fatalf("failures = %d, want 3", got)
	}
}

func TestIntervalDroppyAppend(t *testing.T) {
	bc := ctlBC()
	sink := &ctlSink{}
	s := ctlBuild(t, bc, ctlCall("intervalDroppyAppend", ctlInt(3)), sink)
	ctlOpen(t, s)
	ctlAppendAll(t, s, ctlEvents("e", 9), 4)
	ctlEqual(t, "delivered", sink.bodies(), []string{"e0", "e1", "e3", "e4", "e6", "e7"})
	if got := ctlCounter(bc, "intervalDroppyAppend.drops"); got != 3 {
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
		bc := ctlBC()
		bc.Chokes = plugin.NewChokeTable()
		bc.Chokes.SetLimit("c1", 100)
		sink := &ctlSink{}
		s1 := ctlBuild(t, bc, ctlCall("choke", ctlStr("c1")), sink)
		s2 := ctlBuild(t, bc, ctlCall("choke", ctlStr("c1")), sink)
		ctlOpen(t, s1)
		ctlOpen(t, s2)
		start := time.Now()
		for range 15 {
			ctlAppendAll(t, s1, events(5), 5)
			ctlAppendAll(t, s2, events(5), 5)
		}
		if el := time.Since(start); el < 450*time.Millisecond {
			t.Fatalf("150 KB through a 100 KB/s choke took %v, want at least 0.5s", el)
		}
		if n := len(sink.bodies()); n != 150 {
			t.Fatalf("delivered %d events, want 150", n)
		}
		if got := ctlCounter(bc, "choke.bytes"); got != 150*1024 {
			t.Fatalf("bytes = %d, want %d", got, 150*1024)
		}
	})
	t.Run("no limit", func(t *testing.T) {
		for _, chokes := range []*plugin.ChokeTable{nil, plugin.NewChokeTable()} {
			bc := ctlBC()
			bc.Chokes = chokes
			sink := &ctlSink{}
			s := ctlBuild(t, bc, ctlCall("choke", ctlStr("unset")), sink)
			ctlOpen(t, s)
			ctlAppendAll(t, s, events(1000), 100)
			if n := len(sink.bodies()); n != 1000 {
				t.Fatalf("delivered %d events, want 1000", n)
			}
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		bc := ctlBC()
		bc.Chokes = plugin.NewChokeTable()
		bc.Chokes.SetLimit("slow", 1)
		sink := &ctlSink{}
		s := ctlBuild(t, bc, ctlCall("choke", ctlStr("slow")), sink)
		ctlOpen(t, s)
		ctlAppendAll(t, s, events(1), 1) // spends the 1 KB burst
		ctx, cancel := context.WithCancel(context.Background())
		err := ctlWithin(t, 5*time.Second, func() error {
			time.AfterFunc(10*time.Millisecond, cancel)
			return s.Append(ctx, events(10))
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Append = %v, want context.Canceled", err)
		}
		if n := len(sink.bodies()); n != 1 {
			t.Fatalf("delivered %d events, want only the first", n)
		}
	})
}
