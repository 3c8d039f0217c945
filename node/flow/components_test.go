package flow

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"testing"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// Test components: a counting source, a source fed by the test, a capture sink, a sink that
// fails on demand, a panicking sink and an attribute-setting decorator. They are registered in
// a registry of their own so these tests exercise the flow package alone.

// store is where capture sinks record what they saw, by name.
type store struct {
	mu     sync.Mutex
	events map[string][]*event.Event
	opens  map[string]int
	closes map[string]int
	feed   chan []*event.Event
}

func newStore() *store {
	return &store{events: map[string][]*event.Event{}, opens: map[string]int{}, closes: map[string]int{},
		feed: make(chan []*event.Event)}
}

func (s *store) got(name string) []*event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*event.Event(nil), s.events[name]...)
}

func (s *store) count(m map[string]int, name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return m[name]
}

// seqSource emits bodies "0".."n-1" in batches of 7, reusing its batch memory as real sources do.
type seqSource struct {
	n, next int
	batch   []*event.Event
	evs     []event.Event
}

func (s *seqSource) Open(context.Context) error { return nil }
func (s *seqSource) Next(ctx context.Context) ([]*event.Event, error) {
	if s.next >= s.n {
		return nil, io.EOF
	}
	if s.evs == nil {
		s.evs = make([]event.Event, 7)
	}
	s.batch = s.batch[:0]
	for i := 0; i < 7 && s.next < s.n; i++ {
		s.evs[i] = event.Event{Body: []byte(strconv.Itoa(s.next)), Priority: event.INFO}
		s.batch = append(s.batch, &s.evs[i])
		s.next++
	}
	return s.batch, nil
}
func (s *seqSource) Close(context.Context) error { return nil }

// feedSource emits what the test sends on store.feed, until closed.
type feedSource struct {
	st     *store
	once   sync.Once
	closed chan struct{}
}

func (s *feedSource) Open(context.Context) error { return nil }
func (s *feedSource) Next(ctx context.Context) ([]*event.Event, error) {
	select {
	case b := <-s.st.feed:
		return b, nil
	case <-s.closed:
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
func (s *feedSource) Close(context.Context) error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

type captureSink struct {
	st   *store
	name string
	// failAppends fails that many appends first; failOpens that many opens.
	failAppends, failOpens int
	panics                 bool
	// blockOpensFrom makes the n-th open and later ones (counting from 1) block until their
	// ctx ends; closeErr makes Close fail; panicClose makes Close panic.
	blockOpensFrom int
	closeErr       bool
	panicClose     bool
}

func (c *captureSink) Open(ctx context.Context) error {
	c.st.mu.Lock()
	c.st.opens[c.name]++
	if c.blockOpensFrom > 0 && c.st.opens[c.name] >= c.blockOpensFrom {
		c.st.mu.Unlock()
		<-ctx.Done()
		return ctx.Err()
	}
	defer c.st.mu.Unlock()
	if c.failOpens != 0 {
		c.failOpens--
		return fmt.Errorf("%s: open refused", c.name)
	}
	return nil
}

func (c *captureSink) Append(_ context.Context, batch []*event.Event) error {
	if c.panics {
		panic("capture sink " + c.name + " exploded")
	}
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	if c.failAppends != 0 {
		c.failAppends--
		return fmt.Errorf("%s: append refused", c.name)
	}
	for _, e := range batch {
		c.st.events[c.name] = append(c.st.events[c.name], e.Clone())
	}
	return nil
}

func (c *captureSink) Close(context.Context) error {
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	c.st.closes[c.name]++
	if c.panicClose {
		panic("capture sink " + c.name + " exploded on close")
	}
	if c.closeErr {
		return fmt.Errorf("%s: flush failed", c.name)
	}
	return nil
}

type tagDeco struct {
	key, value string
	next       plugin.Sink
}

func (d *tagDeco) Open(ctx context.Context) error { return d.next.Open(ctx) }
func (d *tagDeco) Append(ctx context.Context, batch []*event.Event) error {
	out := make([]*event.Event, len(batch))
	for i, e := range batch {
		out[i] = e.Derive()
		if err := out[i].SetAttr(d.key, []byte(d.value)); err != nil {
			return err
		}
	}
	return d.next.Append(ctx, out)
}
func (d *tagDeco) Close(ctx context.Context) error { return d.next.Close(ctx) }

func testRegistry(st *store) *plugin.Registry {
	r := plugin.NewRegistry()
	r.RegisterSource(spec.Signature{Name: "seq", Params: []spec.Param{{Name: "count", Kind: spec.ParamInt, Required: true}}},
		"count from 0", func(_ *plugin.BuildContext, a *spec.Args) (plugin.Source, error) {
			n := a.Int("count", 0)
			if n < 0 {
				return nil, a.Errorf("count", "must be 0 or more")
			}
			return &seqSource{n: int(n)}, nil
		})
	r.RegisterSource(spec.Signature{Name: "feed"}, "events from the test",
		func(*plugin.BuildContext, *spec.Args) (plugin.Source, error) {
			return &feedSource{st: st, closed: make(chan struct{})}, nil
		})
	r.RegisterSink(spec.Signature{Name: "capture", Params: []spec.Param{
		{Name: "name", Kind: spec.ParamString, Required: true},
		{Name: "failAppends", Kind: spec.ParamInt, KeywordOnly: true},
		{Name: "failOpens", Kind: spec.ParamInt, KeywordOnly: true},
		{Name: "panics", Kind: spec.ParamBool, KeywordOnly: true},
		{Name: "blockOpensFrom", Kind: spec.ParamInt, KeywordOnly: true},
		{Name: "closeErr", Kind: spec.ParamBool, KeywordOnly: true},
		{Name: "panicClose", Kind: spec.ParamBool, KeywordOnly: true},
	}}, "record events", func(_ *plugin.BuildContext, a *spec.Args) (plugin.Sink, error) {
		return &captureSink{st: st, name: a.String("name", ""), failAppends: int(a.Int("failAppends", 0)),
			failOpens: int(a.Int("failOpens", 0)), panics: a.Bool("panics", false),
			blockOpensFrom: int(a.Int("blockOpensFrom", 0)), closeErr: a.Bool("closeErr", false),
			panicClose: a.Bool("panicClose", false)}, nil
	})
	r.RegisterDecorator(spec.Signature{Name: "tag", Params: []spec.Param{
		{Name: "key", Kind: spec.ParamString, Required: true},
		{Name: "value", Kind: spec.ParamString, Required: true},
	}}, "set an attribute", func(_ *plugin.BuildContext, a *spec.Args, next plugin.Sink) (plugin.Sink, error) {
		return &tagDeco{key: a.String("key", ""), value: a.String("value", ""), next: next}, nil
	})
	return r
}

// build parses text ("name : source | sink ;") and builds it with fast failover backoff.
func build(t testing.TB, st *store, text string) *Flow {
	t.Helper()
	defs, err := spec.ParseNodes(text)
	if err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	bc := &plugin.BuildContext{Registry: testRegistry(st), Props: map[string]string{
		"flume.agent.failover.backoff.initial": "20",
		"flume.agent.failover.backoff.max":     "40",
	}}
	f, err := Build(bc, defs[0])
	if err != nil {
		t.Fatalf("build %q: %v", text, err)
	}
	return f
}
