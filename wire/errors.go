package wire

import "errors"

// Errors of the codec and of streams; returned errors wrap them with the detail (which
// sequence number, which sizes), so callers test with errors.Is. Errors that come from the
// network keep their gRPC status, which status.Code finds through the wrapping.
var (
	// ErrChecksum: the CRC-32C of the payload differs from the one the request carries.
	ErrChecksum = errors.New("crc32c mismatch")
	// ErrCount: the payload holds another number of events than the request says.
	ErrCount = errors.New("event count mismatch")
	// ErrTooLarge: a batch is over a size limit (decompressed size or message size).
	ErrTooLarge = errors.New("batch over the size limit")
	// ErrRawSize: the payload decompresses to another size than the request says.
	ErrRawSize = errors.New("raw size mismatch")
	// ErrCompression: the request names a compression this package does not know.
	ErrCompression = errors.New("unknown compression")
	// ErrCorrupt: the payload does not decompress, or an event in it does not decode.
	ErrCorrupt = errors.New("corrupt batch")

	// ErrBadHello: a stream was opened without a hello or with an unusable one.
	ErrBadHello = errors.New("bad stream hello")
	// ErrBadSeq: a batch was sent with sequence number 0 (reserved for keepalives) or with
	// the number of a batch still in flight on the stream.
	ErrBadSeq = errors.New("bad batch sequence number")
	// ErrClosed: the stream is closed or closing; nothing more can be sent on it.
	ErrClosed = errors.New("stream closed")
	// ErrAckTimeout: the oldest batch in flight waited longer than the ack timeout.
	ErrAckTimeout = errors.New("ack timeout")
	// ErrUnexpectedAck: the collector acked a batch that is not in flight.
	ErrUnexpectedAck = errors.New("ack for a batch not in flight")
	// ErrStreamEnded: the collector ended the stream although the agent had not closed it,
	// or with batches still unacknowledged.
	ErrStreamEnded = errors.New("collector ended the stream")
	// ErrUnreachable: the connection to the collector could not be established.
	ErrUnreachable = errors.New("collector unreachable")
)
