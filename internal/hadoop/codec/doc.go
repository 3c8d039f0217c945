// Package codec writes and reads the files of Hadoop's compression codecs, so that what a
// collector writes can be read by Hadoop (TextInputFormat, `hadoop fs -text`, SequenceFile
// readers) and by the usual command-line tools.
//
// A collector appends to a file one unit per write: a unit is what a Hadoop
// CompressionOutputStream writes from its creation (or resetState) to finish, a complete
// compressed stream of its own. A file cut after any unit is valid, and a file of several
// units reads as the concatenation of their contents, for Hadoop and for the tools:
//
//	codec           class name (org.apache.hadoop.io.compress.*)  ext        one unit is
//	gzip            GzipCodec                                      .gz        a gzip member (RFC 1952)
//	deflate         DefaultCodec                                   .deflate   a zlib stream (RFC 1950)
//	bzip2           BZip2Codec                                     .bz2       a bzip2 stream, level 9
//	zstd            ZStandardCodec                                 .zst       a Zstandard frame, level 3
//	snappy          SnappyCodec                                    .snappy    a Hadoop Snappy block (below)
//
// Lookup also takes "gz", "zlib", "default", "bz2", "zstandard", the class names with or
// without their package (and DeflateCodec, Hadoop's other name for DefaultCodec), in any
// case, and "None" or "" for no compression.
//
// # Snappy
//
// Hadoop's SnappyCodec does not use the Snappy framing format (no stream identifier, no
// CRCs): its BlockCompressorStream writes blocks. A block is the uncompressed length of the
// block, a 4-byte big-endian integer, then one or more chunks, each a 4-byte big-endian
// compressed length and that many bytes of raw Snappy data (a varint of the chunk's
// uncompressed length, then literals and copies). The chunks' uncompressed lengths add up to
// the block's. Hadoop gives the compressor at most its buffer size (256 KiB) less the room it
// keeps for Snappy's expansion (256 KiB / 6 + 32), so each chunk holds at most 218,422 bytes
// of input; a unit here is one block with as many chunks as that takes. The 18 bytes
// "hello hello hello!" are written as:
//
//	00 00 00 12         block: 18 bytes uncompressed
//	00 00 00 14         chunk: 20 bytes of Snappy data follow
//	12                  Snappy: 18 bytes uncompressed (varint)
//	44                  Snappy: a literal of 18 bytes ((18-1)<<2, tag 00)
//	68 65 6c 6c 6f ...  "hello hello hello!"
//
// Hadoop's reader takes a block of length zero as the end of the stream, so AppendUnit writes
// nothing at all for an empty input.
//
// # What is and is not supported
//
// Encoders use fixed levels, Hadoop's defaults: the default deflate level for gzip and
// deflate, 9 for bzip2 (900 kB blocks; a shorter unit declares the smallest block size that
// holds it, which spares its readers memory), 3 for Zstandard. Readers take files written by any
// writer of these formats, including Hadoop's, with any number of units. LZO and LZ4 are not
// provided, nor reading a split of a bzip2 file.
package codec
