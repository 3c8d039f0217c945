package event

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

func codecEvent(tb testing.TB, body string, ts int64, pri Priority, host string, kv ...string) *Event {
	tb.Helper()
	e := &Event{Body: []byte(body), Timestamp: ts, Priority: pri, Host: host}
	for i := 0; i+1 < len(kv); i += 2 {
		if err := e.SetAttr(kv[i], []byte(kv[i+1])); err != nil {
			tb.Fatal(err)
		}
	}
	return e
}

func TestBinaryRoundTrip(t *testing.T) {
	big := string(bytes.Repeat([]byte{0xff, 0, '\n'}, 50000))
	cases := []struct {
		name string
		e    *Event
	}{
		{"zero", &Event{}},
		{"plain", codecEvent(t, "hello world", 1_300_000_000_123_456_789, INFO, "host-1")},
		{"negative timestamp", codecEvent(t, "x", -42, TRACE, "h")},
		{"extreme timestamps", codecEvent(t, "", math.MinInt64, FATAL, "")},
		{"max timestamp", codecEvent(t, "", math.MaxInt64, DEBUG, "")},
		{"binary body", codecEvent(t, "\x00\x01\xfe\xff", 7, WARN, "h")},
		{"big body", codecEvent(t, big, 7, WARN, "h")},
		{"attributes in order", codecEvent(t, "b", 1, ERROR, "h", "z", "1", "a", "", "m", "\x00\xff")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			enc := AppendBinary([]byte("prefix"), tc.e)
			if got := len(enc) - len("prefix"); got != BinarySize(tc.e) {
				t.Errorf("BinarySize = %d, encoding has %d bytes", BinarySize(tc.e), got)
			}
			// Trailing bytes belong to the next encoding and are not consumed.
			enc = append(enc, "trailer"...)
			got, n, err := DecodeBinary(enc[len("prefix"):])
			if err != nil {
				t.Fatalf("DecodeBinary: %v", err)
			}
			if want := len(enc) - len("prefix") - len("trailer"); n != want {
				t.Errorf("consumed %d bytes, want %d", n, want)
			}
			if !Equal(got, tc.e) {
				t.Errorf("decoded %+v, want %+v", got, tc.e)
			}
		})
	}
}

func TestBinaryConcatenated(t *testing.T) {
	evs := []*Event{
		codecEvent(t, "one", 1, INFO, "a", "k", "v"),
		codecEvent(t, "two", 2, WARN, "b"),
		codecEvent(t, "three", 3, DEBUG, "a", "k", "w", "j", "x"),
	}
	var buf []byte
	for _, e := range evs {
		buf = AppendBinary(buf, e)
	}
	var dst Event
	for i, want := range evs {
		n, err := DecodeBinaryInto(&dst, buf)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if !Equal(&dst, want) {
			t.Errorf("event %d: decoded %+v, want %+v", i, &dst, want)
		}
		buf = buf[n:]
	}
	if len(buf) != 0 {
		t.Errorf("%d bytes left over", len(buf))
	}
}

func TestDecodeBinaryCorrupt(t *testing.T) {
	good := AppendBinary(nil, codecEvent(t, "body", 99, INFO, "host", "k", "v"))
	hdr := func(rest ...byte) []byte { return append([]byte{codecVersion}, rest...) }
	cases := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"unknown version", append([]byte{2}, good[1:]...)},
		{"version only", hdr()},
		{"body length beyond input", hdr(0xff, 0xff, 0xff, 0xff, 0x0f, 'a')},
		{"varint overflow", hdr(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
		{"varint not shortest", hdr(0x80, 0x00, 0, 0, 0, 0)},
		{"bad priority", hdr(0, 0, 9, 0, 0)},
		{"huge attribute count", hdr(0, 0, 3, 0, 0xff, 0xff, 0xff, 0xff, 0x0f)},
		{"duplicate attribute", hdr(0, 0, 3, 0, 2, 1, 'k', 0, 1, 'k', 0)},
	}
	for i := 1; i < len(good); i++ {
		cases = append(cases, struct {
			name string
			in   []byte
		}{"truncated", good[:i]})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, n, err := DecodeBinary(tc.in)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeBinary(%x) = %v, %d, %v; want ErrCorrupt", tc.in, e, n, err)
			}
			if e != nil || n != 0 {
				t.Errorf("got event %v and %d bytes with an error", e, n)
			}
		})
	}
}

func TestDecodeBinaryIntoReusesStorage(t *testing.T) {
	enc := AppendBinary(nil, codecEvent(t, "body", 1, INFO, "host", "a", "1", "b", "2"))
	var dst Event
	if _, err := DecodeBinaryInto(&dst, enc); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := DecodeBinaryInto(&dst, enc); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("warm DecodeBinaryInto allocates %v times, want 0", allocs)
	}
	// Reuse must not leak attributes of the previous event.
	enc2 := AppendBinary(nil, codecEvent(t, "x", 2, WARN, "other", "c", "3"))
	if _, err := DecodeBinaryInto(&dst, enc2); err != nil {
		t.Fatal(err)
	}
	if want := codecEvent(t, "x", 2, WARN, "other", "c", "3"); !Equal(&dst, want) {
		t.Errorf("decoded %+v, want %+v", &dst, want)
	}
}

func TestDecodedValuesAreCapped(t *testing.T) {
	enc := AppendBinary(nil, codecEvent(t, "ab", 1, INFO, "h", "k", "v"))
	e, _, err := DecodeBinary(enc)
	if err != nil {
		t.Fatal(err)
	}
	before := append([]byte(nil), enc...)
	_ = append(e.Body, "XXXXXXXX"...)
	v, _ := e.Attr("k")
	_ = append(v, "XXXXXXXX"...)
	if !bytes.Equal(enc, before) {
		t.Error("appending to a decoded field overwrote the input")
	}
}

func FuzzDecodeBinary(f *testing.F) {
	f.Add(AppendBinary(nil, &Event{}))
	f.Add(AppendBinary(nil, codecEvent(f, "body", 1_300_000_000_000_000_000, INFO, "host", "k", "v", "k2", "")))
	f.Add(AppendBinary(nil, codecEvent(f, "\x00\xff", -1, TRACE, "")))
	f.Add([]byte{codecVersion, 0x80, 0x00})
	f.Add(binary.AppendUvarint([]byte{codecVersion}, math.MaxUint64))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, n, err := DecodeBinary(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("consumed %d of %d bytes", n, len(b))
		}
		if re := AppendBinary(nil, e); !bytes.Equal(re, b[:n]) {
			t.Fatalf("re-encoding differs:\n in  %x\n out %x", b[:n], re)
		}
		if BinarySize(e) != n {
			t.Fatalf("BinarySize = %d, decoded %d bytes", BinarySize(e), n)
		}
	})
}

func benchEvent() *Event {
	e := &Event{Body: bytes.Repeat([]byte("a log line of typical length "), 4), Timestamp: 1_300_000_000_000_000_000,
		Priority: INFO, Host: "agent-17.example.com"}
	_ = e.SetAttr("tailSrcFile", []byte("/var/log/messages"))
	_ = e.SetAttr("service", []byte("sshd"))
	return e
}

func BenchmarkAppendBinary(b *testing.B) {
	e := benchEvent()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(BinarySize(e)))
	for b.Loop() {
		buf = AppendBinary(buf[:0], e)
	}
}

func BenchmarkDecodeBinary(b *testing.B) {
	enc := AppendBinary(nil, benchEvent())
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, _, err := DecodeBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBinaryInto(b *testing.B) {
	enc := AppendBinary(nil, benchEvent())
	var dst Event
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := DecodeBinaryInto(&dst, enc); err != nil {
			b.Fatal(err)
		}
	}
}
