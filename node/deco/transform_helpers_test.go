package deco

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

var errXFRefused = errors.New("capture sink: append refused")

// xfSink captures what a transforming decorator passes on: clones of the events, as a sink
// that keeps events must make, and the size of each batch. It refuses the next fails
// Appends, and records contract breaches (an empty batch, an Append while not open, two
// Appends at once) for the test to check. It is safe to read from another goroutine.
type xfSink struct {
	mu       sync.Mutex
	fails    int
	opens    int
	closes   int
	open     bool
	inAppend bool
	got      []*event.Event
	batches  []int
	breaches []string
}

func (s *xfSink) Open(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opens++
	s.open = true
	return nil
}

func (s *xfSink) Append(_ context.Context, batch []*event.Event) error {
	s.mu.Lock()
	if s.inAppend {
		s.breaches = append(s.breaches, "concurrent Append")
	}
	s.inAppend = true
	defer func() { s.inAppend = false; s.mu.Unlock() }()
	switch {
	case len(batch) == 0:
		s.breaches = append(s.breaches, "empty batch")
	case !s.open:
		s.breaches = append(s.breaches, "Append while not open")
	}
	if s.fails > 0 {
		s.fails--
		return errXFRefused
	}
	for _, e := range batch {
		s.got = append(s.got, e.Clone())
	}
	s.batches = append(s.batches, len(batch))
	return nil
}

func (s *xfSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closes++
	s.open = false
	return nil
}

// events returns a copy of what the sink captured.
func (s *xfSink) events() []*event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*event.Event(nil), s.got...)
}

func (s *xfSink) refuse(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails = n
}

func (s *xfSink) checkContract(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.breaches {
		t.Errorf("sink contract broken: %s", b)
	}
}

// xfBC returns a build context with a registry of its own, to read counters from.
func xfBC() *plugin.BuildContext {
	return &plugin.BuildContext{Metrics: metrics.NewRegistry()}
}

// xfCounter returns counter name ("value.events_in") of bc, 0 if it was never created.
func xfCounter(bc *plugin.BuildContext, name string) int64 {
	v, _ := bc.Metrics.Get(name)
	return v
}

// xfTry parses decorator call text, as it would appear in a spec, and builds it around next.
func xfTry(bc *plugin.BuildContext, text string, next plugin.Sink) (plugin.Sink, error) {
	c, err := spec.ParseSource(text)
	if err != nil {
		return nil, err
	}
	r := plugin.NewRegistry()
	registerTransforms(r)
	return r.BuildDecorator(bc, c, next)
}

// xfBuild is xfTry that fails the test on an error.
func xfBuild(t testing.TB, bc *plugin.BuildContext, text string, next plugin.Sink) plugin.Sink {
	t.Helper()
	s, err := xfTry(bc, text, next)
	if err != nil {
		t.Fatalf("build %s: %v", text, err)
	}
	return s
}

// xfEvent returns an event with the given body and attributes (name, value pairs).
func xfEvent(body string, kv ...string) *event.Event {
	e := &event.Event{Body: []byte(body), Timestamp: 1_280_404_805_123_456_789, Priority: event.WARN, Host: "web-1"}
	for i := 0; i+1 < len(kv); i += 2 {
		if err := e.SetAttr(kv[i], []byte(kv[i+1])); err != nil {
			panic(err)
		}
	}
	return e
}

// xfAttrs returns the attributes of e as a map, for comparisons.
func xfAttrs(e *event.Event) map[string]string {
	m := map[string]string{}
	for k, v := range e.Attrs() {
		m[k] = string(v)
	}
	return m
}

// xfAppend appends batch to s and checks that the decorator left the events it was given
// unchanged, as the read-only contract requires.
func xfAppend(t testing.TB, s plugin.Sink, batch ...*event.Event) error {
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

// xfRun builds text around a capture sink, opens it, appends each batch, closes it, and
// returns what the sink received.
func xfRun(t testing.TB, bc *plugin.BuildContext, text string, batches ...[]*event.Event) []*event.Event {
	t.Helper()
	sink := &xfSink{}
	d := xfBuild(t, bc, text, sink)
	ctx := context.Background()
	if err := d.Open(ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	for _, b := range batches {
		if err := xfAppend(t, d, b...); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	sink.checkContract(t)
	return sink.events()
}

// xfPoll calls cond until it returns nil or the deadline passes, then fails with its last
// error.
func xfPoll(t testing.TB, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not reached within %v: %v", within, err)
		}
		time.Sleep(time.Millisecond)
	}
}
