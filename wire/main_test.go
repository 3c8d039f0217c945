package wire

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/flumego/flume/node/event"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// TestMain fails the package's tests if a stream, server or codec leaves a goroutine behind.
// Run with collectorEnv set, the test binary is instead a collector process for the tests
// that kill one.
func TestMain(m *testing.M) {
	if os.Getenv(collectorEnv) != "" {
		os.Exit(runCollector())
	}
	goleak.VerifyTestMain(m)
}

// compressions are the payload compressions every codec and stream test runs with.
var compressions = []flumev1.Compression{
	flumev1.Compression_COMPRESSION_UNSPECIFIED,
	flumev1.Compression_COMPRESSION_ZSTD,
	flumev1.Compression_COMPRESSION_GZIP,
}

// makeEvents returns n events with bodies of size bytes that differ from batch to batch
// (salt) and event to event; every third event carries attributes.
func makeEvents(tb testing.TB, n, size int, salt int) []*event.Event {
	tb.Helper()
	events := make([]*event.Event, n)
	for i := range events {
		body := fmt.Appendf(nil, "2024-05-01T12:00:00Z web-%02d GET /api/v1/items/%d?batch=%d status=200 ", i%7, i, salt)
		for len(body) < size {
			body = append(body, byte('a'+(i+len(body))%26))
		}
		e := &event.Event{
			Body:      body[:size],
			Timestamp: int64(1714564800_000000000 + salt*1_000_000 + i),
			Priority:  event.Priority(i % 6),
			Host:      "web-01.example.com",
		}
		if i%3 == 0 {
			if err := e.SetAttr("service", []byte("checkout")); err != nil {
				tb.Fatal(err)
			}
			if err := e.SetAttr("seq", fmt.Appendf(nil, "%d", i)); err != nil {
				tb.Fatal(err)
			}
		}
		events[i] = e
	}
	return events
}

// sameEvents fails tb unless got and want hold equal events in the same order.
func sameEvents(tb testing.TB, got, want []*event.Event) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if !event.Equal(got[i], want[i]) {
			tb.Fatalf("event %d: got body %q ts %d, want body %q ts %d",
				i, got[i].Body, got[i].Timestamp, want[i].Body, want[i].Timestamp)
		}
	}
}

// encode returns events encoded as batch seq with compression c.
func encode(tb testing.TB, c flumev1.Compression, seq uint64, events []*event.Event) *flumev1.AppendRequest {
	tb.Helper()
	enc, err := NewEncoder(c)
	if err != nil {
		tb.Fatal(err)
	}
	req := &flumev1.AppendRequest{Seq: seq, Created: time.Now().UnixNano()}
	if err := enc.Encode(req, events); err != nil {
		tb.Fatal(err)
	}
	return req
}
