package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/klauspost/compress/snappy"
)

// Hadoop's SnappyCodec compresses through a BlockCompressorStream whose buffer is
// io.compression.codec.snappy.buffersize (256 KiB by default), of which it reserves
// bufferSize/6 + 32 bytes for Snappy's worst-case expansion: the rest, 218,422 bytes, is the
// most input one chunk holds.
const (
	snappyBufferSize = 256 << 10
	maxSnappyChunk   = snappyBufferSize - (snappyBufferSize/6 + 32)
)

// maxSnappyRead bounds what the reader allocates for one chunk, compressed or not. Hadoop's
// own reader takes chunks no larger than its 256 KiB buffer; other writers configured with
// larger buffers still fit.
const maxSnappyRead = 64 << 20

// snappyCodec is Hadoop's SnappyCodec: block framing around raw Snappy blocks (see the
// package documentation). Each unit is one block. The codec keeps no state: Snappy's encoder
// needs none beyond its output.
type snappyCodec struct{}

func (snappyCodec) Name() string  { return "SnappyCodec" }
func (snappyCodec) Class() string { return classPrefix + "SnappyCodec" }
func (snappyCodec) Ext() string   { return ".snappy" }

func (snappyCodec) AppendUnit(dst, src []byte) ([]byte, error) {
	if len(src) == 0 {
		return dst, nil // an empty block reads as the end of the stream to Hadoop
	}
	if len(src) > math.MaxInt32 {
		return dst, fmt.Errorf("snappy unit of %d bytes: %w", len(src), ErrTooLarge)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(src)))
	for len(src) > 0 {
		chunk := src[:min(len(src), maxSnappyChunk)]
		src = src[len(chunk):]
		at := len(dst)
		need := 4 + snappy.MaxEncodedLen(len(chunk))
		if cap(dst)-len(dst) < need {
			grown := make([]byte, len(dst), len(dst)+need+len(src)/4)
			copy(grown, dst)
			dst = grown
		}
		dst = dst[:at+4]
		// With the room there, Encode writes into dst's spare capacity and append moves
		// nothing.
		dst = append(dst, snappy.Encode(dst[at+4:cap(dst)], chunk)...)
		binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	}
	return dst, nil
}

func (snappyCodec) NewReader(r io.Reader) (io.ReadCloser, error) {
	return &snappyReader{r: r}, nil
}

// snappyReader reads Hadoop's block framing: blocks of an uncompressed length and chunks
// whose decoded sizes add up to exactly that length. A block of length zero holds no chunk
// and is skipped (Hadoop's reader stops at one; the writer here never writes one).
type snappyReader struct {
	r       io.Reader
	hdr     [4]byte
	pending int64 // uncompressed bytes the current block still owes
	comp    []byte
	buf     []byte // the decoded chunk being served
	pos     int
	err     error
}

func (s *snappyReader) Read(p []byte) (int, error) {
	for s.pos == len(s.buf) {
		if s.err != nil {
			return 0, s.err
		}
		s.err = s.nextChunk()
	}
	n := copy(p, s.buf[s.pos:])
	s.pos += n
	return n, nil
}

// nextChunk decodes the next chunk into s.buf, reading a block header first when the current
// block is complete. It returns io.EOF at the end of the input between blocks.
func (s *snappyReader) nextChunk() error {
	s.buf, s.pos = s.buf[:0], 0
	for s.pending == 0 {
		if _, err := io.ReadFull(s.r, s.hdr[:]); err != nil {
			if err == io.EOF {
				return io.EOF
			}
			return truncated("block length", err)
		}
		n := binary.BigEndian.Uint32(s.hdr[:])
		if n > math.MaxInt32 {
			return fmt.Errorf("snappy: %w: block length %d", ErrCorrupt, n)
		}
		s.pending = int64(n)
	}
	if _, err := io.ReadFull(s.r, s.hdr[:]); err != nil {
		return truncated("chunk length", err)
	}
	clen := binary.BigEndian.Uint32(s.hdr[:])
	if clen == 0 || clen > maxSnappyRead {
		return fmt.Errorf("snappy: %w: chunk length %d", ErrCorrupt, clen)
	}
	s.comp = grow(s.comp, int(clen))
	if _, err := io.ReadFull(s.r, s.comp); err != nil {
		return truncated("chunk", err)
	}
	dlen, err := snappy.DecodedLen(s.comp)
	if err != nil {
		return fmt.Errorf("snappy: %w: %w", ErrCorrupt, err)
	}
	if int64(dlen) > s.pending || dlen > maxSnappyRead {
		return fmt.Errorf("snappy: %w: chunk of %d bytes overruns its block, which has %d left",
			ErrCorrupt, dlen, s.pending)
	}
	buf, err := snappy.Decode(grow(s.buf, dlen), s.comp)
	if err != nil {
		return fmt.Errorf("snappy: %w: %w", ErrCorrupt, err)
	}
	s.buf = buf
	s.pending -= int64(len(buf))
	return nil
}

func (s *snappyReader) Close() error {
	s.comp, s.buf, s.pos, s.err = nil, nil, 0, errors.New("snappy reader closed")
	return nil
}

func truncated(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("snappy: %w: input ends inside a %s", ErrCorrupt, what)
	}
	return fmt.Errorf("snappy: read %s: %w", what, err)
}

// grow returns b with length n, reusing its memory when it is large enough.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
