package codec

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/flumego/flume/node/spec"
)

var (
	// ErrUnknownCodec is returned by Lookup for a name that is no codec.
	ErrUnknownCodec = errors.New("unknown compression codec")
	// ErrCorrupt is returned by a reader for input that is not a valid concatenation of units.
	ErrCorrupt = errors.New("corrupt compressed data")
	// ErrTooLarge is returned by AppendUnit for an input its framing cannot describe (Snappy
	// block lengths are 32-bit signed).
	ErrTooLarge = errors.New("input too large for one compressed unit")
)

// Codec compresses with one of Hadoop's compression codecs, in the format that codec's
// streams read and write.
//
// A Codec is immutable and safe for concurrent use: AppendUnit may be called from several
// goroutines at once, and each reader it makes is independent. AppendUnit keeps its
// compressors in a pool, so a call costs no allocation of compressor state once the pool is
// warm.
type Codec interface {
	// Name is the simple name of the Hadoop class: "GzipCodec".
	Name() string
	// Class is the full name of the Hadoop class, as a SequenceFile header names its codec:
	// "org.apache.hadoop.io.compress.GzipCodec".
	Class() string
	// Ext is Hadoop's default file extension for the codec, with its dot: ".gz".
	Ext() string
	// AppendUnit appends to dst one self-contained compressed unit holding src and returns
	// the extended slice: what the codec's output stream writes between its creation (or
	// resetState) and finish. A file of units written one after another is valid after
	// every unit, and reads back as the concatenation of their inputs. AppendUnit does not
	// keep src or dst. An empty src still gives a complete unit (an empty gzip member, an
	// empty bzip2 stream), except for SnappyCodec, where it gives nothing: an empty block
	// would end the stream for Hadoop's reader.
	AppendUnit(dst, src []byte) ([]byte, error)
	// NewReader returns a reader of the uncompressed content of r, a whole file: zero or
	// more units, one after another, possibly written by Hadoop or another tool. It reads r
	// to its end and fails on anything that is not such a file, with the decoder's own error
	// (gzip.ErrChecksum, a bzip2.StructuralError, ...) or one wrapping ErrCorrupt. Close
	// releases the reader's resources; it does not close r.
	NewReader(r io.Reader) (io.ReadCloser, error)
}

// The codecs, one value each, shared by every caller.
var (
	gzipC    Codec = newGzipCodec()
	deflateC Codec = newDeflateCodec()
	bzip2C   Codec = newBzip2Codec()
	zstdC    Codec = &zstdCodec{}
	snappyC  Codec = snappyCodec{}
)

// Codecs returns every codec, in the order of their short names in Names.
func Codecs() []Codec { return []Codec{gzipC, deflateC, bzip2C, zstdC, snappyC} }

// Names returns the short names Lookup accepts for each codec, then "None".
func Names() []string { return []string{"gzip", "deflate", "bzip2", "zstd", "snappy", "None"} }

// aliases maps every accepted name, lower case, to its codec; nil means no compression.
var aliases = map[string]Codec{
	"": nil, "none": nil,
	"gzip": gzipC, "gz": gzipC, "gzipcodec": gzipC,
	"deflate": deflateC, "zlib": deflateC, "default": deflateC, "defaultcodec": deflateC, "deflatecodec": deflateC,
	"bzip2": bzip2C, "bz2": bzip2C, "bzip2codec": bzip2C,
	"zstd": zstdC, "zstandard": zstdC, "zstandardcodec": zstdC,
	"snappy": snappyC, "snappycodec": snappyC,
}

// classPrefix is the package of Hadoop's codecs.
const classPrefix = "org.apache.hadoop.io.compress."

// Lookup returns the codec a name stands for, ignoring case: a short name ("gzip", "gz",
// "deflate", "zlib", "default", "bzip2", "bz2", "zstd", "zstandard", "snappy"), the simple
// name of the Hadoop class ("GzipCodec", "DefaultCodec", "BZip2Codec", "ZStandardCodec",
// "SnappyCodec") or its full name ("org.apache.hadoop.io.compress.GzipCodec"). "None" and ""
// mean no compression: Lookup returns a nil Codec and no error. Any other name gives an error
// wrapping ErrUnknownCodec that lists the valid names and suggests the closest.
func Lookup(name string) (Codec, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	key = strings.TrimPrefix(key, strings.ToLower(classPrefix))
	if c, ok := aliases[key]; ok {
		return c, nil
	}
	valid := append(Names(), "GzipCodec", "DefaultCodec", "BZip2Codec", "ZStandardCodec", "SnappyCodec")
	hint := ""
	if s := spec.Suggest(key, valid); s != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", s)
	}
	return nil, fmt.Errorf("%w %q%s; valid codecs: %s, or a Hadoop codec class name such as GzipCodec",
		ErrUnknownCodec, name, hint, strings.Join(Names(), ", "))
}

// sliceWriter is an io.Writer appending to a slice; it never fails.
type sliceWriter struct{ b []byte }

func (s *sliceWriter) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}
