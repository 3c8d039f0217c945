package seqfile

import (
	"fmt"
	"io"

	"github.com/flumego/flume/internal/hadoop/codec"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
)

var _ plugin.Format = (*Format)(nil)

// maxKeptValue is the largest value buffer an encoder keeps between events.
const maxKeptValue = 1 << 20

// Format is the seqfile output format: a SequenceFile of classic Flume's records,
// WriteableEventKey to WriteableEvent. It is immutable; it makes encoders concurrently.
type Format struct {
	codec       codec.Codec
	compression Compression
}

// NewFormat returns the seqfile format for a codec name as codec.Lookup takes it ("bzip2",
// "GzipCodec", ...). With a codec, values are compressed record by record, or in blocks when
// blockCompress is set. "" or "None" means no compression, which block compression cannot go
// with.
func NewFormat(codecName string, blockCompress bool) (*Format, error) {
	c, err := codec.Lookup(codecName)
	if err != nil {
		return nil, fmt.Errorf("seqfile format: %w", err)
	}
	f := &Format{codec: c}
	switch {
	case c == nil && blockCompress:
		return nil, fmt.Errorf("seqfile format: %w: block compression needs a codec", ErrConfig)
	case c == nil:
		f.compression = None
	case blockCompress:
		f.compression = Block
	default:
		f.compression = Record
	}
	return f, nil
}

// Compression returns how the format's files are compressed, and Codec the codec (nil for
// none).
func (f *Format) Compression() Compression { return f.compression }

// Codec returns the format's codec, nil when it does not compress.
func (f *Format) Codec() codec.Codec { return f.codec }

// NewEncoder returns an encoder starting a new file on w. The header is written on the first
// Flush or Close, or once enough records are pending; a file closed with no events is a
// header alone, a valid empty SequenceFile.
func (f *Format) NewEncoder(w io.Writer) (plugin.Encoder, error) {
	sw, err := NewWriter(w, Config{
		KeyClass:    EventKeyClass,
		ValueClass:  EventValueClass,
		Compression: f.compression,
		Codec:       f.codec,
	})
	if err != nil {
		return nil, fmt.Errorf("seqfile encoder: %w", err)
	}
	return &encoder{w: sw}, nil
}

// encoder writes events as records. Flush ends a block of a block-compressed file, so that
// the file can be cut right after it.
type encoder struct {
	w   *Writer
	key []byte
	val []byte
}

// Encode appends e. An event that cannot be a WriteableEvent (a host or attribute name over
// 65535 bytes of modified UTF-8) is refused with an error wrapping ErrUTFTooLong, and the
// file is unchanged: the encoder can go on.
func (c *encoder) Encode(e *event.Event) error {
	var err error
	if c.val, err = AppendWriteableEvent(c.val[:0], e); err != nil {
		return fmt.Errorf("seqfile: %w", err)
	}
	c.key = AppendWriteableEventKey(c.key[:0], e)
	err = c.w.Append(c.key, c.val)
	if cap(c.val) > maxKeptValue {
		c.val = nil
	}
	return err
}

func (c *encoder) Flush() error { return c.w.Flush() }
func (c *encoder) Close() error { return c.w.Close() }
