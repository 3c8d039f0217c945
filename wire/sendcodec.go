package wire

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// sendCodec is the client's codec: it marshals an AppendRequest without copying its payload.
// The request's small fields are encoded apart, the payload field last, and the transport
// writes the payload from the request's own memory: a batch is not copied into a
// marshalling buffer on its way to the socket. The bytes decode as the same request with any
// protobuf decoder. Everything else, and every Unmarshal, is the proto codec's.
type sendCodec struct {
	proto encoding.CodecV2
}

// minZeroCopy is the payload size below which the plain proto codec is cheaper.
const minZeroCopy = 4 << 10

func newSendCodec() sendCodec {
	return sendCodec{proto: encoding.GetCodecV2("proto")}
}

func (c sendCodec) Name() string { return c.proto.Name() }

func (c sendCodec) Unmarshal(data mem.BufferSlice, v any) error { return c.proto.Unmarshal(data, v) }

func (c sendCodec) Marshal(v any) (mem.BufferSlice, error) {
	req, ok := v.(*flumev1.AppendRequest)
	if !ok || len(req.GetPayload()) < minZeroCopy {
		return c.proto.Marshal(v)
	}
	head, err := appendRequestHead(make([]byte, 0, 64), req)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(head), mem.SliceBuffer(req.Payload)}, nil
}

// appendRequestHead appends every field of req but the payload's bytes: the payload's tag and
// length come last, so that the payload follows.
func appendRequestHead(b []byte, req *flumev1.AppendRequest) ([]byte, error) {
	if h := req.GetHello(); h != nil {
		hb, err := proto.Marshal(h)
		if err != nil {
			return nil, fmt.Errorf("marshal stream hello: %w", err)
		}
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, hb)
	}
	if req.Seq != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, req.Seq)
	}
	if req.Count != 0 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(req.Count))
	}
	if req.Compression != 0 {
		b = protowire.AppendTag(b, 4, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(req.Compression))
	}
	if req.RawSize != 0 {
		b = protowire.AppendTag(b, 5, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(req.RawSize))
	}
	if req.Crc32C != 0 {
		b = protowire.AppendTag(b, 7, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, req.Crc32C)
	}
	if req.Created != 0 {
		b = protowire.AppendTag(b, 8, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(req.Created))
	}
	b = protowire.AppendTag(b, 6, protowire.BytesType)
	return protowire.AppendVarint(b, uint64(len(req.Payload))), nil
}
