package seqfile_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/flumego/flume/internal/hadoop/codec"
	"github.com/flumego/flume/internal/hadoop/seqfile"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
)

func TestNewFormatChoosesTheCompression(t *testing.T) {
	for _, tc := range []struct {
		codec string
		block bool
		kind  seqfile.Compression
		name  string
	}{
		{"", false, seqfile.None, ""},
		{"None", false, seqfile.None, ""},
		{"bzip2", false, seqfile.Record, "BZip2Codec"},
		{"GzipCodec", true, seqfile.Block, "GzipCodec"},
		{"org.apache.hadoop.io.compress.DefaultCodec", false, seqfile.Record, "DefaultCodec"},
	} {
		f, err := seqfile.NewFormat(tc.codec, tc.block)
		if err != nil {
			t.Fatalf("%q: %v", tc.codec, err)
		}
		name := ""
		if f.Codec() != nil {
			name = f.Codec().Name()
		}
		if f.Compression() != tc.kind || name != tc.name {
			t.Errorf("%q, %v: %v %q, want %v %q", tc.codec, tc.block, f.Compression(), name, tc.kind, tc.name)
		}
	}
	if _, err := seqfile.NewFormat("", true); !errors.Is(err, seqfile.ErrConfig) {
		t.Errorf("block compression without a codec: %v, want ErrConfig", err)
	}
	if _, err := seqfile.NewFormat("bzip", false); !errors.Is(err, codec.ErrUnknownCodec) {
		t.Errorf("unknown codec: %v, want ErrUnknownCodec", err)
	}
}

// encodeEvents writes events through a fresh encoder of f, flushing after every third, and
// returns the file.
func encodeEvents(t testing.TB, f plugin.Format, events []*event.Event) []byte {
	t.Helper()
	var out bytes.Buffer
	enc, err := f.NewEncoder(&out)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range events {
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
		if i%3 == 2 {
			if err := enc.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// decodeEvents reads a file of Flume records back into events, checking every key against
// its event.
func decodeEvents(t testing.TB, file []byte) []*event.Event {
	t.Helper()
	r, err := seqfile.NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if h := r.Header(); h.KeyClass != seqfile.EventKeyClass || h.ValueClass != seqfile.EventValueClass {
		t.Fatalf("classes %q, %q", h.KeyClass, h.ValueClass)
	}
	var events []*event.Event
	for {
		k, v, err := r.Next()
		if err == io.EOF {
			return events
		}
		if err != nil {
			t.Fatal(err)
		}
		e, err := seqfile.DecodeWriteableEvent(bytes.Clone(v))
		if err != nil {
			t.Fatal(err)
		}
		ms, err := seqfile.DecodeWriteableEventKey(k)
		if err != nil || ms != e.Timestamp/1_000_000 {
			t.Fatalf("key %d for an event at %d ns: %v", ms, e.Timestamp, err)
		}
		events = append(events, e)
	}
}

func TestFormatWritesFlumeRecordsOfEveryKind(t *testing.T) {
	var events []*event.Event
	for i := range 50 {
		events = append(events, newEvent(t, strings.Repeat("body ", i), "host-1", int64(1_700_000_000_000_000_000+i*1_000_001),
			event.Priority(i%6), "n", string(rune('a'+i%26))))
	}
	for _, name := range []string{"", "gzip", "deflate", "bzip2", "zstd", "snappy"} {
		for _, block := range []bool{false, true} {
			if name == "" && block {
				continue
			}
			f, err := seqfile.NewFormat(name, block)
			if err != nil {
				t.Fatal(err)
			}
			got := decodeEvents(t, encodeEvents(t, f, events))
			if len(got) != len(events) {
				t.Fatalf("%s block=%v: %d events, want %d", name, block, len(got), len(events))
			}
			for i := range got {
				if !event.Equal(got[i], events[i]) {
					t.Fatalf("%s block=%v: event %d differs", name, block, i)
				}
			}
		}
	}
}

func TestFormatFileWithNoEventsIsAHeader(t *testing.T) {
	f, err := seqfile.NewFormat("bzip2", true)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	enc, err := f.NewEncoder(&out)
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	header := out.Len()
	if header == 0 {
		t.Fatal("Flush wrote no header")
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if out.Len() != header {
		t.Fatalf("Close with no events wrote %d bytes after the header", out.Len()-header)
	}
	if got := decodeEvents(t, out.Bytes()); len(got) != 0 {
		t.Fatalf("%d events", len(got))
	}
}

func TestFormatRefusesAnEventItCannotWriteAndGoesOn(t *testing.T) {
	f, err := seqfile.NewFormat("", false)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	enc, err := f.NewEncoder(&out)
	if err != nil {
		t.Fatal(err)
	}
	good := newEvent(t, "ok", "h", 5_000_000, event.INFO)
	if err := enc.Encode(newEvent(t, "x", strings.Repeat("h", 70_000), 0, event.INFO)); !errors.Is(err, seqfile.ErrUTFTooLong) {
		t.Fatalf("err = %v, want ErrUTFTooLong", err)
	}
	if err := enc.Encode(good); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if got := decodeEvents(t, out.Bytes()); len(got) != 1 || !event.Equal(got[0], good) {
		t.Fatalf("events %v", got)
	}
}
