package deco

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
)

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
			in := variedEvents(tc.events)
			aggs := runThrough(t, testEnv(), fmt.Sprintf("batch(%d)", tc.n), chunks(in, tc.per)...)
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
			sameEvents(t, runThrough(t, testEnv(), "unbatch", chunks(aggs, 2)...), in)
		})
	}
}

func TestUnbatchPassesOtherEventsThrough(t *testing.T) {
	in := variedEvents(4)
	aggs := runThrough(t, testEnv(), "batch(2)", in)
	plain := eventOf("plain", "batchSize", "only one of the two attributes")
	env := testEnv()
	got := runThrough(t, env, "unbatch", []*event.Event{plain, aggs[0], eventOf("between"), aggs[1]})
	sameEvents(t, got, []*event.Event{plain, in[0], in[1], eventOf("between"), in[2], in[3]})
	if n := env.Counter("unbatch.passthrough"); n != 2 {
		t.Errorf("passthrough = %d, want 2", n)
	}
	if n := env.Counter("unbatch.batches"); n != 2 {
		t.Errorf("batches = %d, want 2", n)
	}
}

func TestBatchEncodesOnArrival(t *testing.T) {
	// A source may reuse the memory of a batch once Append returns: the aggregate must
	// hold what the events were when they were appended.
	sink := &testSink{}
	d := mustBuild(t, testEnv(), "batch(2)", sink)
	ctx := context.Background()
	if err := d.Open(ctx); err != nil {
		t.Fatal(err)
	}
	body := []byte("first")
	if err := appendChecked(t, d, &event.Event{Body: body}); err != nil {
		t.Fatal(err)
	}
	copy(body, "XXXXX")
	if err := appendChecked(t, d, &event.Event{Body: []byte("second")}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got := runThrough(t, testEnv(), "unbatch", sink.events())
	if len(got) != 2 || string(got[0].Body) != "first" {
		t.Fatalf("unbatched %v, want first and second", got)
	}
}

func TestBatchLatencyFlush(t *testing.T) {
	env := testEnv()
	sink := &testSink{}
	d := mustBuild(t, env, "batch(100, 20)", sink)
	ctx := context.Background()
	if err := d.Open(ctx); err != nil {
		t.Fatal(err)
	}
	in := variedEvents(3)
	if err := appendChecked(t, d, in...); err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 5*time.Second, func() bool { return len(sink.events()) == 1 },
		func() string { return fmt.Sprintf("%d aggregates sent, want 1", len(sink.events())) })
	// A second partial batch is timed from its own first event.
	more := variedEvents(5)[3:]
	if err := appendChecked(t, d, more...); err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 5*time.Second, func() bool { return len(sink.events()) == 2 },
		func() string { return fmt.Sprintf("%d aggregates sent, want 2", len(sink.events())) })
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	sink.checkContract(t)
	if n := env.Counter("batch.timed_flushes"); n != 2 {
		t.Errorf("timed_flushes = %d, want 2", n)
	}
	sameEvents(t, runThrough(t, testEnv(), "unbatch", sink.events()), append(in, more...))
}

func TestBatchLatencyRacesAppends(t *testing.T) {
	// Appends and the timer flush share the buffer and the next sink; under -race this
	// checks that they take turns, and the sink checks it never sees two Appends at once.
	sink := &testSink{}
	d := mustBuild(t, testEnv(), "batch(7, 1)", sink)
	ctx := context.Background()
	if err := d.Open(ctx); err != nil {
		t.Fatal(err)
	}
	in := variedEvents(300)
	for _, b := range chunks(in, 3) {
		if err := d.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	sink.checkContract(t)
	sameEvents(t, runThrough(t, testEnv(), "unbatch", sink.events()), in)
}

func TestBatchRetriesRefusedAggregate(t *testing.T) {
	env := testEnv()
	sink := &testSink{}
	d := mustBuild(t, env, "batch(2)", sink)
	ctx := context.Background()
	if err := d.Open(ctx); err != nil {
		t.Fatal(err)
	}
	in := variedEvents(5)
	sink.refuse(1)
	if err := d.Append(ctx, in[:2]); !errors.Is(err, errAppendRefused) {
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
	sameEvents(t, runThrough(t, testEnv(), "unbatch", sink.events()), in)
	if n := env.Counter("batch.batches"); n != 3 {
		t.Errorf("batches = %d, want 3", n)
	}
	if in, out := env.Counter("batch.events_in"), env.Counter("batch.events_out"); in != 5 || out != 5 {
		t.Errorf("events_in %d, events_out %d, want 5 and 5", in, out)
	}
}

func TestBatchCloseReportsUnsentEvents(t *testing.T) {
	env := testEnv()
	sink := &testSink{}
	d := mustBuild(t, env, "batch(10)", sink)
	ctx := context.Background()
	if err := d.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Append(ctx, variedEvents(3)); err != nil {
		t.Fatal(err)
	}
	sink.refuse(1)
	err := d.Close(ctx)
	if !errors.Is(err, errAppendRefused) {
		t.Fatalf("Close = %v, want the sink's refusal", err)
	}
	if n := env.Counter("batch.drops"); n != 3 {
		t.Errorf("drops = %d, want 3", n)
	}
	if _, _, closes := sink.counts(); closes != 1 {
		t.Errorf("next sink closed %d times, want 1 even though the flush failed", closes)
	}
}

func TestUnbatchCorrupt(t *testing.T) {
	good := runThrough(t, testEnv(), "batch(2)", variedEvents(2))[0]
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
			refuseBadAggregate(t, "unbatch", tc.e, tc.want)
		})
	}
}

// blockUntilDone makes sink's Appends block until their context is done, and returns a channel
// that receives once per Append that started blocking.
func blockUntilDone(sink *testSink) <-chan struct{} {
	entered := make(chan struct{}, 16)
	sink.onAppend = func(ctx context.Context, _ []*event.Event) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	}
	return entered
}

// A timed flush stuck in the next sink (a retry loop) must not hold up a stop: the driver's
// Append gives up when its context ends, and Close returns within its own.
func TestBatchStuckTimedFlushDoesNotBlockStop(t *testing.T) {
	env := testEnv()
	sink := &testSink{}
	entered := blockUntilDone(sink)
	d := mustBuild(t, env, "batch(100, 5)", sink)
	mustOpen(t, d)
	if err := d.Append(context.Background(), variedEvents(2)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered: // the timed flush is in the next sink, and stays there
	case <-time.After(5 * time.Second):
		t.Fatal("no timed flush within 5s")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := plugintest.Go(func() error { return d.Append(ctx, variedEvents(1)) }).Wait(t, 5*time.Second)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Append = %v, want its context's deadline", err)
	}

	closeCtx, cancelClose := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancelClose()
	start := time.Now()
	err = plugintest.Go(func() error { return d.Close(closeCtx) }).Wait(t, 5*time.Second)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want the last flush to fail with Close's deadline", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Close took %v with a context of 100ms", el)
	}
	if n := env.Counter("batch.drops"); n != 2 {
		t.Errorf("drops = %d, want the 2 events that never got through", n)
	}
	if _, _, closes := sink.counts(); closes != 1 {
		t.Errorf("next sink closed %d times, want 1", closes)
	}
	sink.checkContract(t)
}

// Close with a context already expired returns at once, even with a timed flush in progress.
func TestBatchCloseExpiredContext(t *testing.T) {
	sink := &testSink{}
	entered := blockUntilDone(sink)
	d := mustBuild(t, testEnv(), "batch(100, 5)", sink)
	mustOpen(t, d)
	if err := d.Append(context.Background(), variedEvents(1)); err != nil {
		t.Fatal(err)
	}
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := plugintest.Go(func() error { return d.Close(ctx) }).Wait(t, 2*time.Second)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want context.Canceled from the last flush", err)
	}
}

// Close lets a timed flush in progress finish while its own context lasts.
func TestBatchCloseWaitsForTimedFlush(t *testing.T) {
	sink := &testSink{}
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var interrupted error
	sink.onAppend = func(ctx context.Context, _ []*event.Event) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			interrupted = ctx.Err() // read after Close returns, which orders the write
			return ctx.Err()
		}
	}
	d := mustBuild(t, testEnv(), "batch(100, 5)", sink)
	mustOpen(t, d)
	in := variedEvents(3)
	if err := d.Append(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	<-entered
	closed := make(chan error, 1)
	go func() { closed <- d.Close(context.Background()) }()
	select {
	case err := <-closed:
		t.Fatalf("Close = %v before the timed flush in progress returned", err)
	case <-time.After(50 * time.Millisecond): // Close had the time to interrupt the flush
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if interrupted != nil {
		t.Fatalf("Close cancelled the timed flush: %v", interrupted)
	}
	sameEvents(t, runThrough(t, testEnv(), "unbatch", sink.events()), in)
}

// A panic in the next sink during a timed flush, where no caller can recover it, becomes a
// permanent error with the stack, returned by the next Append or, failing that, by Close.
func TestBatchTimedFlushPanic(t *testing.T) {
	for _, reportedBy := range []string{"Append", "Close"} {
		t.Run(reportedBy, func(t *testing.T) {
			env := testEnv()
			sink := &testSink{onAppend: func(context.Context, []*event.Event) error {
				panic("sink bug")
			}}
			d := mustBuild(t, env, "batch(100, 5)", sink)
			mustOpen(t, d)
			if err := d.Append(context.Background(), variedEvents(2)); err != nil {
				t.Fatal(err)
			}
			plugintest.Eventually(t, 5*time.Second, func() bool {
				_, appends, _ := sink.counts()
				return appends > 0
			}, func() string { return "no timed flush yet" })
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, ErrPanicked) || !plugin.IsPermanent(err) {
					t.Fatalf("%s = %v, want a permanent ErrPanicked", what, err)
				}
				if !strings.Contains(err.Error(), "sink bug") || !strings.Contains(err.Error(), "goroutine") {
					t.Fatalf("%s = %v, want the panic value and its stack", what, err)
				}
			}
			if reportedBy == "Append" {
				// The Append waits for the timed flush to release the batch.
				check("Append", d.Append(context.Background(), variedEvents(1)))
				check("second Append", d.Append(context.Background(), variedEvents(1)))
				if err := d.Close(context.Background()); err != nil {
					t.Fatalf("Close = %v, want nil: an Append reported the panic", err)
				}
			} else {
				check("Close", d.Close(context.Background()))
			}
			if n := env.Counter("batch.drops"); n != 2 {
				t.Errorf("drops = %d, want the 2 pending events", n)
			}
			if _, _, closes := sink.counts(); closes != 1 {
				t.Errorf("next sink closed %d times, want 1", closes)
			}
		})
	}
}

// An aggregate is sent once its encodings reach the byte limit, whatever n says.
func TestBatchByteLimit(t *testing.T) {
	sink := &testSink{}
	d := mustBuild(t, testEnv(), "batch(1000)", sink)
	bd := d.(*batchDeco)
	if bd.maxBytes != event.MaxSizeLimit {
		t.Fatalf("byte limit = %d, want event.MaxSizeLimit", bd.maxBytes)
	}
	one := len(event.AppendBinary(nil, eventOf(strings.Repeat("x", 100))))
	bd.maxBytes = 3 * one // every third event fills an aggregate
	mustOpen(t, d)
	in := make([]*event.Event, 10)
	for i := range in {
		in[i] = eventOf(strings.Repeat("x", 100))
	}
	appendAll(t, d, in, 4)
	if n := len(sink.events()); n != 3 {
		t.Fatalf("%d aggregates sent before Close, want 3 of 3 events", n)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	aggs := sink.events()
	for i, a := range aggs {
		size, _ := a.Attr(AttrBatchSize)
		data, _ := a.Attr(AttrBatchData)
		if want := min(3, len(in)-3*i); int(binary.BigEndian.Uint32(size)) != want || len(data) != want*one {
			t.Errorf("aggregate %d: %d events in %d bytes, want %d in %d",
				i, binary.BigEndian.Uint32(size), len(data), want, want*one)
		}
	}
	sameEvents(t, runThrough(t, testEnv(), "unbatch", aggs), in)
}
