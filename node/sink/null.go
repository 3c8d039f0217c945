package sink

import (
	"context"
	"errors"
	"fmt"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

var (
	// ErrFail is the error of the fail sink: it fails on purpose (the master puts it where no
	// destination exists yet, e.g. "no collectors").
	ErrFail = errors.New("fail")
	// ErrNotOpen is returned by Append on a sink that is not open.
	ErrNotOpen = errors.New("sink not open")
	// ErrNoRegistry is returned when a sink that needs an output format is built without a
	// registry to build it from.
	ErrNoRegistry = errors.New("no registry to build the output format")
)

// counts are the metrics every sink keeps.
type counts struct {
	events, bytes *metrics.Counter
}

func newCounts(bc *plugin.BuildContext, name string) counts {
	reg := bc.Counters().Sub(name)
	return counts{events: reg.Counter("events_out"), bytes: reg.Counter("bytes_out")}
}

// add records a delivered batch.
func (c counts) add(batch []*event.Event) {
	var n int64
	for _, e := range batch {
		n += int64(len(e.Body))
	}
	c.events.Add(int64(len(batch)))
	c.bytes.Add(n)
}

var nullSig = spec.Signature{Name: "null"}

// nullSink is `null`: it drops what it gets (counting it).
type nullSink struct{ counts counts }

func buildNull(bc *plugin.BuildContext, _ *spec.Args) (plugin.Sink, error) {
	return &nullSink{counts: newCounts(bc, "null")}, nil
}

func (*nullSink) Open(context.Context) error { return nil }

func (s *nullSink) Append(_ context.Context, batch []*event.Event) error {
	s.counts.add(batch)
	return nil
}

func (*nullSink) Close(context.Context) error { return nil }

var counterSig = spec.Signature{Name: "counter", Params: []spec.Param{
	{Name: "name", Kind: spec.ParamString, Required: true},
}}

// Counter is `counter("name")`: it counts the events it gets in the metric name of the flow's
// registry, and drops them.
type Counter struct {
	c *metrics.Counter
}

func buildCounter(bc *plugin.BuildContext, args *spec.Args) (plugin.Sink, error) {
	name := args.String("name", "")
	if name == "" {
		return nil, args.Errorf("name", "empty metric name")
	}
	return &Counter{c: bc.Counters().Counter(name)}, nil
}

// Count returns the number of events counted so far (by every counter of the same name).
func (s *Counter) Count() int64 { return s.c.Load() }

// Open does nothing: a counter keeps counting across reopens, as the metric does.
func (s *Counter) Open(context.Context) error { return nil }

// Append counts the batch.
func (s *Counter) Append(_ context.Context, batch []*event.Event) error {
	s.c.Add(int64(len(batch)))
	return nil
}

// Close does nothing.
func (s *Counter) Close(context.Context) error { return nil }

var failSig = spec.Signature{Name: "fail", Params: []spec.Param{{Name: "msg", Kind: spec.ParamString}}}

// failSink is `fail(["msg"])`: Open and Append return the message as a permanent error,
// since retrying cannot make it work.
type failSink struct{ err error }

func buildFail(_ *plugin.BuildContext, args *spec.Args) (plugin.Sink, error) {
	err := ErrFail
	if msg := args.String("msg", ""); msg != "" {
		err = fmt.Errorf("%w: %s", ErrFail, msg)
	}
	return failSink{err: plugin.Permanent(err)}, nil
}

func (s failSink) Open(context.Context) error                   { return s.err }
func (s failSink) Append(context.Context, []*event.Event) error { return s.err }
func (failSink) Close(context.Context) error                    { return nil }
