package seqfile_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/flumego/flume/internal/hadoop/seqfile"
	"github.com/flumego/flume/node/event"
)

func newEvent(t testing.TB, body, host string, ts int64, pri event.Priority, attrs ...string) *event.Event {
	t.Helper()
	e := &event.Event{Body: []byte(body), Host: host, Timestamp: ts, Priority: pri}
	for i := 0; i+1 < len(attrs); i += 2 {
		if err := e.SetAttr(attrs[i], []byte(attrs[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// The WriteableEvent of an event, assembled from WriteableEvent.write: body "hi" at
// 1234567890123456789 ns (1234567890123 ms = 0x0000011f71fb04cb), WARN, host "h", attribute
// k = v.
var eventFixture = cat(
	0, 0, 0, 2, "hi", // int32 body length, body
	0x00, 0x00, 0x01, 0x1f, 0x71, 0xfb, 0x04, 0xcb, // int64 timestamp in ms
	0, 0, 0, 2, // int32 priority: WARN
	0x11, 0x22, 0x10, 0xf4, 0x7d, 0xe9, 0x81, 0x15, // int64 nanos: 1234567890123456789
	0, 1, "h", // writeUTF host
	0, 0, 0, 1, // int32 attribute count
	0, 1, "k", 0, 0, 0, 1, "v", // writeUTF name, int32 value length, value
)

func TestWriteableEventMatchesTheFixture(t *testing.T) {
	e := newEvent(t, "hi", "h", 1234567890123456789, event.WARN, "k", "v")
	got, err := seqfile.AppendWriteableEvent(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, eventFixture) {
		t.Fatalf("wrote\n% x\nwant\n% x", got, eventFixture)
	}
	back, err := seqfile.DecodeWriteableEvent(eventFixture)
	if err != nil {
		t.Fatal(err)
	}
	if !event.Equal(back, e) {
		t.Fatalf("decoded %+v, want %+v", back, e)
	}
	key := seqfile.AppendWriteableEventKey(nil, e)
	if want := cat(0x00, 0x00, 0x01, 0x1f, 0x71, 0xfb, 0x04, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0); !bytes.Equal(key, want) {
		t.Fatalf("key % x, want % x", key, want)
	}
	if ms, err := seqfile.DecodeWriteableEventKey(key); err != nil || ms != 1234567890123 {
		t.Fatalf("key decodes to %d, %v", ms, err)
	}
}

func TestWriteableEventRoundTrips(t *testing.T) {
	for _, e := range []*event.Event{
		newEvent(t, "", "", 0, event.FATAL),
		newEvent(t, "line", "web-1.example.com", 1_700_000_000_123_456_789, event.INFO, "tailSrcFile", "/var/log/x", "rolltag", "2026"),
		newEvent(t, "\x00\xff binary", "hôte-\x00-😀", 1, event.TRACE, "naïve\x00name😀", "\x00\x01"),
		newEvent(t, "before 1970", "h", -1_500_000, event.DEBUG), // -1.5 ms: its millisecond is -2
		newEvent(t, strings.Repeat("x", 100_000), strings.Repeat("h", 65535), 42, event.ERROR),
	} {
		b, err := seqfile.AppendWriteableEvent([]byte("prefix"), e)
		if err != nil {
			t.Fatal(err)
		}
		back, err := seqfile.DecodeWriteableEvent(b[len("prefix"):])
		if err != nil {
			t.Fatal(err)
		}
		if !event.Equal(back, e) {
			t.Errorf("round trip of %q/%q changed the event", e.Body[:min(len(e.Body), 20)], e.Host[:min(len(e.Host), 20)])
		}
	}
}

func TestWriteableEventOfNegativeTimestampUsesTheMillisecondBelow(t *testing.T) {
	key := seqfile.AppendWriteableEventKey(nil, newEvent(t, "", "", -1_500_000, event.INFO))
	if ms, _ := seqfile.DecodeWriteableEventKey(key); ms != -2 {
		t.Fatalf("ms = %d, want -2", ms)
	}
}

func TestWriteableEventFromClassicFlumeKeepsItsMilliseconds(t *testing.T) {
	// Classic Flume's nanos was a counter unrelated to the timestamp: the event's time is
	// then the millisecond timestamp.
	b := bytes.Clone(eventFixture)
	copy(b[18:26], cat(0, 0, 0, 0, 0, 0, 0, 7)) // nanos = 7
	e, err := seqfile.DecodeWriteableEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.Timestamp != 1234567890123*1_000_000 {
		t.Fatalf("timestamp %d", e.Timestamp)
	}
}

func TestWriteableEventInvalidPriorityIsWrittenAsInfo(t *testing.T) {
	b, err := seqfile.AppendWriteableEvent(nil, newEvent(t, "", "", 0, event.Priority(42)))
	if err != nil {
		t.Fatal(err)
	}
	e, err := seqfile.DecodeWriteableEvent(b)
	if err != nil || e.Priority != event.INFO {
		t.Fatalf("priority %v, %v; want INFO", e.Priority, err)
	}
}

func TestWriteableEventWithTooLongNamesIsRefused(t *testing.T) {
	for _, e := range []*event.Event{
		newEvent(t, "", strings.Repeat("h", 65536), 0, event.INFO),
		newEvent(t, "", "h", 0, event.INFO, strings.Repeat("é", 40000), "v"),
	} {
		got, err := seqfile.AppendWriteableEvent([]byte("keep"), e)
		if !errors.Is(err, seqfile.ErrUTFTooLong) {
			t.Errorf("err = %v, want ErrUTFTooLong", err)
		}
		if string(got) != "keep" {
			t.Errorf("dst changed to %d bytes", len(got))
		}
	}
}

func TestDecodeWriteableEventIsStrict(t *testing.T) {
	bad := map[string][]byte{
		"truncated":      eventFixture[:len(eventFixture)-1],
		"trailing bytes": append(bytes.Clone(eventFixture), 0),
		"priority 6":     func() []byte { b := bytes.Clone(eventFixture); b[17] = 6; return b }(),
		"negative body":  func() []byte { b := bytes.Clone(eventFixture); b[0] = 0xff; return b }(),
		"duplicate attribute": cat(0, 0, 0, 0, make([]byte, 8), 0, 0, 0, 3, make([]byte, 8), 0, 0,
			0, 0, 0, 2, 0, 1, "k", 0, 0, 0, 0, 0, 1, "k", 0, 0, 0, 0),
	}
	for name, b := range bad {
		if _, err := seqfile.DecodeWriteableEvent(b); !errors.Is(err, seqfile.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
	for _, key := range [][]byte{make([]byte, 15), append(make([]byte, 15), 1)} {
		if _, err := seqfile.DecodeWriteableEventKey(key); !errors.Is(err, seqfile.ErrCorrupt) {
			t.Errorf("key % x: err = %v, want ErrCorrupt", key, err)
		}
	}
}

func FuzzDecodeWriteableEvent(f *testing.F) {
	f.Add(eventFixture)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := seqfile.DecodeWriteableEvent(b)
		if err != nil {
			if !errors.Is(err, seqfile.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		// What decodes encodes back to an event that decodes the same.
		again, err := seqfile.AppendWriteableEvent(nil, e)
		if errors.Is(err, seqfile.ErrUTFTooLong) {
			return // raw zero bytes, which readUTF takes, grow to two bytes each
		}
		if err != nil {
			t.Fatal(err)
		}
		e2, err := seqfile.DecodeWriteableEvent(again)
		if err != nil || !event.Equal(e, e2) {
			t.Fatalf("re-encoding changed the event: %v", err)
		}
	})
}
