package wire

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// TestSendCodecDecodesAsTheRequest: what the zero-copy codec sends decodes, with the plain
// protobuf decoder, as the request it was given, and its payload is the request's own memory.
func TestSendCodecDecodesAsTheRequest(t *testing.T) {
	payload := bytes.Repeat([]byte("event "), 2000)
	for _, req := range []*flumev1.AppendRequest{
		{Seq: 7, Count: 1000, Compression: flumev1.Compression_COMPRESSION_ZSTD, RawSize: 123456,
			Payload: payload, Crc32C: 0xdeadbeef, Created: 1765000000000000000},
		{Hello: &flumev1.StreamHello{Agent: "agentA", Epoch: 3, Physical: "host1",
			Reliability: flumev1.Reliability_RELIABILITY_END_TO_END}, Seq: 1, Count: 1, Payload: payload},
		{Payload: payload},
		{Seq: 2, Count: 2, Payload: []byte("small: the proto codec's")},
	} {
		out, err := newSendCodec().Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		got := &flumev1.AppendRequest{}
		if err := proto.Unmarshal(out.Materialize(), got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, req) {
			t.Fatalf("decoded %v, want %v", got, req)
		}
		if len(req.Payload) >= minZeroCopy && (len(out) != 2 || &out[1].ReadOnlyData()[0] != &req.Payload[0]) {
			t.Fatalf("the payload was copied: %d buffers", len(out))
		}
	}
}

// TestSendCodecKnowsEveryField fails when AppendRequest gains a field the zero-copy codec does
// not encode: it would be dropped silently.
func TestSendCodecKnowsEveryField(t *testing.T) {
	known := map[protoreflect.FieldNumber]string{1: "hello", 2: "seq", 3: "count", 4: "compression",
		5: "raw_size", 6: "payload", 7: "crc32c", 8: "created"}
	fields := (&flumev1.AppendRequest{}).ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if known[f.Number()] != string(f.Name()) {
			t.Errorf("AppendRequest field %d %q is not encoded by AppendRequestHead", f.Number(), f.Name())
		}
	}
	if fields.Len() != len(known) {
		t.Errorf("AppendRequest has %d fields, the codec knows %d", fields.Len(), len(known))
	}
}

// TestDecodeRequestAliasesThePayload: a head and its payload decode as the request, the payload
// in the given memory; a request marshalled whole decodes the same.
func TestDecodeRequestAliasesThePayload(t *testing.T) {
	req := &flumev1.AppendRequest{Seq: 9, Count: 2, Compression: flumev1.Compression_COMPRESSION_GZIP,
		RawSize: 77, Payload: []byte("two events"), Crc32C: 5, Created: 1765000000000000001}
	head, err := AppendRequestHead(nil, req)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{append(head, req.Payload...), whole} {
		got, err := DecodeRequest(b)
		if err != nil {
			t.Fatal(err)
		}
		at := bytes.Index(b, req.Payload)
		if !proto.Equal(got, req) || at < 0 || &got.Payload[0] != &b[at] {
			t.Fatalf("decoded %v, want %v with its payload in place", got, req)
		}
	}
	if _, err := DecodeRequest([]byte{0x32, 0x10, 'x'}); err == nil {
		t.Fatal("a payload shorter than its length decoded")
	}
}
