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

// payloadField is the field number of AppendRequest.payload.
const payloadField = 6

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
	head, err := AppendRequestHead(make([]byte, 0, 64), req)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(head), mem.SliceBuffer(req.Payload)}, nil
}

// AppendRequestHead appends every field of req but the payload's bytes: the payload's tag and
// length come last, so that the payload, written after the head, makes the bytes the whole
// request. The send codec and the agent's log records are written so.
func AppendRequestHead(b []byte, req *flumev1.AppendRequest) ([]byte, error) {
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
	b = protowire.AppendTag(b, payloadField, protowire.BytesType)
	return protowire.AppendVarint(b, uint64(len(req.Payload))), nil
}

// DecodeRequest decodes an AppendRequest whose payload aliases b, which the caller hands over:
// a batch read back from a log is not copied again. Fields it does not know are skipped.
func DecodeRequest(b []byte) (*flumev1.AppendRequest, error) {
	req := &flumev1.AppendRequest{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		var v uint64
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			v = uint64(x)
		case protowire.BytesType:
			var p []byte
			p, n = protowire.ConsumeBytes(b)
			if num == payloadField {
				req.Payload = p[:len(p):len(p)]
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		switch num {
		case 2:
			req.Seq = v
		case 3:
			req.Count = uint32(v)
		case 4:
			req.Compression = flumev1.Compression(v)
		case 5:
			req.RawSize = uint32(v)
		case 7:
			req.Crc32C = uint32(v)
		case 8:
			req.Created = int64(v)
		}
	}
	return req, nil
}
