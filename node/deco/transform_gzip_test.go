package deco

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
)

func TestGzipGunzipRoundTrip(t *testing.T) {
	in := variedEvents(20)
	in = append(in, eventOf(strings.Repeat("a compressible line ", 500), "k", "v"))
	bc := testBC()
	zipped := runThrough(t, bc, "gzip", chunks(in, 6)...)
	if len(zipped) != len(in) {
		t.Fatalf("gzip gave %d events for %d", len(zipped), len(in))
	}
	for i, z := range zipped {
		if len(z.Body) != 0 || z.NumAttrs() != 1 {
			t.Errorf("event %d: body %q and %d attributes, want empty and only %s", i, z.Body, z.NumAttrs(), AttrGzip)
		}
		if z.Timestamp != in[i].Timestamp || z.Priority != in[i].Priority || z.Host != in[i].Host {
			t.Errorf("event %d: timestamp, priority or host not kept: %+v", i, z)
		}
	}
	last, _ := zipped[len(zipped)-1].Attr(AttrGzip)
	if len(last) > 1000 {
		t.Errorf("a 10000-byte repetitive body gzipped to %d bytes", len(last))
	}
	if counter(bc, "gzip.bytes_in") <= counter(bc, "gzip.bytes_out") {
		t.Errorf("bytes_in %d not above bytes_out %d", counter(bc, "gzip.bytes_in"), counter(bc, "gzip.bytes_out"))
	}
	// The gzipped events are standard gzip streams.
	zr, err := gzip.NewReader(bytes.NewReader(last))
	if err != nil {
		t.Fatal(err)
	}
	zr.Close()
	sameEvents(t, runThrough(t, testBC(), "gunzip", chunks(zipped, 4)...), in)
}

func TestBatchGzipStack(t *testing.T) {
	// The classic wire-saving stack: batch, then gzip the aggregate; reversed at the far end.
	in := variedEvents(50)
	aggs := runThrough(t, testBC(), "batch(16)", chunks(in, 10)...)
	zipped := runThrough(t, testBC(), "gzip", aggs)
	unzipped := runThrough(t, testBC(), "gunzip", zipped)
	sameEvents(t, runThrough(t, testBC(), "unbatch", unzipped), in)
}

func TestGunzipPassesOtherEventsThrough(t *testing.T) {
	in := variedEvents(2)
	zipped := runThrough(t, testBC(), "gzip", in)
	bc := testBC()
	got := runThrough(t, bc, "gunzip", []*event.Event{eventOf("plain", "k", "v"), zipped[0], zipped[1]})
	sameEvents(t, got, []*event.Event{eventOf("plain", "k", "v"), in[0], in[1]})
	if n := counter(bc, "gunzip.passthrough"); n != 1 {
		t.Errorf("passthrough = %d, want 1", n)
	}
}

func TestGunzipCorrupt(t *testing.T) {
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		_, _ = w.Write(b)
		_ = w.Close()
		return buf.Bytes()
	}
	one := event.AppendBinary(nil, eventOf("one"))
	good := gz(one)
	cases := []struct {
		name string
		z    []byte
		want string
	}{
		{"not gzip", []byte("plain text"), "gzip: invalid header"},
		{"empty", nil, "EOF"},
		{"truncated", good[:len(good)-3], "unexpected EOF"},
		{"bad checksum", append(good[:len(good)-8:len(good)-8], 0, 0, 0, 0, 0, 0, 0, 0), "checksum"},
		{"not an event", gz([]byte("garbage")), "corrupt event encoding"},
		{"two events", gz(append(append([]byte(nil), one...), one...)), "bytes after the event"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sink := &testSink{}
			d := mustBuild(t, testBC(), "gunzip", sink)
			if err := d.Open(context.Background()); err != nil {
				t.Fatal(err)
			}
			e := &event.Event{}
			_ = e.SetAttr(AttrGzip, tc.z)
			err := appendChecked(t, d, eventOf("before"), e)
			if !errors.Is(err, ErrBadAggregate) || !plugin.IsPermanent(err) {
				t.Fatalf("Append = %v, want a permanent ErrBadAggregate", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if n := len(sink.events()); n != 0 {
				t.Errorf("%d events passed on from a failed batch", n)
			}
			// The decorator recovers: the next good event goes through.
			z := runThrough(t, testBC(), "gzip", []*event.Event{eventOf("after")})
			if err := appendChecked(t, d, z...); err != nil {
				t.Fatalf("Append after a corrupt event: %v", err)
			}
			if got := sink.events(); len(got) != 1 || string(got[0].Body) != "after" {
				t.Errorf("got %v, want the event after", got)
			}
		})
	}
}
