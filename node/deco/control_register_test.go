package deco

import (
	"context"
	"strings"
	"testing"

	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// ctlNames are the control decorators, with arguments that build them.
var ctlNames = []*spec.Call{
	ctlCall("nullDeco"),
	ctlCall("lazyOpen"),
	ctlCall("insistentOpen"),
	ctlCall("insistentAppend"),
	ctlCall("stubbornAppend"),
	ctlCall("intervalSampler", ctlInt(2)),
	ctlCall("probSampler", ctlFloat(0.5)),
	ctlCall("reservoirSampler", ctlInt(2)),
	ctlCall("delay", ctlInt(0)),
	ctlCall("mult"),
	ctlCall("flakeyAppend", ctlInt(0)),
	ctlCall("intervalFlakeyAppend", ctlInt(100)),
	ctlCall("intervalDroppyAppend", ctlInt(100)),
	ctlCall("choke", ctlStr("c")),
}

func TestControlRegistered(t *testing.T) {
	r := plugin.NewRegistry()
	registerControl(r)
	for _, c := range ctlNames {
		e, ok := r.Lookup(plugin.KindDecorator, c.Name)
		if !ok {
			t.Fatalf("decorator %s is not registered", c.Name)
		}
		if e.Doc == "" || !strings.HasPrefix(e.Usage(), c.Name) {
			t.Fatalf("decorator %s: doc %q, usage %q", c.Name, e.Doc, e.Usage())
		}
	}
	if got := len(r.Entries(plugin.KindDecorator)); got != len(ctlNames) {
		t.Fatalf("%d decorators registered, want %d", got, len(ctlNames))
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
	for _, c := range ctlNames {
		t.Run(c.Name, func(t *testing.T) {
			unopened := &ctlSink{}
			s := ctlBuild(t, ctlBC(), c, unopened)
			for range 2 {
				if err := s.Close(ctx); err != nil {
					t.Fatalf("Close without Open: %v", err)
				}
			}
			if _, appends, _ := unopened.counts(); appends != 0 {
				t.Fatalf("Close without Open appended to the sink")
			}

			sink := &ctlSink{}
			s = ctlBuild(t, ctlBC(), c, sink)
			ctlOpen(t, s)
			ctlAppendAll(t, s, ctlEvents("e", 4), 4)
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
		{ctlCall("intervalSampler"), "missing argument n", 1},
		{ctlCall("intervalSampler", ctlInt(0)), "argument n: must be 1 or more", 10},
		{ctlCall("intervalSampler", ctlStr("x")), "argument n", 10},
		{ctlCall("probSampler", ctlFloat(1.5)), "argument prob: must be between 0 and 1", 10},
		{ctlCall("probSampler", ctlFloat(-0.1)), "argument prob", 10},
		{ctlCall("reservoirSampler", ctlInt(0)), "argument k", 10},
		{ctlCall("mult", ctlInt(0)), "argument n", 10},
		{ctlCall("flakeyAppend", ctlInt(2)), "argument prob", 10},
		{ctlCall("flakeyAppend"), "missing argument prob", 1},
		{ctlCall("intervalFlakeyAppend", ctlInt(0)), "argument n", 10},
		{ctlCall("intervalDroppyAppend", ctlInt(-1)), "argument n", 10},
		{ctlCall("insistentOpen", ctlInt(0)), "argument max: must be a positive", 10},
		{ctlCall("insistentOpen", ctlInt(10), ctlInt(0)), "argument init", 20},
		{ctlCall("insistentOpen", ctlInt(10), ctlInt(1), ctlInt(-5)), "argument cumulativeMax", 30},
		{ctlCall("insistentOpen", ctlInt(1), ctlInt(1), ctlInt(1), ctlInt(1)), "too many arguments", 40},
		{ctlCall("insistentAppend", ctlInt(0)), "argument maxSingle", 10},
		{ctlCall("delay", ctlStr("soon")), "argument ms", 10},
		{ctlCall("choke"), "missing argument", 1},
		{ctlCall("choke", ctlStr("")), "argument chokeId: must not be empty", 10},
		{ctlCall("stubbornAppend", ctlInt(1)), "too many arguments", 10},
	}
	r := plugin.NewRegistry()
	registerControl(r)
	for _, tt := range tests {
		t.Run(spec.FormatValue(spec.Value{Kind: spec.KindFunc, Func: tt.call}), func(t *testing.T) {
			_, err := r.BuildDecorator(ctlBC(), tt.call, &ctlSink{})
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
			[]spec.Value{ctlInt(70), ctlInt(50), ctlStr("2s")}, [3]int64{50, 70, 2000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bc := &plugin.BuildContext{Props: tt.props}
			s := ctlBuild(t, bc, ctlCall("insistentOpen", tt.args...), &ctlSink{})
			b := s.(*insistentOpen).r.backoff
			got := [3]int64{b.Initial.Milliseconds(), b.Max.Milliseconds(), b.CumulativeMax.Milliseconds()}
			if got != tt.want {
				t.Fatalf("backoff (init, max, cumulativeMax) = %v ms, want %v", got, tt.want)
			}
		})
	}
}

func BenchmarkInsistentAppendPassThrough(b *testing.B) {
	s := ctlBuild(b, ctlBC(), ctlCall("insistentAppend"), ctlNopSink{})
	batch := ctlEvents("e", 100)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMult(b *testing.B) {
	s := ctlBuild(b, ctlBC(), ctlCall("mult", ctlInt(2)), ctlNopSink{})
	batch := ctlEvents("e", 100)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}
