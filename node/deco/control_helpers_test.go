package deco

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

var (
	errCtlOpen   = errors.New("test sink: open refused")
	errCtlAppend = errors.New("test sink: append refused")
)

// ctlSink is a controllable sink for the control decorator tests. Open fails openFails times,
// then succeeds; Append fails appendFails times, then succeeds. It counts what it is asked
// to do and keeps clones of what it delivers. It is safe to read from another goroutine.
type ctlSink struct {
	mu          sync.Mutex
	openFails   int
	openErr     error // returned by a failing Open; errCtlOpen if nil
	appendFails int
	appendErr   error // returned by a failing Append; errCtlAppend if nil

	opens, closes, appends int  // calls
	isOpen                 bool // opened successfully and not closed since
	got                    []*event.Event
	batches                []int // the sizes of the delivered batches
}

func (s *ctlSink) Open(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opens++
	if s.openFails > 0 {
		s.openFails--
		if s.openErr != nil {
			return s.openErr
		}
		return errCtlOpen
	}
	s.isOpen = true
	return nil
}

func (s *ctlSink) Append(_ context.Context, batch []*event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appends++
	if len(batch) == 0 {
		return errors.New("test sink: empty batch")
	}
	if !s.isOpen {
		return errors.New("test sink: append while not open")
	}
	if s.appendFails > 0 {
		s.appendFails--
		if s.appendErr != nil {
			return s.appendErr
		}
		return errCtlAppend
	}
	for _, e := range batch {
		s.got = append(s.got, e.Clone())
	}
	s.batches = append(s.batches, len(batch))
	return nil
}

func (s *ctlSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closes++
	s.isOpen = false
	return nil
}

// counts returns opens, appends and closes.
func (s *ctlSink) counts() (opens, appends, closes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens, s.appends, s.closes
}

// bodies returns the bodies delivered, in order.
func (s *ctlSink) bodies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.got))
	for i, e := range s.got {
		out[i] = string(e.Body)
	}
	return out
}

// ctlBC returns a build context with its own metrics and short backoffs.
func ctlBC() *plugin.BuildContext {
	return &plugin.BuildContext{
		Metrics: metrics.NewRegistry(),
		Props: map[string]string{
			PropInsistentInit: "1",
			PropBackoffMax:    "2",
		},
	}
}

// Argument constructors for test calls; each is placed at its own column so errors point
// somewhere.
func ctlInt(n int64) spec.Value     { return spec.Value{Kind: spec.KindInt, Int: n} }
func ctlFloat(f float64) spec.Value { return spec.Value{Kind: spec.KindFloat, Float: f} }
func ctlStr(s string) spec.Value    { return spec.Value{Kind: spec.KindString, Str: s} }

// ctlCall returns the call name(args...) at line 1, the arguments at columns 10, 20, ...
func ctlCall(name string, args ...spec.Value) *spec.Call {
	c := &spec.Call{Pos: spec.Pos{Line: 1, Col: 1}, Name: name}
	for i, a := range args {
		a.Pos = spec.Pos{Line: 1, Col: 10 * (i + 1)}
		c.Args = append(c.Args, a)
	}
	return c
}

// ctlBuild builds decorator call c around next through a registry holding the control
// decorators.
func ctlBuild(t testing.TB, bc *plugin.BuildContext, c *spec.Call, next plugin.Sink) plugin.Sink {
	t.Helper()
	r := plugin.NewRegistry()
	registerControl(r)
	s, err := r.BuildDecorator(bc, c, next)
	if err != nil {
		t.Fatalf("build %s: %v", c.Name, err)
	}
	return s
}

// ctlEvents returns n events with bodies prefix0, prefix1, ...
func ctlEvents(prefix string, n int) []*event.Event {
	out := make([]*event.Event, n)
	for i := range out {
		out[i] = &event.Event{Body: []byte(prefix + strconv.Itoa(i)), Priority: event.INFO}
	}
	return out
}

// ctlOpen opens s or fails the test.
func ctlOpen(t testing.TB, s plugin.Sink) {
	t.Helper()
	if err := s.Open(context.Background()); err != nil {
		t.Fatalf("Open: %v", err)
	}
}

// ctlAppendAll appends events in batches of size n, failing the test on an error.
func ctlAppendAll(t testing.TB, s plugin.Sink, events []*event.Event, n int) {
	t.Helper()
	for len(events) > 0 {
		k := min(n, len(events))
		if err := s.Append(context.Background(), events[:k]); err != nil {
			t.Fatalf("Append: %v", err)
		}
		events = events[k:]
	}
}

// ctlCounter returns counter name of bc's metrics, 0 if it does not exist.
func ctlCounter(bc *plugin.BuildContext, name string) int64 {
	v, _ := bc.Metrics.Get(name)
	return v
}

// ctlEqual fails the test unless got equals want.
func ctlEqual(t testing.TB, what string, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != len(want) {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

// ctlWithin runs f in a goroutine and fails the test if it does not return within d. It
// returns f's error.
func ctlWithin(t testing.TB, d time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("call did not return within %v", d)
		return nil
	}
}

// ctlPoll waits until cond holds, failing the test at the deadline.
func ctlPoll(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
