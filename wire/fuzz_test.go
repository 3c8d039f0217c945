package wire

import (
	"bytes"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/flumego/flume/node/event"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// FuzzDecode feeds the decoder arbitrary requests. It must never panic, never return events
// with an error or from a payload whose checksum does not match, and what it returns must be
// the payload: re-encoded, the events give back the decompressed bytes.
func FuzzDecode(f *testing.F) {
	for _, c := range compressions {
		for _, n := range []int{0, 1, 5} {
			req := encode(f, c, 1, makeEvents(f, n, 40, n))
			f.Add(req.Payload, int32(c), req.Count, req.RawSize, req.Crc32C, false)
		}
	}
	f.Add([]byte{1, 0, 0, 3, 0, 0}, int32(0), uint32(1), uint32(6), uint32(0), true)
	f.Add(bomb(f, flumev1.Compression_COMPRESSION_GZIP, 1<<20), int32(2), uint32(1), uint32(100), uint32(0), true)

	dec := NewDecoder(1 << 20)
	f.Cleanup(dec.Close)
	f.Fuzz(func(t *testing.T, payload []byte, comp int32, count, rawSize, crc uint32, fixCRC bool) {
		if fixCRC {
			// Let the fuzzer past the checksum into decompression and event decoding.
			crc = crc32.Checksum(payload, castagnoli)
		}
		req := &flumev1.AppendRequest{Seq: 1, Compression: flumev1.Compression(comp), Count: count,
			RawSize: rawSize, Payload: payload, Crc32C: crc}
		events, err := dec.Decode(req)
		if err != nil {
			if events != nil {
				t.Fatalf("%d events returned with error %v", len(events), err)
			}
			return
		}
		if crc32.Checksum(payload, castagnoli) != crc {
			t.Fatalf("decoded %d events from a payload with a bad checksum", len(events))
		}
		if len(events) != int(count) {
			t.Fatalf("decoded %d events, request says %d", len(events), count)
		}
		var raw []byte
		for _, e := range events {
			raw = event.AppendBinary(raw, e)
		}
		if len(raw) != int(rawSize) {
			t.Fatalf("events re-encode to %d bytes, request says %d", len(raw), rawSize)
		}
		if req.Compression == flumev1.Compression_COMPRESSION_UNSPECIFIED && !bytes.Equal(raw, payload) {
			t.Fatalf("events re-encode to other bytes than the payload")
		}
	})
}

// TestDecodeNeverTrustsABadChecksum is FuzzDecode's checksum property over every single-bit
// flip of a small batch, in every compression.
func TestDecodeNeverTrustsABadChecksum(t *testing.T) {
	dec := NewDecoder(0)
	defer dec.Close()
	for _, c := range compressions {
		good := encode(t, c, 1, makeEvents(t, 3, 40, 0))
		for bit := range len(good.Payload) * 8 {
			req := &flumev1.AppendRequest{Seq: 1, Compression: c, Count: good.Count, RawSize: good.RawSize,
				Payload: bytes.Clone(good.Payload), Crc32C: good.Crc32C}
			req.Payload[bit/8] ^= 1 << (bit % 8)
			if events, err := dec.Decode(req); !errors.Is(err, ErrChecksum) || events != nil {
				t.Fatalf("%v, bit %d flipped: Decode = %d events, %v; want ErrChecksum", c, bit, len(events), err)
			}
		}
	}
}
