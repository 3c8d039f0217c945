package wire

import (
	"bytes"
	"errors"
	"hash/crc32"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/flumego/flume/node/event"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

func TestCodecRoundTrip(t *testing.T) {
	for _, c := range compressions {
		t.Run(c.String(), func(t *testing.T) {
			enc, err := NewEncoder(c)
			if err != nil {
				t.Fatal(err)
			}
			dec := NewDecoder(0)
			defer dec.Close()
			req := &flumev1.AppendRequest{} // reused, as a sender reuses its requests
			for i, n := range []int{1000, 0, 1, 37, 1000} {
				want := makeEvents(t, n, 180, i)
				if err := enc.Encode(req, want); err != nil {
					t.Fatal(err)
				}
				if req.Compression != c || req.Count != uint32(n) {
					t.Fatalf("batch %d: compression %v count %d, want %v %d", i, req.Compression, req.Count, c, n)
				}
				if crc := crc32.Checksum(req.Payload, castagnoli); crc != req.Crc32C {
					t.Fatalf("batch %d: crc32c %08x, payload's is %08x", i, req.Crc32C, crc)
				}
				var raw int
				for _, e := range want {
					raw += event.BinarySize(e)
				}
				if int(req.RawSize) != raw {
					t.Fatalf("batch %d: raw size %d, want %d", i, req.RawSize, raw)
				}
				got, err := dec.Decode(req)
				if err != nil {
					t.Fatalf("batch %d: %v", i, err)
				}
				sameEvents(t, got, want)
			}
		})
	}
}

func TestCompressionShrinksLogLines(t *testing.T) {
	events := makeEvents(t, 1000, 180, 0)
	plain := encode(t, flumev1.Compression_COMPRESSION_UNSPECIFIED, 1, events)
	for _, c := range compressions[1:] {
		req := encode(t, c, 1, events)
		if len(req.Payload)*2 > len(plain.Payload) {
			t.Errorf("%v: payload of %d bytes for %d raw", c, len(req.Payload), len(plain.Payload))
		}
	}
}

func TestNewEncoderRefusesUnknownCompression(t *testing.T) {
	if _, err := NewEncoder(flumev1.Compression(9)); !errors.Is(err, ErrCompression) {
		t.Fatalf("NewEncoder(9) = %v, want ErrCompression", err)
	}
}

func TestEncoderRefusesTooManyEvents(t *testing.T) {
	enc, err := NewEncoder(flumev1.Compression_COMPRESSION_UNSPECIFIED)
	if err != nil {
		t.Fatal(err)
	}
	events := make([]*event.Event, MaxEvents+1)
	for i := range events {
		events[i] = &event.Event{Priority: event.INFO}
	}
	if err := enc.Encode(&flumev1.AppendRequest{}, events); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Encode(%d events) = %v, want ErrTooLarge", len(events), err)
	}
}

// recrc makes req's checksum right again after a test changed its payload.
func recrc(req *flumev1.AppendRequest) { req.Crc32C = crc32.Checksum(req.Payload, castagnoli) }

func TestDecodeRejectsBadBatches(t *testing.T) {
	const (
		none = flumev1.Compression_COMPRESSION_UNSPECIFIED
		zstd = flumev1.Compression_COMPRESSION_ZSTD
		gz   = flumev1.Compression_COMPRESSION_GZIP
	)
	tests := []struct {
		name   string
		comp   flumev1.Compression
		maxRaw int
		change func(*flumev1.AppendRequest)
		want   error
		msg    string
	}{
		{"flipped payload byte", zstd, 0, func(r *flumev1.AppendRequest) { r.Payload[len(r.Payload)/2] ^= 1 }, ErrChecksum, "crc32c mismatch: want"},
		{"wrong checksum", none, 0, func(r *flumev1.AppendRequest) { r.Crc32C++ }, ErrChecksum, "got"},
		{"count one too many", none, 0, func(r *flumev1.AppendRequest) { r.Count++ }, ErrCount, "request says 11 events, payload holds 10"},
		{"count one too few", gz, 0, func(r *flumev1.AppendRequest) { r.Count-- }, ErrCount, "request says 9 events, payload holds"},
		{"count over the events limit", none, 0, func(r *flumev1.AppendRequest) { r.Count = MaxEvents + 1 }, ErrTooLarge, "at most 65536"},
		{"count that cannot fit", none, 0, func(r *flumev1.AppendRequest) { r.Count = r.RawSize }, ErrCount, "cannot fit"},
		{"raw size over the limit", zstd, 1000, func(*flumev1.AppendRequest) {}, ErrTooLarge, "over the limit of 1000 bytes"},
		{"raw size understated, zstd", zstd, 0, func(r *flumev1.AppendRequest) { r.RawSize-- }, ErrRawSize, "more than the"},
		{"raw size overstated, zstd", zstd, 0, func(r *flumev1.AppendRequest) { r.RawSize++ }, ErrRawSize, "decompresses to"},
		{"raw size understated, gzip", gz, 0, func(r *flumev1.AppendRequest) { r.RawSize-- }, ErrRawSize, "more than the"},
		{"raw size overstated, gzip", gz, 0, func(r *flumev1.AppendRequest) { r.RawSize++ }, ErrRawSize, "decompresses to"},
		{"raw size wrong, none", none, 0, func(r *flumev1.AppendRequest) { r.RawSize++ }, ErrRawSize, "uncompressed payload of"},
		{"unknown compression", none, 0, func(r *flumev1.AppendRequest) { r.Compression = 7 }, ErrCompression, "7"},
		{"zstd garbage with a good checksum", zstd, 0, func(r *flumev1.AppendRequest) {
			r.Payload[len(r.Payload)/2] ^= 0xff
			recrc(r)
		}, ErrCorrupt, "zstd"},
		{"gzip garbage with a good checksum", gz, 0, func(r *flumev1.AppendRequest) {
			r.Payload[0] = 0
			recrc(r)
		}, ErrCorrupt, "gzip"},
		{"gzip trailer wrong with a good checksum", gz, 0, func(r *flumev1.AppendRequest) {
			r.Payload[len(r.Payload)-6] ^= 1 // inside the trailer's CRC-32 of the content
			recrc(r)
		}, ErrCorrupt, "gzip"},
		{"corrupt event", none, 0, func(r *flumev1.AppendRequest) {
			r.Payload = corruptEvent(t, 3)
			recrc(r)
		}, event.ErrCorrupt, "event 3 at byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := encode(t, tt.comp, 1, makeEvents(t, 10, 180, 0))
			tt.change(req)
			dec := NewDecoder(tt.maxRaw)
			defer dec.Close()
			events, err := dec.Decode(req)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Decode = %v, want %v saying %q", err, tt.want, tt.msg)
			}
			if events != nil {
				t.Fatalf("Decode returned %d events with its error", len(events))
			}
		})
	}
}

// corruptEvent returns the uncompressed payload of makeEvents(10, 180, 0) with the priority
// of event i out of range.
func corruptEvent(tb testing.TB, i int) []byte {
	tb.Helper()
	var p []byte
	for j, e := range makeEvents(tb, 10, 180, 0) {
		if j == i {
			bad := *e
			bad.Priority = 9
			p = event.AppendBinary(p, &bad)
			continue
		}
		p = event.AppendBinary(p, e)
	}
	return p
}

// bomb returns a payload that decompresses to n zero bytes, compressed as a stream whose
// frame does not declare its size.
func bomb(tb testing.TB, c flumev1.Compression, n int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	switch c {
	case flumev1.Compression_COMPRESSION_ZSTD:
		z, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<16))
		if err != nil {
			tb.Fatal(err)
		}
		w = z
	case flumev1.Compression_COMPRESSION_GZIP:
		w = gzip.NewWriter(&buf)
	}
	zeros := make([]byte, 1<<20)
	for range n >> 20 {
		if _, err := w.Write(zeros); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeBombStaysWithinTheDeclaredSize(t *testing.T) {
	const limit = 1 << 20
	for _, c := range compressions[1:] {
		for _, declared := range []uint32{1 << 10, limit} {
			payload := bomb(t, c, 16<<20)
			req := &flumev1.AppendRequest{Seq: 1, Compression: c, Count: 1, RawSize: declared, Payload: payload}
			recrc(req)
			dec := NewDecoder(limit)
			// Warm the decompressor so that its own state is not counted.
			if _, err := dec.Decode(encode(t, c, 1, makeEvents(t, 10, 180, 0))); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			events, err := dec.Decode(req)
			runtime.ReadMemStats(&after)
			dec.Close()
			if !errors.Is(err, ErrRawSize) || events != nil {
				t.Fatalf("%v, declared %d: Decode = %d events, %v; want ErrRawSize", c, declared, len(events), err)
			}
			if grown := after.TotalAlloc - before.TotalAlloc; grown > 3*limit {
				t.Fatalf("%v, declared %d: decoding a 16 MiB bomb allocated %d bytes, limit %d", c, declared, grown, limit)
			}
		}
	}
}

func TestCodecSteadyStateAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items, so reuse allocates")
	}
	for _, c := range compressions {
		t.Run(c.String(), func(t *testing.T) {
			events := makeEvents(t, 1000, 180, 0)
			enc, err := NewEncoder(c)
			if err != nil {
				t.Fatal(err)
			}
			dec := NewDecoder(0)
			defer dec.Close()
			req := &flumev1.AppendRequest{}
			allocs := testing.AllocsPerRun(20, func() {
				if err := enc.Encode(req, events); err != nil {
					t.Fatal(err)
				}
				if _, err := dec.Decode(req); err != nil {
					t.Fatal(err)
				}
			})
			if allocs > 0 {
				t.Fatalf("%v allocations per 1000-event batch, want 0", allocs)
			}
		})
	}
}

func TestEncodeRawMatchesEncode(t *testing.T) {
	events := makeEvents(t, 100, 180, 0)
	var raw []byte
	for _, e := range events {
		raw = event.AppendBinary(raw, e)
	}
	for _, c := range compressions {
		t.Run(c.String(), func(t *testing.T) {
			enc, err := NewEncoder(c)
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Close()
			want := encode(t, c, 1, events)
			got := &flumev1.AppendRequest{Seq: 1}
			if err := enc.EncodeRaw(got, raw, len(events)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Payload, want.Payload) || got.Crc32C != want.Crc32C ||
				got.Count != want.Count || got.RawSize != want.RawSize || got.Compression != c {
				t.Fatalf("EncodeRaw gave count %d raw %d crc %08x, Encode count %d raw %d crc %08x",
					got.Count, got.RawSize, got.Crc32C, want.Count, want.RawSize, want.Crc32C)
			}
			dec := NewDecoder(0)
			defer dec.Close()
			decoded, err := dec.Decode(got)
			if err != nil {
				t.Fatal(err)
			}
			sameEvents(t, decoded, events)
			if err := enc.EncodeRaw(got, raw, MaxEvents+1); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("EncodeRaw of %d events = %v, want ErrTooLarge", MaxEvents+1, err)
			}
		})
	}
}
