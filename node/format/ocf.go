package format

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
)

// The Avro object container file (Avro specification, "Object Container Files"):
//
//	header: "Obj" 1, metadata map<bytes> {avro.schema, avro.codec}, 16-byte sync marker
//	blocks: record count (long), byte size (long), records (compressed), sync marker
//
// The writer is our own rather than a library's so that compressors are made once per stream
// and reused for every block, and records are encoded by hand without reflection or a map per
// event. Files are read back with github.com/hamba/avro/v2 in the tests.

// Codec names, as a container's avro.codec metadata names them.
const (
	codecNull      = "null"
	codecDeflate   = "deflate"
	codecSnappy    = "snappy"
	codecZstandard = "zstandard"
)

// codecNames lists the codecs avrodata accepts, for its error messages.
var codecNames = []string{codecNull, codecDeflate, codecSnappy, codecZstandard}

// Compression levels. deflate takes -1 (the default) to 9; zstandard takes zstd's levels 1 to
// 22, which the encoder maps to its four speeds (fastest, default, better, best).
const (
	deflateDefaultLevel = -1
	zstdDefaultLevel    = 3
)

// blockTarget is the uncompressed size at which a block is written without waiting for Flush,
// as Avro's own writers do (their sync interval is 64000 bytes).
const blockTarget = 64 << 10

var ocfMagic = [4]byte{'O', 'b', 'j', 1}

// compressor compresses the records of one block. It is made per stream and reused.
type compressor interface {
	// compress appends the compressed form of src to dst.
	compress(dst, src []byte) []byte
	// close releases the compressor.
	close() error
}

// ocfFormat is the avrodata (and avro) format: a container file of AvroFlumeEvent records.
type ocfFormat struct {
	name  string
	codec string
	level int
}

// NewEncoder returns an encoder that starts a new container file on w. The header is written
// with the first block, on the first Flush, or on Close, whichever comes first.
func (f *ocfFormat) NewEncoder(w io.Writer) (plugin.Encoder, error) {
	if w == nil {
		return nil, fmt.Errorf("%s encoder: %w", f.name, ErrNilWriter)
	}
	comp, err := newCompressor(f.codec, f.level)
	if err != nil {
		return nil, fmt.Errorf("%s encoder: %w", f.name, err)
	}
	enc := &ocfEncoder{w: w, name: f.name, codec: f.codec, comp: comp}
	_, _ = rand.Read(enc.sync[:]) // crypto/rand.Read never fails
	return enc, nil
}

func newCompressor(codec string, level int) (compressor, error) {
	switch codec {
	case codecNull:
		return nullCompressor{}, nil
	case codecDeflate:
		d := &deflateCompressor{}
		w, err := flate.NewWriter(&d.out, level)
		if err != nil {
			return nil, fmt.Errorf("deflate level %d: %w", level, err)
		}
		d.w = w
		return d, nil
	case codecSnappy:
		return snappyCompressor{}, nil
	case codecZstandard:
		enc, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
			zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstandard level %d: %w", level, err)
		}
		return &zstdCompressor{enc: enc}, nil
	}
	return nil, fmt.Errorf("unknown codec %q", codec) // the builder checked the name
}

// ocfEncoder writes a container file. Records accumulate in block until it reaches
// blockTarget or Flush is called; then the block is compressed and written with one Write.
// After a failed write the file may hold part of a block, so the error is sticky: every later
// call returns it, and the sink must start a new file.
type ocfEncoder struct {
	w      io.Writer
	name   string
	codec  string
	comp   compressor
	sync   [16]byte
	header bool // the header has been written
	block  []byte
	count  int64
	zbuf   []byte // compressed block
	out    []byte // what one Write sends
	err    error
	closed bool
}

// Encode adds e to the current block.
func (o *ocfEncoder) Encode(e *event.Event) error {
	if err := o.usable(); err != nil {
		return err
	}
	o.block = appendAvroEvent(o.block, e)
	o.count++
	if len(o.block) >= blockTarget {
		return o.writeBlock()
	}
	return nil
}

// Flush ends the current block and writes it, so that the file written so far is a complete,
// readable container.
func (o *ocfEncoder) Flush() error {
	if err := o.usable(); err != nil {
		return err
	}
	return o.writeBlock()
}

// Close flushes and releases the compressor. It does not close the writer; it is safe to
// call twice.
func (o *ocfEncoder) Close() error {
	if o.closed {
		return nil
	}
	err := o.err
	if err == nil {
		err = o.writeBlock()
	}
	o.closed = true
	if cerr := o.comp.close(); cerr != nil && err == nil {
		err = fmt.Errorf("close %s encoder: %w", o.name, cerr)
	}
	o.block, o.zbuf, o.out = nil, nil, nil
	return err
}

func (o *ocfEncoder) usable() error {
	if o.closed {
		return fmt.Errorf("%s encoder: %w", o.name, ErrClosed)
	}
	return o.err
}

// writeBlock writes the header if it is not yet written and the pending block if there is one.
func (o *ocfEncoder) writeBlock() error {
	out := o.out[:0]
	if !o.header {
		out = o.appendHeader(out)
	}
	if o.count > 0 {
		o.zbuf = o.comp.compress(o.zbuf[:0], o.block)
		out = appendAvroLong(out, o.count)
		out = appendAvroLong(out, int64(len(o.zbuf)))
		out = append(out, o.zbuf...)
		out = append(out, o.sync[:]...)
	}
	o.out = out
	if len(out) == 0 {
		return nil
	}
	if _, err := o.w.Write(out); err != nil {
		o.err = fmt.Errorf("write %s block: %w", o.name, err)
		return o.err
	}
	o.header = true
	o.block, o.count = o.block[:0], 0
	if cap(o.block) > maxKeptBuffer {
		o.block, o.zbuf, o.out = nil, nil, nil
	}
	return nil
}

func (o *ocfEncoder) appendHeader(dst []byte) []byte {
	dst = append(dst, ocfMagic[:]...)
	dst = appendAvroLong(dst, 2)
	dst = appendAvroString(dst, "avro.codec")
	dst = appendAvroBytes(dst, []byte(o.codec))
	dst = appendAvroString(dst, "avro.schema")
	dst = appendAvroBytes(dst, []byte(AvroSchema))
	dst = appendAvroLong(dst, 0)
	return append(dst, o.sync[:]...)
}

// nullCompressor stores blocks as they are.
type nullCompressor struct{}

func (nullCompressor) compress(dst, src []byte) []byte { return append(dst, src...) }
func (nullCompressor) close() error                    { return nil }

// deflateCompressor writes raw deflate (RFC 1951, no zlib header), as Avro's deflate codec
// specifies. The flate writer is reset for every block.
type deflateCompressor struct {
	w   *flate.Writer
	out sliceWriter
}

func (d *deflateCompressor) compress(dst, src []byte) []byte {
	d.out.b = dst
	d.w.Reset(&d.out)
	_, _ = d.w.Write(src) // a sliceWriter never fails
	_ = d.w.Close()
	dst, d.out.b = d.out.b, nil
	return dst
}

func (d *deflateCompressor) close() error { return nil }

// sliceWriter is an io.Writer appending to a slice.
type sliceWriter struct{ b []byte }

func (s *sliceWriter) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// snappyCompressor writes a Snappy block followed by the big-endian CRC-32 (IEEE) of the
// uncompressed data, as Avro's snappy codec specifies.
type snappyCompressor struct{}

func (snappyCompressor) compress(dst, src []byte) []byte {
	n := snappy.MaxEncodedLen(len(src))
	if cap(dst)-len(dst) < n+4 {
		grown := make([]byte, len(dst), len(dst)+n+4)
		copy(grown, dst)
		dst = grown
	}
	// With the capacity there, Encode writes into dst's spare room and append moves nothing.
	dst = append(dst, snappy.Encode(dst[len(dst):cap(dst)], src)...)
	return binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(src))
}

func (snappyCompressor) close() error { return nil }

// zstdCompressor writes one Zstandard frame per block.
type zstdCompressor struct {
	enc *zstd.Encoder
}

func (z *zstdCompressor) compress(dst, src []byte) []byte { return z.enc.EncodeAll(src, dst) }
func (z *zstdCompressor) close() error                    { return z.enc.Close() }
