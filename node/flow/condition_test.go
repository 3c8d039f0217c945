package flow

import (
	"context"
	"testing"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
)

type noteSink struct{ note string }

func (n *noteSink) Open(context.Context) error                   { return nil }
func (n *noteSink) Append(context.Context, []*event.Event) error { return nil }
func (n *noteSink) Close(context.Context) error                  { return nil }
func (n *noteSink) Condition() string                            { return n.note }

// TestConditionOfANestedSink: a note of a sink deep in the tree (behind a decorator, in the
// second branch of a fan-out, inside a roll) is the flow's note, as a collector sink's dead
// letters under collector(ms) { [ ..., ... ] } must show in status.
func TestConditionOfANestedSink(t *testing.T) {
	deep := &noteSink{note: "dead letters: 1 event set aside"}
	r := &rollSink{}
	r.current.Store(&sinkRef{newFanOut([]plugin.Sink{&noteSink{}, &forwarder{next: deep}})})
	top := &forwarder{next: r}
	if got := conditionOf(top); got != deep.note {
		t.Fatalf("condition = %q, want %q", got, deep.note)
	}
	deep.note = ""
	if got := conditionOf(top); got != "" {
		t.Fatalf("condition = %q with no note anywhere, want none", got)
	}
}

// forwarder is a decorator that forwards to next and has no note of its own.
type forwarder struct {
	noteSink
	next plugin.Sink
}

func (f *forwarder) Forwards() plugin.Sink { return f.next }
