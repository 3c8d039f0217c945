package deco

import (
	"bytes"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/flumego/flume/node/event"
)

func TestGzipGunzipRoundTrip(t *testing.T) {
	in := variedEvents(20)
	in = append(in, eventOf(strings.Repeat("a compressible line ", 500), "k", "v"))
	env := testEnv()
	zipped := runThrough(t, env, "gzip", chunks(in, 6)...)
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
	if env.Counter("gzip.bytes_in") <= env.Counter("gzip.bytes_out") {
		t.Errorf("bytes_in %d not above bytes_out %d", env.Counter("gzip.bytes_in"), env.Counter("gzip.bytes_out"))
	}
	// The gzipped events are standard gzip streams.
	zr, err := gzip.NewReader(bytes.NewReader(last))
	if err != nil {
		t.Fatal(err)
	}
	zr.Close()
	sameEvents(t, runThrough(t, testEnv(), "gunzip", chunks(zipped, 4)...), in)
}

func TestBatchGzipStack(t *testing.T) {
	// The classic wire-saving stack: batch, then gzip the aggregate; reversed at the far end.
	in := variedEvents(50)
	aggs := runThrough(t, testEnv(), "batch(16)", chunks(in, 10)...)
	zipped := runThrough(t, testEnv(), "gzip", aggs)
	unzipped := runThrough(t, testEnv(), "gunzip", zipped)
	sameEvents(t, runThrough(t, testEnv(), "unbatch", unzipped), in)
}

func TestGunzipPassesOtherEventsThrough(t *testing.T) {
	in := variedEvents(2)
	zipped := runThrough(t, testEnv(), "gzip", in)
	env := testEnv()
	got := runThrough(t, env, "gunzip", []*event.Event{eventOf("plain", "k", "v"), zipped[0], zipped[1]})
	sameEvents(t, got, []*event.Event{eventOf("plain", "k", "v"), in[0], in[1]})
	if n := env.Counter("gunzip.passthrough"); n != 1 {
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
			e := &event.Event{}
			_ = e.SetAttr(AttrGzip, tc.z)
			d, sink := refuseBadAggregate(t, "gunzip", e, tc.want)
			// The decorator recovers: the next good event goes through.
			z := runThrough(t, testEnv(), "gzip", []*event.Event{eventOf("after")})
			if err := appendChecked(t, d, z...); err != nil {
				t.Fatalf("Append after a corrupt event: %v", err)
			}
			if got := sink.events(); len(got) != 1 || string(got[0].Body) != "after" {
				t.Errorf("got %v, want the event after", got)
			}
		})
	}
}
