package plugintest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

func TestEnvBuildsComponentsFromSpecText(t *testing.T) {
	e := NewEnv(nil, registerFakes)
	got := Bodies(Drain(t, e.OpenSource(t, `batches("a b", "c")`), 5*time.Second))
	if !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("drained %q", got)
	}
	if n := e.Counter("batches.events_in"); n != 3 {
		t.Errorf("batches.events_in = %d, want 3", n)
	}
	if n := e.Counter("no.such.counter"); n != 0 {
		t.Errorf("a counter nothing created = %d", n)
	}

	sink := e.OpenSink(t, "collect")
	d, err := e.BuildDecorator(t, `prefix("x-")`, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Append(context.Background(), []*event.Event{{Body: []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	if got := Bodies(sink.(*Capture).Events()); !slices.Equal(got, []string{"x-a"}) {
		t.Errorf("through the decorator: %q", got)
	}
}

func TestEnvReturnsBuildErrors(t *testing.T) {
	e := NewEnv(nil, registerFakes)
	tests := []struct {
		name  string
		build func() error
		want  string
	}{
		{"source", func() error { _, err := e.BuildSource(t, "batches"); return err }, `1:1: batches: missing argument "batch"`},
		{"sink", func() error { _, err := e.BuildSink(t, "colect"); return err }, `unknown sink "colect"; did you mean "collect"?`},
		{"decorator", func() error { _, err := e.BuildDecorator(t, "prefix(1, 2)", &Capture{}); return err }, "too many arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.build(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("build = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestEnvFailsTheTestOnBadText(t *testing.T) {
	e := NewEnv(nil, registerFakes)
	tests := []struct {
		name string
		use  func(t testing.TB)
		want string
	}{
		{"source parse error", func(t testing.TB) { _, _ = e.BuildSource(t, "batches(") }, "parse batches("},
		{"sink parse error", func(t testing.TB) { _, _ = e.BuildSink(t, "collect |") }, "parse collect |"},
		{"not a plain sink", func(t testing.TB) { _, _ = e.BuildSink(t, "[collect, collect]") }, "is not a plain sink"},
		{"decorator parse error", func(t testing.TB) { _, _ = e.BuildDecorator(t, `prefix("x`, &Capture{}) }, `parse prefix("x`},
		{"open of a bad source", func(t testing.TB) { e.OpenSource(t, "batches") }, "build batches: "},
		{"failing open", func(t testing.TB) { e.OpenSink(t, "collect(failOpens=1)") }, "open collect(failOpens=1): capture: open refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(tt.use); !strings.Contains(got, tt.want) {
				t.Fatalf("failures %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEnvClosesWhatItOpenedWhenTheTestEnds(t *testing.T) {
	e := NewEnv(nil, registerFakes)
	var src *batchSource
	var sink *Capture
	if f := run(func(t testing.TB) {
		src = e.OpenSource(t, `batches("a")`).(*batchSource)
		sink = e.OpenSink(t, "collect").(*Capture)
		if src.isClosed() {
			t.Errorf("source closed before the test ended")
		}
	}); f != "" {
		t.Fatal(f)
	}
	if !src.isClosed() {
		t.Error("source not closed at the end of the test")
	}
	if opens, _, closes := sink.Counts(); opens != 1 || closes != 1 {
		t.Errorf("sink opened %d times, closed %d times; want 1, 1", opens, closes)
	}
}

func TestNewEnvCopiesProperties(t *testing.T) {
	props := map[string]string{"flume.x": "1"}
	e := NewEnv(props)
	e.Props["flume.y"] = "2"
	props["flume.x"] = "changed"
	if got := e.Prop("flume.x", ""); got != "1" {
		t.Errorf("flume.x = %q, want the value given to NewEnv", got)
	}
	if _, ok := props["flume.y"]; ok {
		t.Error("a property added to the env changed the caller's map")
	}
	NewEnv(nil).Props["flume.z"] = "3" // never a nil map
}

func TestNamesFailsOnAComponentWithoutDoc(t *testing.T) {
	r := plugin.NewRegistry()
	registerFakes(r)
	if got := Names(t, r, plugin.KindSink); !slices.Equal(got, []string{"collect"}) {
		t.Fatalf("sinks %q", got)
	}
	r.RegisterSink(spec.Signature{Name: "bare"}, "", nil)
	var got []string
	f := run(func(t testing.TB) { got = Names(t, r, plugin.KindSink) })
	if !slices.Equal(got, []string{"bare", "collect"}) || f != "sink bare has no doc" {
		t.Fatalf("Names = %q, failures %q", got, f)
	}
}

func TestEncode(t *testing.T) {
	f, err := NewEnv(nil, registerFakes).Registry.BuildFormat(nil, &spec.Call{Name: "lines"})
	if err != nil {
		t.Fatal(err)
	}
	evs := []*event.Event{{Body: []byte("a")}, {Body: []byte("b c")}}
	if got := string(Encode(t, f, evs...)); got != "a\nb c\n" {
		t.Fatalf("encoded %q", got)
	}
	if got := Encode(t, f); len(got) != 0 {
		t.Fatalf("no events encoded as %q", got)
	}
}
