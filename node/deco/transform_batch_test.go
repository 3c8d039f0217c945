package deco

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
)

// xfVaried returns n events that exercise the encoding: binary bodies, attributes, all
// priorities, distinct timestamps and hosts.
func xfVaried(n int) []*event.Event {
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

func sameEvents(t *testing.T, got, want []*event.Event) {
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

func TestBatchUnbatchRoundTrip(t *testing.T) {
	cases := []struct{ n, events, per int }{
		{1, 5, 1},
		{3, 10, 1},  // partial last aggregate sent on Close
		{4, 12, 5},  // aggregates cut across input batches
		{10, 7, 7},  // only the Close flush
		{5, 25, 25}, // several aggregates from one input batch
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("batch(%d)/%d events in batches of %d", tc.n, tc.events, tc.per), func(t *testing.T) {
			in := xfVaried(tc.events)
			aggs := xfRun(t, xfBC(), fmt.Sprintf("batch(%d)", tc.n), chunks(in, tc.per)...)
			if want := (tc.events + tc.n - 1) / tc.n; len(aggs) != want {
				t.Fatalf("got %d aggregates, want %d", len(aggs), want)
			}
			for i, a := range aggs {
				size, _ := a.Attr(AttrBatchSize)
				want := min(tc.n, tc.events-i*tc.n)
				if len(size) != 4 || int(binary.BigEndian.Uint32(size)) != want {
					t.Errorf("aggregate %d: batchSize %x, want %d as 4 big-endian bytes", i, size, want)
				}
				if len(a.Body) != 0 || a.NumAttrs() != 2 {
					t.Errorf("aggregate %d: body %q and %d attributes, want empty and 2", i, a.Body, a.NumAttrs())
				}
			}
			sameEvents(t, xfRun(t, xfBC(), "unbatch", chunks(aggs, 2)...), in)
		})
	}
}

func TestUnbatchPassesOtherEventsThrough(t *testing.T) {
	in := xfVaried(4)
	aggs := xfRun(t, xfBC(), "batch(2)", in)
	plain := xfEvent("plain", "batchSize", "only one of the two attributes")
	bc := xfBC()
	got := xfRun(t, bc, "unbatch", []*event.Event{plain, aggs[0], xfEvent("between"), aggs[1]})
	sameEvents(t, got, []*event.Event{plain, in[0], in[1], xfEvent("between"), in[2], in[3]})
	if n := xfCounter(bc, "unbatch.passthrough"); n != 2 {
		t.Errorf("passthrough = %d, want 2", n)
	}
	if n := xfCounter(bc, "unbatch.batches"); n != 2 {
		t.Errorf("batches = %d, want 2", n)
	}
}

func TestBatchEncodesOnArrival(t *testing.T) {
	// A source may reuse the memory of a batch once Append returns: the aggregate must
	// hold what the events were when they were appended.
	sink := &xfSink{}
	d := xfBuild(t, xfBC(), "batch(2)", sink)
	ctx := context.Background()
	if err := d.Open(ctx); err != nil {
		t.Fatal(err)
	}
	body := []byte("first")
	if err := xfAppend(t, d, &event.Event{Body: body}); err != nil {
		t.Fatal(err)
	}
	copy(body, "XXXXX")
	if err := xfAppend(t, d, &event.Event{Body: []byte("second")}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got := xfRun(t, xfBC(), "unbatch", sink.events())
	if len(got) != 2 || string(got[0].Body) != "first" {
		t.Fatalf("unbatched %v, want first and second", got)
	}
}

func TestBatchLatencyFlush(t *testing.T) {
	bc := xfBC()
	sink := &xfSink{}
	d := xfBuild(t, bc, "batch(100, 20)", sink)
	ctx := context.Background()
	if err := d.Open(ctx); err != nil {
		t.Fatal(err)
	}
	in := xfVaried(3)
	if err := xfAppend(t, d, in...); err != nil {
		t.Fatal(err)
	}
	xfPoll(t, 5*time.Second, func() error {
		if n := len(sink.events()); n != 1 {
			return fmt.Errorf("%d aggregates sent", n)
		}
		return nil
	})
	// A second partial batch is timed from its own first event.
	more := xfVaried(5)[3:]
	if err := xfAppend(t, d, more...); err != nil {
		t.Fatal(err)
	}
	xfPoll(t, 5*time.Second, func() error {
		if n := len(sink.events()); n != 2 {
			return fmt.Errorf("%d aggregates sent", n)
		}
		return nil
	})
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	sink.checkContract(t)
	if n := xfCounter(bc, "batch.timed_flushes"); n != 2 {
		t.Errorf("timed_flushes = %d, want 2", n)
	}
	sameEvents(t, xfRun(t, xfBC(), "unbatch", sink.events()), append(in, more...))
}

func TestBatchLatencyRacesAppends(t *testing.T) {
	// Appends and the timer flush share the buffer and the next sink; under -race this
	// checks that they take turns, and the sink checks it never sees two Appends at once.
	sink := &xfSink{}
	d := xfBuild(t, xfBC(), "batch(7, 1)", sink)
	ctx := context.Background()
	if err := d.Open(ctx); err != nil {
		t.Fatal(err)
	}
	in := xfVaried(300)
	for _, b := range chunks(in, 3) {
		if err := d.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	sink.checkContract(t)
	sameEvents(t, xfRun(t, xfBC(), "unbatch", sink.events()), in)
}

func TestBatchRetriesRefusedAggregate(t *testing.T) {
	bc := xfBC()
	sink := &xfSink{}
	d := xfBuild(t, bc, "batch(2)", sink)
	ctx := context.Background()
	if err := d.Open(ctx); err != nil {
		t.Fatal(err)
	}
	in := xfVaried(5)
	sink.refuse(1)
	if err := d.Append(ctx, in[:2]); !errors.Is(err, errXFRefused) {
		t.Fatalf("Append = %v, want the sink's refusal", err)
	}
	// The refused aggregate goes first, then the new events.
	for _, b := range chunks(in[2:], 1) {
		if err := d.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	sameEvents(t, xfRun(t, xfBC(), "unbatch", sink.events()), in)
	if n := xfCounter(bc, "batch.batches"); n != 3 {
		t.Errorf("batches = %d, want 3", n)
	}
	if in, out := xfCounter(bc, "batch.events_in"), xfCounter(bc, "batch.events_out"); in != 5 || out != 5 {
		t.Errorf("events_in %d, events_out %d, want 5 and 5", in, out)
	}
}

func TestBatchCloseReportsUnsentEvents(t *testing.T) {
	bc := xfBC()
	sink := &xfSink{}
	d := xfBuild(t, bc, "batch(10)", sink)
	ctx := context.Background()
	if err := d.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Append(ctx, xfVaried(3)); err != nil {
		t.Fatal(err)
	}
	sink.refuse(1)
	err := d.Close(ctx)
	if !errors.Is(err, errXFRefused) {
		t.Fatalf("Close = %v, want the sink's refusal", err)
	}
	if n := xfCounter(bc, "batch.drops"); n != 3 {
		t.Errorf("drops = %d, want 3", n)
	}
	if sink.closes != 1 {
		t.Errorf("next sink closed %d times, want 1 even though the flush failed", sink.closes)
	}
}

func TestUnbatchCorrupt(t *testing.T) {
	good := xfRun(t, xfBC(), "batch(2)", xfVaried(2))[0]
	data, _ := good.Attr(AttrBatchData)
	agg := func(size []byte, data []byte) *event.Event {
		e := &event.Event{}
		_ = e.SetAttr(AttrBatchSize, size)
		_ = e.SetAttr(AttrBatchData, data)
		return e
	}
	be := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	cases := []struct {
		name string
		e    *event.Event
		want string
	}{
		{"short batchSize", agg([]byte{0, 2}, data), "batchSize has 2 bytes, want 4"},
		{"count beyond data", agg(be(0xffffffff), data), "batchSize says 4294967295 events in"},
		{"fewer events than counted", agg(be(3), data), "event 3 of 3"},
		{"more events than counted", agg(be(1), data), "bytes after the 1 events of batchData"},
		{"truncated data", agg(be(2), data[:len(data)-1]), "event 2 of 2"},
		{"not an encoding", agg(be(1), []byte("garbage")), "event 1 of 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sink := &xfSink{}
			d := xfBuild(t, xfBC(), "unbatch", sink)
			if err := d.Open(context.Background()); err != nil {
				t.Fatal(err)
			}
			err := xfAppend(t, d, xfEvent("before"), tc.e)
			if !errors.Is(err, ErrBadAggregate) || !plugin.IsPermanent(err) {
				t.Fatalf("Append = %v, want a permanent ErrBadAggregate", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if n := len(sink.events()); n != 0 {
				t.Errorf("%d events passed on from a failed batch", n)
			}
		})
	}
}
