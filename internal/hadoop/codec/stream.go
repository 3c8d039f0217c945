package codec

import (
	"bufio"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"

	hbzip2 "github.com/flumego/flume/internal/hadoop/bzip2"
)

// resettable is a stream compressor that can start a new stream on another writer: gzip's and
// zlib's.
type resettable interface {
	io.WriteCloser
	Reset(io.Writer)
}

// pooledUnits compresses each unit as one whole stream of a resettable compressor, keeping
// compressors (and their state) in a pool.
type pooledUnits struct {
	name  string // for errors
	newer func(io.Writer) resettable
	pool  sync.Pool
}

type unitState struct {
	w   resettable
	out sliceWriter
}

func (u *pooledUnits) appendUnit(dst, src []byte) ([]byte, error) {
	st, _ := u.pool.Get().(*unitState)
	if st == nil {
		st = &unitState{}
		st.w = u.newer(&st.out)
	}
	st.out.b = dst
	st.w.Reset(&st.out)
	_, err := st.w.Write(src)
	if cerr := st.w.Close(); err == nil {
		err = cerr
	}
	dst, st.out.b = st.out.b, nil
	u.pool.Put(st)
	if err != nil {
		return dst, fmt.Errorf("%s unit: %w", u.name, err)
	}
	return dst, nil
}

// gzipCodec writes each unit as one gzip member (RFC 1952) at zlib's default level, as
// Hadoop's GzipCodec does with the native zlib; its reader reads any number of members.
type gzipCodec struct{ units pooledUnits }

func newGzipCodec() *gzipCodec {
	return &gzipCodec{units: pooledUnits{name: "gzip", newer: func(w io.Writer) resettable { return gzip.NewWriter(w) }}}
}

func (*gzipCodec) Name() string  { return "GzipCodec" }
func (*gzipCodec) Class() string { return classPrefix + "GzipCodec" }
func (*gzipCodec) Ext() string   { return ".gz" }

func (c *gzipCodec) AppendUnit(dst, src []byte) ([]byte, error) { return c.units.appendUnit(dst, src) }

func (*gzipCodec) NewReader(r io.Reader) (io.ReadCloser, error) {
	return unlessEmpty(r, func(br *bufio.Reader) (io.ReadCloser, error) {
		z, err := gzip.NewReader(br) // reads every member, one after another
		if err != nil {
			return nil, fmt.Errorf("gzip: %w: %w", ErrCorrupt, err)
		}
		return z, nil
	})
}

// deflateCodec is Hadoop's DefaultCodec: each unit is one zlib stream (RFC 1950: a two-byte
// header, deflate data, the Adler-32 of the content).
type deflateCodec struct{ units pooledUnits }

func newDeflateCodec() *deflateCodec {
	return &deflateCodec{units: pooledUnits{name: "zlib", newer: func(w io.Writer) resettable { return zlib.NewWriter(w) }}}
}

func (*deflateCodec) Name() string  { return "DefaultCodec" }
func (*deflateCodec) Class() string { return classPrefix + "DefaultCodec" }
func (*deflateCodec) Ext() string   { return ".deflate" }

func (c *deflateCodec) AppendUnit(dst, src []byte) ([]byte, error) {
	return c.units.appendUnit(dst, src)
}

func (*deflateCodec) NewReader(r io.Reader) (io.ReadCloser, error) {
	return unlessEmpty(r, func(br *bufio.Reader) (io.ReadCloser, error) {
		z, err := zlib.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("zlib: %w: %w", ErrCorrupt, err)
		}
		return &zlibStreams{br: br, z: z}, nil
	})
}

// zlibStreams reads zlib streams one after another. The zlib reader reads from a
// bufio.Reader, an io.ByteReader, so it stops at the end of its stream and the next one can
// be detected.
type zlibStreams struct {
	br *bufio.Reader
	z  io.ReadCloser
}

func (s *zlibStreams) Read(p []byte) (int, error) {
	for {
		n, err := s.z.Read(p)
		if err != io.EOF {
			return n, err
		}
		if _, perr := s.br.Peek(1); perr != nil {
			if perr == io.EOF {
				return n, io.EOF
			}
			return n, perr
		}
		if rerr := s.z.(zlib.Resetter).Reset(s.br, nil); rerr != nil {
			return n, fmt.Errorf("zlib: %w: %w", ErrCorrupt, rerr)
		}
		if n > 0 {
			return n, nil
		}
	}
}

func (s *zlibStreams) Close() error { return s.z.Close() }

// bzip2Codec is Hadoop's BZip2Codec: each unit is one complete bzip2 stream at level 9
// (900 kB blocks), Hadoop's default, or less for a unit that fits smaller blocks. Encoders are pooled: each keeps its sorting memory.
type bzip2Codec struct{ pool sync.Pool }

func newBzip2Codec() *bzip2Codec {
	c := &bzip2Codec{}
	c.pool.New = func() any {
		e, err := hbzip2.NewEncoder(hbzip2.DefaultLevel)
		if err != nil {
			panic(err) // the default level is valid
		}
		return e
	}
	return c
}

func (*bzip2Codec) Name() string  { return "BZip2Codec" }
func (*bzip2Codec) Class() string { return classPrefix + "BZip2Codec" }
func (*bzip2Codec) Ext() string   { return ".bz2" }

func (c *bzip2Codec) AppendUnit(dst, src []byte) ([]byte, error) {
	e := c.pool.Get().(*hbzip2.Encoder)
	dst = e.AppendStream(dst, src)
	c.pool.Put(e)
	return dst, nil
}

func (*bzip2Codec) NewReader(r io.Reader) (io.ReadCloser, error) {
	return unlessEmpty(r, func(br *bufio.Reader) (io.ReadCloser, error) {
		// compress/bzip2 reads concatenated streams.
		return io.NopCloser(bzip2.NewReader(br)), nil
	})
}

// maxZstdEncoders bounds the memory the shared Zstandard encoder keeps.
const maxZstdEncoders = 8

// zstdCodec is Hadoop's ZStandardCodec: each unit is one Zstandard frame at the default
// level (3). One encoder serves every goroutine: EncodeAll may be called concurrently.
type zstdCodec struct {
	once sync.Once
	enc  *zstd.Encoder
	err  error
}

func (*zstdCodec) Name() string  { return "ZStandardCodec" }
func (*zstdCodec) Class() string { return classPrefix + "ZStandardCodec" }
func (*zstdCodec) Ext() string   { return ".zst" }

func (c *zstdCodec) AppendUnit(dst, src []byte) ([]byte, error) {
	c.once.Do(func() {
		// Zero frames: an empty input still gives a frame, so every unit is a frame. The
		// window is zstd level 3's own, 2 MB: the default, 8 MB, gains nothing on units of
		// a few hundred kB and triples each encoder's memory (about 6 MB with 2 MB). At most
		// maxZstdEncoders units are compressed at once; more callers wait for one.
		c.enc, c.err = zstd.NewWriter(nil, zstd.WithZeroFrames(true), zstd.WithWindowSize(2<<20),
			zstd.WithEncoderConcurrency(min(runtime.GOMAXPROCS(0), maxZstdEncoders)))
	})
	if c.err != nil {
		return dst, fmt.Errorf("zstd unit: %w", c.err)
	}
	return c.enc.EncodeAll(src, dst), nil
}

func (*zstdCodec) NewReader(r io.Reader) (io.ReadCloser, error) {
	// One goroutine: a reader of one file decodes frame after frame in order.
	d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("zstd reader: %w", err)
	}
	return &zstdReader{d: d}, nil
}

type zstdReader struct{ d *zstd.Decoder }

func (z *zstdReader) Read(p []byte) (int, error) { return z.d.Read(p) }

func (z *zstdReader) Close() error {
	z.d.Close()
	return nil
}

// unlessEmpty gives a reader of no bytes for an empty r, a file of no units, and otherwise
// calls open with r buffered.
func unlessEmpty(r io.Reader, open func(*bufio.Reader) (io.ReadCloser, error)) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	if _, err := br.Peek(1); err != nil {
		if errors.Is(err, io.EOF) {
			return io.NopCloser(br), nil
		}
		return nil, err
	}
	return open(br)
}
