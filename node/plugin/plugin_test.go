package plugin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/spec"
)

type nopSink struct{}

func (nopSink) Open(context.Context) error                   { return nil }
func (nopSink) Append(context.Context, []*event.Event) error { return nil }
func (nopSink) Close(context.Context) error                  { return nil }

func newTestRegistry() *Registry {
	r := NewRegistry()
	r.RegisterSink(spec.Signature{Name: "console"}, "print", func(*BuildContext, *spec.Args) (Sink, error) { return nopSink{}, nil })
	r.RegisterSink(spec.Signature{Name: "broken"}, "fails to build", func(*BuildContext, *spec.Args) (Sink, error) {
		return nil, errors.New("cannot build")
	})
	r.RegisterDecorator(spec.Signature{Name: "batch", Params: []spec.Param{{Name: "n", Kind: spec.ParamInt, Required: true}}},
		"batch", func(_ *BuildContext, _ *spec.Args, next Sink) (Sink, error) { return next, nil })
	return r
}

func TestRegistryErrors(t *testing.T) {
	r := newTestRegistry()
	tests := []struct {
		call *spec.Call
		want string
	}{
		{&spec.Call{Pos: spec.Pos{Line: 1, Col: 3}, Name: "consle"}, `1:3: unknown sink "consle"; did you mean "console"?`},
		{&spec.Call{Pos: spec.Pos{Line: 2, Col: 1}, Name: "batch"}, `2:1: unknown sink "batch" ("batch" is a decorator)`},
		{&spec.Call{Pos: spec.Pos{Line: 1, Col: 1}, Name: "zzzzzzzz"}, `1:1: unknown sink "zzzzzzzz"`},
		{&spec.Call{Pos: spec.Pos{Line: 4, Col: 2}, Name: "broken"}, `4:2: broken: cannot build`},
	}
	for _, tt := range tests {
		_, err := r.BuildSink(&BuildContext{Registry: r}, tt.call)
		if err == nil || err.Error() != tt.want {
			t.Errorf("BuildSink(%s) = %v, want %q", tt.call.Name, err, tt.want)
		}
	}
}

func TestRegistryDuplicatePanics(t *testing.T) {
	r := newTestRegistry()
	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), `sink "console" registered twice`) {
			t.Fatalf("recover() = %v", p)
		}
	}()
	r.RegisterSink(spec.Signature{Name: "console"}, "again", nil)
}

func TestRegistryEntriesSorted(t *testing.T) {
	r := newTestRegistry()
	var names []string
	for _, e := range r.Entries(KindSink) {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "broken,console" {
		t.Fatalf("entries %v", names)
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("disk full")
	p := Permanent(base)
	wrapped := errors.Join(errors.New("context"), p)
	if !IsPermanent(p) || !IsPermanent(wrapped) || IsPermanent(base) || Permanent(nil) != nil {
		t.Fatal("Permanent/IsPermanent disagree")
	}
	if !errors.Is(p, base) {
		t.Fatal("Permanent hides the error it marks")
	}
}

func TestBuildContextDefaults(t *testing.T) {
	var bc *BuildContext
	if bc.Log() == nil || bc.Counters() == nil || bc.In() == nil || bc.Out() == nil {
		t.Fatal("nil build context gives nil defaults")
	}
	bc = &BuildContext{Props: map[string]string{"a": "12", "b": "x", "flume.event.max.size.bytes": "999999999"}}
	if bc.PropInt("a", 1) != 12 || bc.PropInt("b", 1) != 1 || bc.PropMillis("a", 0) != 12*time.Millisecond {
		t.Fatal("property accessors")
	}
	if bc.MaxEventSize() != event.DefaultMaxSize {
		t.Fatalf("an out-of-range size limit gives %d", bc.MaxEventSize())
	}
}

func TestChokeTableLimitsRate(t *testing.T) {
	ct := NewChokeTable()
	if err := ct.Wait(context.Background(), "none", 1<<30); err != nil {
		t.Fatal("an id without a limit must not wait")
	}
	ct.SetLimit("c", 100) // 100 KiB/s, burst 10 KiB
	start := time.Now()
	// 10 KiB of burst, then 140 KiB more at 100 KiB/s: at least ~1.4 s.
	for range 15 {
		if err := ct.Wait(context.Background(), "c", 10*1024); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < 1300*time.Millisecond {
		t.Fatalf("150 KiB through a 100 KiB/s choke took %v", el)
	}
	if ct.Limit("c") != 100 {
		t.Fatalf("Limit = %d", ct.Limit("c"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ct.Wait(ctx, "c", 1<<20); err == nil {
		t.Fatal("a cancelled wait succeeded")
	}
	ct.SetLimit("c", 0)
	if ct.Limit("c") != 0 {
		t.Fatal("limit not removed")
	}
}
