package wire

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/flumego/flume/node/event"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// Size limits of a batch.
const (
	// DefaultMaxMessageSize is the largest AppendRequest either end accepts by default, in
	// bytes: room for one event at the 16 MiB event size limit and then some.
	DefaultMaxMessageSize = 32 << 20
	// DefaultMaxRawSize is the largest decompressed payload a Decoder accepts by default.
	DefaultMaxRawSize = 64 << 20
	// MaxEvents is the most events one batch may carry. Agents batch 1000 events by default;
	// the bound keeps a payload of tiny events from costing the collector far more memory in
	// decoded events than its size limit allows for.
	MaxEvents = 1 << 16
)

// minEventSize is the smallest binary encoding of an event (version, body length, timestamp,
// priority, host length, attribute count): it bounds the count a payload can truthfully claim.
const minEventSize = 6

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Encoder turns batches of events into AppendRequest payloads with one compression. It keeps
// its compressor and buffers between batches, so that encoding allocates nothing once warm.
// An Encoder is not safe for concurrent use.
type Encoder struct {
	comp flumev1.Compression
	raw  []byte // the uncompressed encoding, when compressing
	zenc *zstd.Encoder
	gz   *gzip.Writer
	out  sliceWriter // where gz writes: the request's payload
}

// NewEncoder returns an encoder for compression c.
func NewEncoder(c flumev1.Compression) (*Encoder, error) {
	e := &Encoder{comp: c}
	switch c {
	case flumev1.Compression_COMPRESSION_UNSPECIFIED:
	case flumev1.Compression_COMPRESSION_ZSTD:
		// EncodeAll on one goroutine: batches are compressed by the stream that sends them,
		// and an encoder with concurrency 1 starts no goroutines of its own.
		z, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("new zstd encoder: %w", err)
		}
		e.zenc = z
	case flumev1.Compression_COMPRESSION_GZIP:
		g, err := gzip.NewWriterLevel(&e.out, gzip.BestSpeed)
		if err != nil {
			return nil, fmt.Errorf("new gzip encoder: %w", err)
		}
		e.gz = g
	default:
		return nil, fmt.Errorf("%w: %d", ErrCompression, int32(c))
	}
	return e, nil
}

// Compression returns the compression the encoder writes.
func (e *Encoder) Compression() flumev1.Compression { return e.comp }

// Encode encodes events into req: it sets Count, Compression, RawSize, Payload and Crc32C and
// leaves the other fields (Seq, Created, Hello) to the caller. The payload is written into
// req.Payload's array when it is large enough, so a caller that reuses its requests reuses
// their memory; the request owns its payload, and the encoder keeps no reference to it.
func (e *Encoder) Encode(req *flumev1.AppendRequest, events []*event.Event) error {
	if len(events) > MaxEvents {
		return fmt.Errorf("%w: %d events in one batch, at most %d", ErrTooLarge, len(events), MaxEvents)
	}
	if e.comp == flumev1.Compression_COMPRESSION_UNSPECIFIED {
		req.Payload = appendEvents(req.Payload[:0], events)
		return e.seal(req, req.Payload, len(events))
	}
	e.raw = appendEvents(e.raw[:0], events)
	return e.seal(req, e.raw, len(events))
}

// seal compresses raw, the encoding of count events, into req.Payload and fills in the
// request's header. Uncompressed, req.Payload already is raw.
func (e *Encoder) seal(req *flumev1.AppendRequest, raw []byte, count int) error {
	if len(raw) > math.MaxUint32 {
		return fmt.Errorf("%w: %d bytes in one batch", ErrTooLarge, len(raw))
	}
	switch e.comp {
	case flumev1.Compression_COMPRESSION_ZSTD:
		req.Payload = e.zenc.EncodeAll(raw, req.Payload[:0])
	case flumev1.Compression_COMPRESSION_GZIP:
		e.out.b = req.Payload[:0]
		e.gz.Reset(&e.out)
		if _, err := e.gz.Write(raw); err != nil {
			return fmt.Errorf("gzip batch: %w", err)
		}
		if err := e.gz.Close(); err != nil {
			return fmt.Errorf("gzip batch: %w", err)
		}
		req.Payload = e.out.b
		e.out.b = nil // the request owns it now
	}
	req.Compression = e.comp
	req.Count = uint32(count)
	req.RawSize = uint32(len(raw))
	req.Crc32C = crc32.Checksum(req.Payload, castagnoli)
	return nil
}

func appendEvents(dst []byte, events []*event.Event) []byte {
	for _, ev := range events {
		dst = event.AppendBinary(dst, ev)
	}
	return dst
}

// sliceWriter is an io.Writer that appends to a slice.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// Decoder checks and decodes AppendRequest payloads. It reuses its buffers, its decompressors
// and its events between batches, so that decoding allocates nothing once warm; in exchange
// the events of a batch are valid only until the next Decode. A Decoder is not safe for
// concurrent use. It starts no goroutines: Close only lets go of its memory early, and a
// decoder dropped without it is reclaimed by the garbage collector.
type Decoder struct {
	maxRaw int
	raw    []byte
	slots  []event.Event
	events []*event.Event
	zdec   *zstd.Decoder
	gz     *gzip.Reader
	br     bytes.Reader
	one    [1]byte // a field, not a local: a local passed to Read would escape
}

// NewDecoder returns a decoder that refuses payloads that decompress to more than maxRaw
// bytes; maxRaw <= 0 means DefaultMaxRawSize.
func NewDecoder(maxRaw int) *Decoder {
	if maxRaw <= 0 {
		maxRaw = DefaultMaxRawSize
	}
	return &Decoder{maxRaw: maxRaw}
}

// Close releases the decoder's decompressors and buffers. The decoder must not be used
// afterwards.
func (d *Decoder) Close() {
	if d.zdec != nil {
		d.zdec.Close()
		d.zdec = nil
	}
	d.gz = nil
	d.raw, d.slots, d.events = nil, nil, nil
}

// Decode checks req and returns its events. The checks come before any work they guard: the
// declared size against the limit and the CRC before decompressing, the count against what
// the size can hold before sizing anything by it, and the decompressed size never beyond the
// declared one. Every error says what is wrong and wraps one of ErrChecksum, ErrTooLarge,
// ErrRawSize, ErrCount, ErrCompression or ErrCorrupt; no events come with an error.
//
// The events are the decoder's and alias its buffer, or req.Payload for an uncompressed batch:
// they are read-only and valid until the next Decode, as long as req.Payload is not changed.
func (d *Decoder) Decode(req *flumev1.AppendRequest) ([]*event.Event, error) {
	raw, err := d.payload(req)
	if err != nil {
		return nil, err
	}
	return d.decodeEvents(raw, int(req.Count))
}

// payload checks req's envelope and returns its decompressed payload.
func (d *Decoder) payload(req *flumev1.AppendRequest) ([]byte, error) {
	size := int(req.RawSize)
	if size > d.maxRaw {
		return nil, fmt.Errorf("%w: raw size %d over the limit of %d bytes", ErrTooLarge, size, d.maxRaw)
	}
	if got := crc32.Checksum(req.Payload, castagnoli); got != req.Crc32C {
		return nil, fmt.Errorf("%w: want %08x, got %08x", ErrChecksum, req.Crc32C, got)
	}
	if req.Count > MaxEvents {
		return nil, fmt.Errorf("%w: %d events in one batch, at most %d", ErrTooLarge, req.Count, MaxEvents)
	}
	if uint64(req.Count)*minEventSize > uint64(size) {
		return nil, fmt.Errorf("%w: %d events cannot fit in %d bytes", ErrCount, req.Count, size)
	}
	switch req.Compression {
	case flumev1.Compression_COMPRESSION_UNSPECIFIED:
		if len(req.Payload) != size {
			return nil, fmt.Errorf("%w: uncompressed payload of %d bytes, request says %d",
				ErrRawSize, len(req.Payload), size)
		}
		return req.Payload, nil
	case flumev1.Compression_COMPRESSION_ZSTD:
		return d.unzstd(req.Payload, size)
	case flumev1.Compression_COMPRESSION_GZIP:
		return d.gunzip(req.Payload, size)
	default:
		return nil, fmt.Errorf("%w: %d", ErrCompression, int32(req.Compression))
	}
}

// buffer returns the decoder's buffer resized to n bytes, the size a request declares.
func (d *Decoder) buffer(n int) []byte {
	if cap(d.raw) < n {
		// Some headroom, so that batches growing by a little do not reallocate every time.
		d.raw = make([]byte, min(max(n, cap(d.raw)+cap(d.raw)/4), d.maxRaw))
	}
	return d.raw[:n]
}

func (d *Decoder) unzstd(payload []byte, size int) ([]byte, error) {
	d.br.Reset(payload)
	if d.zdec == nil {
		// Concurrency 1 decodes in the caller's goroutine and starts none; the memory limit
		// bounds the window a frame may ask for, so the decoder's history too.
		z, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(uint64(d.maxRaw)))
		if err != nil {
			return nil, fmt.Errorf("new zstd decoder: %w", err)
		}
		d.zdec = z
	}
	if err := d.zdec.Reset(&d.br); err != nil {
		return nil, fmt.Errorf("%w: zstd: %w", ErrCorrupt, err)
	}
	return d.readExactly(d.zdec, "zstd", size)
}

func (d *Decoder) gunzip(payload []byte, size int) ([]byte, error) {
	d.br.Reset(payload)
	var err error
	if d.gz == nil {
		d.gz, err = gzip.NewReader(&d.br)
	} else {
		err = d.gz.Reset(&d.br)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: gzip header: %w", ErrCorrupt, err)
	}
	return d.readExactly(d.gz, "gzip", size)
}

// readExactly reads the decompressed payload from r, which must hold exactly size bytes.
// Reading into a buffer of the declared size, and then one byte more to see the end, a
// payload that decompresses to more (a bomb) is stopped without allocating anything.
func (d *Decoder) readExactly(r io.Reader, what string, size int) ([]byte, error) {
	out := d.buffer(size)
	if n, err := io.ReadFull(r, out); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s payload decompresses to %d bytes, request says %d", ErrRawSize, what, n, size)
		}
		return nil, d.readError(what, err)
	}
	// The end also checks the stream's own checksum and trailer.
	switch _, err := io.ReadFull(r, d.one[:]); {
	case err == nil:
		return nil, fmt.Errorf("%w: %s payload decompresses to more than the %d bytes declared", ErrRawSize, what, size)
	case err != io.EOF:
		return nil, d.readError(what, err)
	}
	return out, nil
}

func (d *Decoder) readError(what string, err error) error {
	if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		return fmt.Errorf("%w: %s frame asks for a window over the limit of %d bytes", ErrTooLarge, what, d.maxRaw)
	}
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, what, err)
}

// decodeEvents decodes count events from raw into the decoder's reused events.
func (d *Decoder) decodeEvents(raw []byte, count int) ([]*event.Event, error) {
	if cap(d.slots) < count {
		// count is bounded by MaxEvents and by the declared size, so a lying count costs
		// little; and an honest one is worth sizing for at once.
		n := min(max(count, cap(d.slots)+cap(d.slots)/4), MaxEvents)
		d.slots = make([]event.Event, n)
		d.events = make([]*event.Event, n)
	}
	slots := d.slots[:count]
	events := d.events[:count]
	off := 0
	for i := range count {
		if off == len(raw) {
			return nil, fmt.Errorf("%w: request says %d events, payload holds %d", ErrCount, count, i)
		}
		n, err := event.DecodeBinaryInto(&slots[i], raw[off:])
		if err != nil {
			return nil, fmt.Errorf("%w: event %d at byte %d: %w", ErrCorrupt, i, off, err)
		}
		off += n
		events[i] = &slots[i]
	}
	if off != len(raw) {
		return nil, fmt.Errorf("%w: request says %d events, payload holds %d more bytes after them",
			ErrCount, count, len(raw)-off)
	}
	return events, nil
}
