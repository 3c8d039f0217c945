package flumev1_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/flumego/flume/node/event"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// newEvent returns an event with the given fields and attributes, set in the order given as
// key, value pairs.
func newEvent(t testing.TB, body []byte, ts int64, p event.Priority, host string, kv ...string) *event.Event {
	t.Helper()
	e := &event.Event{Body: body, Timestamp: ts, Priority: p, Host: host}
	for i := 0; i+1 < len(kv); i += 2 {
		if err := e.SetAttr(kv[i], []byte(kv[i+1])); err != nil {
			t.Fatalf("SetAttr(%q): %v", kv[i], err)
		}
	}
	return e
}

// wire marshals m and unmarshals it into a fresh message, as a receiver would see it.
func wire[M proto.Message](t testing.TB, m M, fresh M) M {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if err := proto.Unmarshal(b, fresh); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return fresh
}

// describe prints an event for failure messages.
func describe(e *event.Event) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "{body=%q ts=%d pri=%v host=%q attrs=[", e.Body, e.Timestamp, e.Priority, e.Host)
	for k, v := range e.Attrs() {
		fmt.Fprintf(&sb, " %q:%q", k, v)
	}
	sb.WriteString(" ]}")
	return sb.String()
}

func roundTripCases(t testing.TB) map[string]*event.Event {
	binary := make([]byte, 512)
	for i := range binary {
		binary[i] = byte(i)
	}
	many := newEvent(t, []byte("many"), 1, event.INFO, "h")
	for i := 999; i >= 0; i-- { // descending, so that order is not sorted order
		if err := many.SetAttr(fmt.Sprintf("attr-%04d", i), []byte{byte(i), 0, byte(i >> 8)}); err != nil {
			t.Fatalf("SetAttr: %v", err)
		}
	}
	return map[string]*event.Event{
		"zero event":         {},
		"empty body":         newEvent(t, []byte{}, 1700000000123456789, event.INFO, "host1"),
		"nil body":           newEvent(t, nil, 5, event.WARN, "host1", "k", "v"),
		"text body":          newEvent(t, []byte("hello world"), 1700000000123456789, event.INFO, "web-01.example.com"),
		"binary body":        newEvent(t, binary, 42, event.DEBUG, "h", "bin", "\x00\xff\x80"),
		"negative time":      newEvent(t, []byte("before 1970"), -1234567890123, event.ERROR, "h"),
		"max time":           newEvent(t, []byte("x"), math.MaxInt64, event.TRACE, "h"),
		"unicode host":       newEvent(t, []byte("x"), 7, event.FATAL, "hôte-ü.例え"),
		"empty attr value":   newEvent(t, []byte("x"), 7, event.INFO, "h", "empty", "", "after", "v"),
		"attrs in set order": newEvent(t, []byte("x"), 7, event.INFO, "h", "zeta", "1", "alpha", "2", "mu", "3"),
		"many attributes":    many,
	}
}

func TestEventRoundTrip(t *testing.T) {
	for name, in := range roundTripCases(t) {
		t.Run(name, func(t *testing.T) {
			direct, err := flumev1.FromEvent(in).ToEvent()
			if err != nil {
				t.Fatalf("ToEvent: %v", err)
			}
			if !event.Equal(in, direct) {
				t.Errorf("direct round trip:\n got %s\nwant %s", describe(direct), describe(in))
			}
			got, err := wire(t, flumev1.FromEvent(in), new(flumev1.Event)).ToEvent()
			if err != nil {
				t.Fatalf("ToEvent after the wire: %v", err)
			}
			if !event.Equal(in, got) {
				t.Errorf("round trip through the wire:\n got %s\nwant %s", describe(got), describe(in))
			}
		})
	}
}

func TestBatchRoundTrip(t *testing.T) {
	cases := roundTripCases(t)
	var all []*event.Event
	for _, e := range cases {
		all = append(all, e)
	}
	tests := map[string][]*event.Event{
		"empty batch":   nil,
		"one event":     {cases["text body"]},
		"mixed events":  all,
		"no attributes": {cases["zero event"], cases["empty body"], cases["max time"]},
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := wire(t, flumev1.FromEvents(in), new(flumev1.EventBatch)).ToEvents()
			if err != nil {
				t.Fatalf("ToEvents: %v", err)
			}
			if len(got) != len(in) {
				t.Fatalf("got %d events, want %d", len(got), len(in))
			}
			for i := range in {
				if !event.Equal(in[i], got[i]) {
					t.Errorf("event %d:\n got %s\nwant %s", i, describe(got[i]), describe(in[i]))
				}
			}
		})
	}
}

// TestFromEventsKeepsEventsApart checks that the messages of a batch, which share backing
// arrays, can be changed one at a time without touching their neighbours.
func TestFromEventsKeepsEventsApart(t *testing.T) {
	a := newEvent(t, []byte("a"), 1, event.INFO, "h", "k1", "a1")
	b := newEvent(t, []byte("b"), 2, event.INFO, "h", "k2", "b1")
	batch := flumev1.FromEvents([]*event.Event{a, b})
	first := batch.GetEvents()[0]
	first.Attrs = append(first.Attrs, &flumev1.Attr{Key: "extra", Value: []byte("x")})
	got, err := batch.GetEvents()[1].ToEvent()
	if err != nil {
		t.Fatalf("ToEvent: %v", err)
	}
	if !event.Equal(b, got) {
		t.Errorf("second event changed by an append to the first:\n got %s\nwant %s", describe(got), describe(b))
	}
}

func TestPriorityNumbering(t *testing.T) {
	for p := event.FATAL; p <= event.TRACE; p++ {
		t.Run(p.String(), func(t *testing.T) {
			m := flumev1.FromEvent(&event.Event{Priority: p})
			if want := "PRIORITY_" + p.String(); m.GetPriority().String() != want {
				t.Errorf("wire priority = %v, want %s", m.GetPriority(), want)
			}
			// Classic Flume numbers priorities FATAL=0 ... TRACE=5; the wire keeps them.
			if int32(m.GetPriority()) != int32(p) {
				t.Errorf("wire number = %d, want %d", m.GetPriority(), p)
			}
		})
	}
}

func TestToEventErrors(t *testing.T) {
	tests := []struct {
		name    string
		msg     *flumev1.Event
		wantErr error
		wantMsg string
	}{
		{
			name:    "priority above TRACE",
			msg:     &flumev1.Event{Priority: 6},
			wantErr: flumev1.ErrInvalidPriority,
			wantMsg: "priority 6",
		},
		{
			name:    "negative priority",
			msg:     &flumev1.Event{Priority: -1},
			wantErr: flumev1.ErrInvalidPriority,
			wantMsg: "priority -1",
		},
		{
			name:    "priority far out of range",
			msg:     &flumev1.Event{Priority: 1 << 20},
			wantErr: flumev1.ErrInvalidPriority,
			wantMsg: "priority 1048576",
		},
		{
			name: "duplicate attribute",
			msg: &flumev1.Event{Attrs: []*flumev1.Attr{
				{Key: "a", Value: []byte("1")}, {Key: "b"}, {Key: "a", Value: []byte("2")},
			}},
			wantErr: event.ErrAttrExists,
			wantMsg: `"a"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Through the wire too: an unknown enum number survives unmarshaling and must be
			// refused by the conversion.
			for how, m := range map[string]*flumev1.Event{"direct": tt.msg, "wire": wire(t, tt.msg, new(flumev1.Event))} {
				e, err := m.ToEvent()
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("%s: ToEvent error = %v, want %v", how, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("%s: error %q does not mention %s", how, err, tt.wantMsg)
				}
				if e != nil {
					t.Errorf("%s: got event %s with the error, want nil", how, describe(e))
				}
			}
		})
	}
}

func TestToEventsRefusesBatchWithBadEvent(t *testing.T) {
	good := flumev1.FromEvent(newEvent(t, []byte("ok"), 1, event.INFO, "h"))
	dup := &flumev1.Event{Attrs: []*flumev1.Attr{{Key: "k"}, {Key: "k"}}}
	tests := []struct {
		name    string
		events  []*flumev1.Event
		wantErr error
		wantMsg string
	}{
		{"bad priority last", []*flumev1.Event{good, good, {Priority: 9}}, flumev1.ErrInvalidPriority, "event 2:"},
		{"duplicate attribute first", []*flumev1.Event{dup, good}, event.ErrAttrExists, "event 0:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := (&flumev1.EventBatch{Events: tt.events}).ToEvents()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ToEvents error = %v, want %v", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not start with %q", err, tt.wantMsg)
			}
			if evs != nil {
				t.Errorf("got %d events with the error, want none", len(evs))
			}
		})
	}
}

func TestNilMessagesAreEmpty(t *testing.T) {
	e, err := (*flumev1.Event)(nil).ToEvent()
	if err != nil || !event.Equal(e, &event.Event{}) {
		t.Errorf("nil Event: got %v, %v; want the zero event", e, err)
	}
	evs, err := (*flumev1.EventBatch)(nil).ToEvents()
	if err != nil || len(evs) != 0 {
		t.Errorf("nil EventBatch: got %d events, %v; want none", len(evs), err)
	}
}

// TestConversionSharesBodies pins the documented sharing: no copy in either direction.
func TestConversionSharesBodies(t *testing.T) {
	body := []byte("shared")
	e := newEvent(t, body, 1, event.INFO, "h")
	m := flumev1.FromEvent(e)
	if &m.GetBody()[0] != &body[0] {
		t.Error("FromEvent copied the body")
	}
	back, err := m.ToEvent()
	if err != nil {
		t.Fatalf("ToEvent: %v", err)
	}
	if &back.Body[0] != &body[0] {
		t.Error("ToEvent copied the body")
	}
	if !bytes.Equal(back.Body, body) {
		t.Errorf("body = %q, want %q", back.Body, body)
	}
}

func benchBatch(b *testing.B) []*event.Event {
	batch := make([]*event.Event, 1000)
	body := bytes.Repeat([]byte("x"), 100)
	for i := range batch {
		batch[i] = newEvent(b, body, 1700000000000000000+int64(i), event.INFO, "web-01.example.com",
			"tailSrcFile", "/var/log/app.log", "rolltag", "20240101-120000")
	}
	return batch
}

func BenchmarkFromEvents1000(b *testing.B) {
	batch := benchBatch(b)
	b.ReportAllocs()
	for b.Loop() {
		if m := flumev1.FromEvents(batch); len(m.Events) != len(batch) {
			b.Fatal("short batch")
		}
	}
}

func BenchmarkToEvents1000(b *testing.B) {
	m := flumev1.FromEvents(benchBatch(b))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.ToEvents(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarshalBatch1000 measures what a sender pays per batch: conversion and encoding.
func BenchmarkMarshalBatch1000(b *testing.B) {
	batch := benchBatch(b)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = proto.MarshalOptions{}.MarshalAppend(buf[:0], flumev1.FromEvents(batch))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkUnmarshalBatch1000 measures what a receiver pays per batch: decoding and conversion.
func BenchmarkUnmarshalBatch1000(b *testing.B) {
	data, err := proto.Marshal(flumev1.FromEvents(benchBatch(b)))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var m flumev1.EventBatch
		if err := proto.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
		if _, err := m.ToEvents(); err != nil {
			b.Fatal(err)
		}
	}
}
