// Package flumev1 holds Flume's protobuf contract, package flume.v1: the messages generated from
// the .proto files next to this file, and the conversions between the wire Event and
// node/event.Event.
//
// Conversions share memory instead of copying it, because they sit on the data path: FromEvent
// and FromEvents make messages whose body and attribute values are the event's own slices, and
// ToEvent and ToEvents make events whose body and attribute values are the message's slices.
// Marshal a message made by FromEvent before the events it came from may be reused (a sink
// marshals within Append); an event made by ToEvent lives as long as the message's buffers,
// which proto.Unmarshal allocates afresh, so it is safe to keep.
//
// Receiving is strict where the Go event model is: a priority outside FATAL..TRACE and an
// attribute key set twice are errors, never silently repaired.
package flumev1

import (
	"errors"
	"fmt"

	"github.com/flumego/flume/node/event"
)

var (
	// ErrInvalidPriority is returned when a received event carries a priority that is not one
	// of the six: an unknown enum number from a newer or broken sender.
	ErrInvalidPriority = errors.New("invalid priority")
)

// FromEvent returns the wire form of e. The message shares e's body and attribute values and
// keeps the attributes in the order they were set. proto.Marshal refuses a host or an
// attribute key that is not valid UTF-8, as proto3 strings must be.
func FromEvent(e *event.Event) *Event {
	m := new(Event)
	n := e.NumAttrs()
	fillEvent(m, e, make([]Attr, n), make([]*Attr, n))
	return m
}

// FromEvents returns the wire form of a batch, in order, with the sharing of FromEvent. It
// allocates a fixed number of times per batch whatever its size. The batch must not contain
// nil events.
func FromEvents(batch []*event.Event) *EventBatch {
	nattrs := 0
	for _, e := range batch {
		nattrs += e.NumAttrs()
	}
	msgs := make([]Event, len(batch))
	ptrs := make([]*Event, len(batch))
	attrs := make([]Attr, nattrs)
	attrPtrs := make([]*Attr, nattrs)
	for i, e := range batch {
		n := e.NumAttrs()
		// Full slice expressions: appending to one event's attributes must not overwrite the
		// next event's.
		fillEvent(&msgs[i], e, attrs[:n:n], attrPtrs[:n:n])
		attrs, attrPtrs = attrs[n:], attrPtrs[n:]
		ptrs[i] = &msgs[i]
	}
	return &EventBatch{Events: ptrs}
}

// fillEvent sets the fields of m, a zero message, from e. attrs and ptrs have room for
// exactly e's attributes.
func fillEvent(m *Event, e *event.Event, attrs []Attr, ptrs []*Attr) {
	m.Body = e.Body
	m.Timestamp = e.Timestamp
	m.Priority = Priority(e.Priority)
	m.Host = e.Host
	if len(attrs) == 0 {
		return
	}
	for i, a := range e.AttrList() {
		attrs[i].Key = a.Key
		attrs[i].Value = a.Value
		ptrs[i] = &attrs[i]
	}
	m.Attrs = ptrs
}

// ToEvent returns the event m describes. The event shares m's body and attribute values. It
// fails with an error wrapping ErrInvalidPriority for a priority that is not one of the six,
// and with one wrapping event.ErrAttrExists for an attribute key that appears twice. A nil
// message is the empty message, as everywhere in protobuf.
func (m *Event) ToEvent() (*event.Event, error) {
	e := new(event.Event)
	if err := m.fill(e); err != nil {
		return nil, err
	}
	return e, nil
}

// ToEvents returns the events of b, in order, with the sharing and the checks of ToEvent. An
// error names the index of the first bad event, and no events are returned with it: a batch
// is accepted whole or refused whole.
func (b *EventBatch) ToEvents() ([]*event.Event, error) {
	msgs := b.GetEvents()
	evs := make([]event.Event, len(msgs))
	out := make([]*event.Event, len(msgs))
	for i, m := range msgs {
		if err := m.fill(&evs[i]); err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		out[i] = &evs[i]
	}
	return out, nil
}

// fill sets the fields of e, a zero event, from m.
func (m *Event) fill(e *event.Event) error {
	p := m.GetPriority()
	if p < Priority_PRIORITY_FATAL || p > Priority_PRIORITY_TRACE {
		return fmt.Errorf("convert event: priority %d: %w", int32(p), ErrInvalidPriority)
	}
	e.Body = m.GetBody()
	e.Timestamp = m.GetTimestamp()
	e.Priority = event.Priority(p)
	e.Host = m.GetHost()
	for _, a := range m.GetAttrs() {
		if err := e.SetAttr(a.GetKey(), a.GetValue()); err != nil {
			return fmt.Errorf("convert event: %w", err)
		}
	}
	return nil
}
