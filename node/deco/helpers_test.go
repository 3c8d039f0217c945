package deco

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/spec"
)

// The failures testSink injects.
var (
	errOpenRefused   = errors.New("test sink: open refused")
	errAppendRefused = errors.New("test sink: append refused")
)

// testSink is the sink the decorators under test feed. Open fails openFails times, then
// succeeds; Append fails appendFails times, then succeeds. It counts what it is asked to do,
// keeps clones of what it accepts (as a sink that keeps events must) and the size of each
// batch, and records breaches of the sink contract (an empty batch, an Append while not
// open, two Appends at once) for checkContract. onAppend, if set, runs at the start of every
// Append, outside the sink's lock: it may block, fail or panic. The sink is safe to use from
// several goroutines.
type testSink struct {
	mu          sync.Mutex
	openFails   int
	openErr     error // returned by a failing Open; errOpenRefused if nil
	appendFails int
	appendErr   error // returned by a failing Append; errAppendRefused if nil
	onAppend    func(ctx context.Context, batch []*event.Event) error

	opens, closes, appends int  // calls
	isOpen                 bool // opened successfully and not closed since
	inAppend               bool
	got                    []*event.Event
	batches                []int // the sizes of the accepted batches
	breaches               []string
}

func (s *testSink) Open(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opens++
	if s.openFails > 0 {
		s.openFails--
		if s.openErr != nil {
			return s.openErr
		}
		return errOpenRefused
	}
	s.isOpen = true
	return nil
}

func (s *testSink) Append(ctx context.Context, batch []*event.Event) error {
	s.mu.Lock()
	s.appends++
	if s.inAppend {
		s.breaches = append(s.breaches, "concurrent Append")
	}
	s.inAppend = true
	hook := s.onAppend
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inAppend = false
		s.mu.Unlock()
	}()
	if hook != nil {
		if err := hook(ctx, batch); err != nil {
			return err
		}
	}
	return s.accept(batch)
}

// accept checks and keeps batch, or fails it as appendFails says.
func (s *testSink) accept(batch []*event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(batch) == 0:
		s.breaches = append(s.breaches, "empty batch")
		return errors.New("test sink: empty batch")
	case !s.isOpen:
		s.breaches = append(s.breaches, "Append while not open")
		return errors.New("test sink: append while not open")
	}
	if s.appendFails > 0 {
		s.appendFails--
		if s.appendErr != nil {
			return s.appendErr
		}
		return errAppendRefused
	}
	for _, e := range batch {
		s.got = append(s.got, e.Clone())
	}
	s.batches = append(s.batches, len(batch))
	return nil
}

func (s *testSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closes++
	s.isOpen = false
	return nil
}

// counts returns opens, appends and closes.
func (s *testSink) counts() (opens, appends, closes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens, s.appends, s.closes
}

// events returns a copy of what the sink accepted.
func (s *testSink) events() []*event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*event.Event(nil), s.got...)
}

// bodies returns the bodies accepted, in order.
func (s *testSink) bodies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.got))
	for i, e := range s.got {
		out[i] = string(e.Body)
	}
	return out
}

// batchSizes returns the sizes of the accepted batches, in order.
func (s *testSink) batchSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.batches...)
}

// refuse makes the next n Appends fail with errAppendRefused.
func (s *testSink) refuse(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appendFails = n
}

// checkContract fails the test for every breach of the sink contract the sink saw.
func (s *testSink) checkContract(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.breaches {
		t.Errorf("sink contract broken: %s", b)
	}
}

// discardSink accepts everything and keeps nothing, so benchmarks measure the decorator alone.
type discardSink struct{}

func (discardSink) Open(context.Context) error                   { return nil }
func (discardSink) Append(context.Context, []*event.Event) error { return nil }
func (discardSink) Close(context.Context) error                  { return nil }

// testEnv returns an env whose registry holds every decorator of the package, with metrics of
// its own to read counters from and retry backoffs short enough for tests.
func testEnv() *plugintest.Env {
	return plugintest.NewEnv(map[string]string{
		PropInsistentInit: "1",
		PropBackoffMax:    "2",
	}, Register)
}

// Argument constructors for calls built in code; newCall places each at its own column so
// errors point somewhere.
func argInt(n int64) spec.Value     { return spec.Value{Kind: spec.KindInt, Int: n} }
func argFloat(f float64) spec.Value { return spec.Value{Kind: spec.KindFloat, Float: f} }
func argStr(s string) spec.Value    { return spec.Value{Kind: spec.KindString, Str: s} }

// newCall returns the call name(args...) at line 1, the arguments at columns 10, 20, ...
func newCall(name string, args ...spec.Value) *spec.Call {
	c := &spec.Call{Pos: spec.Pos{Line: 1, Col: 1}, Name: name}
	for i, a := range args {
		a.Pos = spec.Pos{Line: 1, Col: 10 * (i + 1)}
		c.Args = append(c.Args, a)
	}
	return c
}

// mustBuildCall builds decorator call c, built in code, around next, failing the test on an
// error.
func mustBuildCall(t testing.TB, env *plugintest.Env, c *spec.Call, next plugin.Sink) plugin.Sink {
	t.Helper()
	s, err := env.Registry.BuildDecorator(env.BuildContext, c, next)
	if err != nil {
		t.Fatalf("build %s: %v", c.Name, err)
	}
	return s
}

// mustBuild builds decorator call text, as it would appear in a spec, around next, failing the
// test on an error.
func mustBuild(t testing.TB, env *plugintest.Env, text string, next plugin.Sink) plugin.Sink {
	t.Helper()
	s, err := env.BuildDecorator(t, text, next)
	if err != nil {
		t.Fatalf("build %s: %v", text, err)
	}
	return s
}

// eventOf returns an event with the given body and attributes (name, value pairs).
func eventOf(body string, kv ...string) *event.Event {
	e := &event.Event{Body: []byte(body), Timestamp: 1_280_404_805_123_456_789, Priority: event.WARN, Host: "web-1"}
	for i := 0; i+1 < len(kv); i += 2 {
		if err := e.SetAttr(kv[i], []byte(kv[i+1])); err != nil {
			panic(err)
		}
	}
	return e
}

// numbered returns n events with bodies prefix0, prefix1, ...
func numbered(prefix string, n int) []*event.Event {
	out := make([]*event.Event, n)
	for i := range out {
		out[i] = &event.Event{Body: []byte(prefix + strconv.Itoa(i)), Priority: event.INFO}
	}
	return out
}

// variedEvents returns n events that exercise the encoding: binary bodies, attributes, all
// priorities, distinct timestamps and hosts.
func variedEvents(n int) []*event.Event {
	out := make([]*event.Event, n)
	for i := range out {
		e := &event.Event{
			Body:      []byte{byte(i), 0, 0xff, '\n', byte(i >> 8)},
			Timestamp: 1_280_404_805_000_000_000 + int64(i)*1_000_003,
			Priority:  event.Priority(i % 6),
			Host:      "host-" + strconv.Itoa(i%3),
		}
		if i%2 == 0 {
			_ = e.SetAttr("seq", []byte(strconv.Itoa(i)))
			_ = e.SetAttr("bin", []byte{0, byte(i)})
		}
		out[i] = e
	}
	return out
}

// attrsOf returns the attributes of e as a map, for comparisons.
func attrsOf(e *event.Event) map[string]string {
	m := map[string]string{}
	for k, v := range e.Attrs() {
		m[k] = string(v)
	}
	return m
}

// chunks splits evs into batches of at most size events.
func chunks(evs []*event.Event, size int) [][]*event.Event {
	var out [][]*event.Event
	for len(evs) > 0 {
		k := min(size, len(evs))
		out = append(out, evs[:k])
		evs = evs[k:]
	}
	return out
}

// sameEvents fails the test unless got and want hold equal events in the same order.
func sameEvents(t testing.TB, got, want []*event.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if !event.Equal(got[i], want[i]) {
			t.Fatalf("event %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// equalStrings fails the test unless got equals want.
func equalStrings(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

// mustOpen opens s or fails the test.
func mustOpen(t testing.TB, s plugin.Sink) {
	t.Helper()
	if err := s.Open(context.Background()); err != nil {
		t.Fatalf("Open: %v", err)
	}
}

// appendAll appends events in batches of size n, failing the test on an error.
func appendAll(t testing.TB, s plugin.Sink, events []*event.Event, n int) {
	t.Helper()
	for _, b := range chunks(events, n) {
		if err := s.Append(context.Background(), b); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
}

// appendChecked appends batch to s and checks that the decorator left the events it was
// given unchanged, as the read-only contract requires.
func appendChecked(t testing.TB, s plugin.Sink, batch ...*event.Event) error {
	t.Helper()
	before := make([]*event.Event, len(batch))
	for i, e := range batch {
		before[i] = e.Clone()
	}
	err := s.Append(context.Background(), batch)
	for i, e := range batch {
		if !event.Equal(e, before[i]) {
			t.Errorf("Append changed input event %d: %+v, was %+v", i, e, before[i])
		}
	}
	return err
}

// runThrough builds text around a testSink, opens it, appends each batch, closes it, and
// returns what the sink received.
func runThrough(t testing.TB, env *plugintest.Env, text string, batches ...[]*event.Event) []*event.Event {
	t.Helper()
	sink := &testSink{}
	d := mustBuild(t, env, text, sink)
	ctx := context.Background()
	if err := d.Open(ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	for _, b := range batches {
		if err := appendChecked(t, d, b...); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	sink.checkContract(t)
	return sink.events()
}

// refuseBadAggregate builds text (unbatch, gunzip) around a testSink and opens it, then checks
// that a batch of a good event and bad fails as a whole, with a permanent ErrBadAggregate that
// says want. It returns the decorator and the sink, for more appends.
func refuseBadAggregate(t *testing.T, text string, bad *event.Event, want string) (plugin.Sink, *testSink) {
	t.Helper()
	sink := &testSink{}
	d := mustBuild(t, testEnv(), text, sink)
	mustOpen(t, d)
	err := appendChecked(t, d, eventOf("before"), bad)
	if !errors.Is(err, ErrBadAggregate) || !plugin.IsPermanent(err) {
		t.Fatalf("Append = %v, want a permanent ErrBadAggregate", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if n := len(sink.events()); n != 0 {
		t.Errorf("%d events passed on from a failed batch", n)
	}
	return d, sink
}

// openForBench builds decorator text around a discardSink and opens it, closing it when the
// benchmark ends; it reports allocations and starts the timer afresh.
func openForBench(b *testing.B, text string) plugin.Sink {
	b.Helper()
	d := mustBuild(b, testEnv(), text, discardSink{})
	mustOpen(b, d)
	b.Cleanup(func() {
		if err := d.Close(context.Background()); err != nil {
			b.Error(err)
		}
	})
	b.ReportAllocs()
	b.ResetTimer()
	return d
}

// benchAppend appends the same batch of 100 events to decorator text, b.N times.
func benchAppend(b *testing.B, text string) {
	b.Helper()
	d := openForBench(b, text)
	batch := numbered("e", 100)
	ctx := context.Background()
	for b.Loop() {
		if err := d.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}
