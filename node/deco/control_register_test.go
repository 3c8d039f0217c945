package deco

import (
	"context"
	"strings"
	"testing"

	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/spec"
)

// controlCalls are the control decorators, with arguments that build them.
var controlCalls = []*spec.Call{
	newCall("nullDeco"),
	newCall("lazyOpen"),
	newCall("insistentOpen"),
	newCall("insistentAppend"),
	newCall("stubbornAppend"),
	newCall("intervalSampler", argInt(2)),
	newCall("probSampler", argFloat(0.5)),
	newCall("reservoirSampler", argInt(2)),
	newCall("delay", argInt(0)),
	newCall("mult"),
	newCall("flakeyAppend", argInt(0)),
	newCall("intervalFlakeyAppend", argInt(100)),
	newCall("intervalDroppyAppend", argInt(100)),
	newCall("choke", argStr("c")),
}

func TestControlRegistered(t *testing.T) {
	r := plugin.NewRegistry()
	registerControl(r)
	for _, c := range controlCalls {
		e, ok := r.Lookup(plugin.KindDecorator, c.Name)
		if !ok {
			t.Fatalf("decorator %s is not registered", c.Name)
		}
		if e.Doc == "" || !strings.HasPrefix(e.Usage(), c.Name) {
			t.Fatalf("decorator %s: doc %q, usage %q", c.Name, e.Doc, e.Usage())
		}
	}
	if got := len(r.Entries(plugin.KindDecorator)); got != len(controlCalls) {
		t.Fatalf("%d decorators registered, want %d", got, len(controlCalls))
	}
	e, _ := r.Lookup(plugin.KindDecorator, "insistentOpen")
	if want := "insistentOpen([max=60000[, init=1000[, cumulativeMax=unbounded]]])"; e.Usage() != want {
		t.Fatalf("usage = %q, want %q", e.Usage(), want)
	}
}

// Every control decorator can be closed without being opened, and twice, and passes a batch
// through a full life cycle.
func TestControlLifecycle(t *testing.T) {
	ctx := context.Background()
	for _, c := range controlCalls {
		t.Run(c.Name, func(t *testing.T) {
			unopened := &testSink{}
			s := mustBuildCall(t, testEnv(), c, unopened)
			for range 2 {
				if err := s.Close(ctx); err != nil {
					t.Fatalf("Close without Open: %v", err)
				}
			}
			if _, appends, _ := unopened.counts(); appends != 0 {
				t.Fatalf("Close without Open appended to the sink")
			}

			sink := &testSink{}
			s = mustBuildCall(t, testEnv(), c, sink)
			mustOpen(t, s)
			appendAll(t, s, numbered("e", 4), 4)
			for range 2 {
				if err := s.Close(ctx); err != nil {
					t.Fatalf("Close: %v", err)
				}
			}
			opens, _, closes := sink.counts()
			if opens != 1 || closes < 1 {
				t.Fatalf("sink opened %d and closed %d times, want 1 and at least 1", opens, closes)
			}
			if len(sink.bodies()) == 0 && c.Name != "probSampler" && c.Name != "flakeyAppend" {
				t.Fatalf("nothing passed through %s", c.Name)
			}
		})
	}
}

func TestControlBadArguments(t *testing.T) {
	tests := []struct {
		call *spec.Call
		want string // in the message
		col  int    // of the error
	}{
		{newCall("intervalSampler"), "missing argument n", 1},
		{newCall("intervalSampler", argInt(0)), "argument n: must be 1 or more", 10},
		{newCall("intervalSampler", argStr("x")), "argument n", 10},
		{newCall("probSampler", argFloat(1.5)), "argument prob: must be between 0 and 1", 10},
		{newCall("probSampler", argFloat(-0.1)), "argument prob", 10},
		{newCall("reservoirSampler", argInt(0)), "argument k", 10},
		{newCall("reservoirSampler", argInt(1<<20+1)), "argument k: must be at most 1048576, got 1048577", 10},
		{newCall("mult", argInt(0)), "argument n", 10},
		{newCall("mult", argInt(1<<16+1)), "argument n: must be at most 65536", 10},
		{newCall("flakeyAppend", argInt(2)), "argument prob", 10},
		{newCall("flakeyAppend"), "missing argument prob", 1},
		{newCall("intervalFlakeyAppend", argInt(0)), "argument n", 10},
		{newCall("intervalDroppyAppend", argInt(-1)), "argument n", 10},
		{newCall("insistentOpen", argInt(0)), "argument max: must be a positive", 10},
		{newCall("insistentOpen", argInt(10), argInt(0)), "argument init", 20},
		{newCall("insistentOpen", argInt(10), argInt(1), argInt(-5)), "argument cumulativeMax", 30},
		{newCall("insistentOpen", argInt(1), argInt(1), argInt(1), argInt(1)), "too many arguments", 40},
		{newCall("insistentAppend", argInt(0)), "argument maxSingle", 10},
		{newCall("delay", argStr("soon")), "argument ms", 10},
		{newCall("choke"), "missing argument", 1},
		{newCall("choke", argStr("")), "argument chokeId: must not be empty", 10},
		{newCall("stubbornAppend", argInt(1)), "too many arguments", 10},
	}
	r := plugin.NewRegistry()
	registerControl(r)
	for _, tt := range tests {
		t.Run(spec.FormatValue(spec.Value{Kind: spec.KindFunc, Func: tt.call}), func(t *testing.T) {
			_, err := r.BuildDecorator(testEnv().BuildContext, tt.call, &testSink{})
			if err == nil {
				t.Fatal("built, want an error")
			}
			errs := spec.Errors(err)
			if len(errs) != 1 {
				t.Fatalf("error %v (%T) is not one *spec.Error", err, err)
			}
			if e := errs[0]; e.Line != 1 || e.Col != tt.col || !strings.Contains(e.Msg, tt.want) {
				t.Fatalf("error = %v, want %q at 1:%d", err, tt.want, tt.col)
			}
			// Range errors of the builders end with the usage, as binding errors do.
			entry, _ := r.Lookup(plugin.KindDecorator, tt.call.Name)
			if usage := "; usage: " + entry.Usage(); !strings.HasSuffix(errs[0].Msg, usage) {
				t.Fatalf("error = %v, want it to end with %q", err, usage)
			}
		})
	}
}

func TestBackoffProperties(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]string
		args  []spec.Value
		want  [3]int64 // Initial, Max, CumulativeMax in ms
	}{
		{"defaults", nil, nil, [3]int64{1000, 60000, 0}},
		{"classic spelling", map[string]string{PropInsistentInit: "5", PropBackoffMax: "7",
			PropBackoffCumulativeMax: "9"}, nil, [3]int64{5, 7, 9}},
		{"fixed spelling", map[string]string{PropInsistentInitFixed: "6"}, nil, [3]int64{6, 60000, 0}},
		{"classic spelling wins", map[string]string{PropInsistentInit: "5", PropInsistentInitFixed: "6"},
			nil, [3]int64{5, 60000, 0}},
		{"arguments win", map[string]string{PropInsistentInit: "5", PropBackoffMax: "7"},
			[]spec.Value{argInt(70), argInt(50), argStr("2s")}, [3]int64{50, 70, 2000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := plugintest.NewEnv(tt.props, Register)
			s := mustBuildCall(t, env, newCall("insistentOpen", tt.args...), &testSink{})
			b := s.(*insistentOpen).r.backoff
			got := [3]int64{b.Initial.Milliseconds(), b.Max.Milliseconds(), b.CumulativeMax.Milliseconds()}
			if got != tt.want {
				t.Fatalf("backoff (init, max, cumulativeMax) = %v ms, want %v", got, tt.want)
			}
		})
	}
}

func BenchmarkInsistentAppendPassThrough(b *testing.B) {
	benchAppend(b, "insistentAppend")
}

func BenchmarkMult(b *testing.B) {
	benchAppend(b, "mult(2)")
}
