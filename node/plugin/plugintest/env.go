package plugintest

import (
	"bytes"
	"context"
	"maps"
	"testing"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// Env is a build context with a registry, metrics and properties of its own, to build
// components from spec text as a config names them and to read what they count.
type Env struct {
	// BuildContext has Registry, Metrics and Props set. A test may set other fields (Stdin,
	// Stdout, Chokes) or add properties before it builds; pass it to a builder called directly.
	*plugin.BuildContext
}

// NewEnv returns an Env whose registry holds what the register functions add (such as a
// package's Register) and whose properties are a copy of props, which may be nil.
func NewEnv(props map[string]string, register ...func(*plugin.Registry)) *Env {
	r := plugin.NewRegistry()
	for _, f := range register {
		f(r)
	}
	p := maps.Clone(props)
	if p == nil {
		p = map[string]string{}
	}
	return &Env{BuildContext: &plugin.BuildContext{Registry: r, Metrics: metrics.NewRegistry(), Props: p}}
}

// BuildSource parses source spec text such as `text("/x")` and builds it. A parse error fails
// the test; the build error is returned.
func (e *Env) BuildSource(t testing.TB, text string) (plugin.Source, error) {
	t.Helper()
	c, err := spec.ParseSource(text)
	if err != nil {
		t.Fatalf("parse %s: %v", text, err)
	}
	return e.Registry.BuildSource(e.BuildContext, c)
}

// OpenSource builds and opens a source, failing the test on an error, and closes it when the
// test ends.
func (e *Env) OpenSource(t testing.TB, text string) plugin.Source {
	t.Helper()
	s, err := e.BuildSource(t, text)
	return open(t, text, s, err)
}

// BuildSink parses the spec text of a plain sink such as `text("/x", raw)` and builds it. A
// parse error, or text that is not a plain sink call, fails the test; the build error is
// returned.
func (e *Env) BuildSink(t testing.TB, text string) (plugin.Sink, error) {
	t.Helper()
	s, err := spec.ParseSink(text)
	if err != nil {
		t.Fatalf("parse %s: %v", text, err)
	}
	call, ok := s.(*spec.SinkCall)
	if !ok {
		t.Fatalf("%s is not a plain sink", text)
	}
	return e.Registry.BuildSink(e.BuildContext, call.Call)
}

// OpenSink builds and opens a plain sink, failing the test on an error, and closes it when the
// test ends (a sink may be closed twice, so a test may close it first to check Close).
func (e *Env) OpenSink(t testing.TB, text string) plugin.Sink {
	t.Helper()
	s, err := e.BuildSink(t, text)
	return open(t, text, s, err)
}

// BuildDecorator parses decorator call text such as `batch(10)` and builds it around next. A
// parse error fails the test; the build error is returned.
func (e *Env) BuildDecorator(t testing.TB, text string, next plugin.Sink) (plugin.Sink, error) {
	t.Helper()
	c, err := spec.ParseSource(text) // a decorator call parses as a source call does
	if err != nil {
		t.Fatalf("parse %s: %v", text, err)
	}
	return e.Registry.BuildDecorator(e.BuildContext, c, next)
}

// Counter returns the value of the counter or gauge called name, such as "text.events_in", or
// 0 if no component created it.
func (e *Env) Counter(name string) int64 {
	v, _ := e.Metrics.Get(name)
	return v
}

// opener is what a source and a sink have in common.
type opener interface {
	Open(ctx context.Context) error
	Close(ctx context.Context) error
}

// open opens x, which building text gave with err, failing the test on either error, and
// closes it when the test ends. The close error is not checked: a test that cares closes x
// itself.
func open[T opener](t testing.TB, text string, x T, err error) T {
	t.Helper()
	if err != nil {
		t.Fatalf("build %s: %v", text, err)
	}
	if err := x.Open(context.Background()); err != nil {
		t.Fatalf("open %s: %v", text, err)
	}
	t.Cleanup(func() { _ = x.Close(context.Background()) })
	return x
}

// Names returns the names of the components of kind k in r, in name order, failing the test
// for each one that has no doc.
func Names(t testing.TB, r *plugin.Registry, k plugin.Kind) []string {
	t.Helper()
	var names []string
	for _, e := range r.Entries(k) {
		names = append(names, e.Name())
		if e.Doc == "" {
			t.Errorf("%s %s has no doc", k, e.Name())
		}
	}
	return names
}

// Encode encodes evs with a new encoder of f, closes the encoder, and returns what it wrote,
// failing the test on an error.
func Encode(t testing.TB, f plugin.Format, evs ...*event.Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := f.NewEncoder(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
