package wire

import (
	"fmt"

	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// EncodeRaw is Encode for events an agent has encoded already (event.AppendBinary, one after
// the other): raw holds count events. An agent that gathers a chunk over several appends keeps
// the encoding instead of the events, so it copies nothing it does not send. raw is not kept,
// and must not share memory with req.Payload.
func (e *Encoder) EncodeRaw(req *flumev1.AppendRequest, raw []byte, count int) error {
	if count > MaxEvents {
		return fmt.Errorf("%w: %d events in one batch, at most %d", ErrTooLarge, count, MaxEvents)
	}
	if e.comp == flumev1.Compression_COMPRESSION_UNSPECIFIED {
		req.Payload = append(req.Payload[:0], raw...)
		return e.seal(req, req.Payload, count)
	}
	return e.seal(req, raw, count)
}

// Close releases the encoder's compressor. The encoder must not be used afterwards.
func (e *Encoder) Close() {
	if e.zenc != nil {
		_ = e.zenc.Close() // nothing to flush: batches are compressed whole by EncodeAll
		e.zenc = nil
	}
	e.gz = nil
	e.raw = nil
}

// Done is closed when the stream is over: it failed (Err says why) or Close has returned.
func (s *Stream) Done() <-chan struct{} { return s.over }

// Seal is EncodeRaw for a caller that hands raw over: uncompressed, raw becomes the request's
// payload, with no copy, and the caller must not touch it afterwards; compressed, raw is only
// read, and the caller may reuse it.
func (e *Encoder) Seal(req *flumev1.AppendRequest, raw []byte, count int) error {
	if count > MaxEvents {
		return fmt.Errorf("%w: %d events in one batch, at most %d", ErrTooLarge, count, MaxEvents)
	}
	if e.comp == flumev1.Compression_COMPRESSION_UNSPECIFIED {
		req.Payload = raw
	}
	return e.seal(req, raw, count)
}
