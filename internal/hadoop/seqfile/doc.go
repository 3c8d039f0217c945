// Package seqfile writes and reads Hadoop SequenceFiles, and holds the seqfile output format:
// classic Flume's records, WriteableEventKey to WriteableEvent, in a SequenceFile.
//
// # The file
//
// Every integer is big-endian. VInt and VLong are Hadoop's WritableUtils encodings (a value
// from -112 to 127 in one byte, otherwise a byte giving sign and length, then the value's
// bytes); Text is a VInt byte length and UTF-8 bytes. A version 6 file is:
//
//	header   "SEQ" 0x06
//	         key class name, value class name           Text each
//	         compressed, block-compressed               one byte each, 0 or 1
//	         codec class name                           Text, only when compressed
//	         metadata: count (int32), name/value pairs  Text each, sorted by name
//	         sync marker                                16 bytes, random per file
//	records  uncompressed or record-compressed files:
//	           record length (int32: key + value), key length (int32), key, value
//	           (the value is one unit of the codec when record-compressed)
//	           a sync entry, int32 -1 and the 16-byte marker, before the first record that
//	           starts 2000 bytes or more after the last sync entry (or the start of the file)
//	blocks   block-compressed files, each:
//	           sync entry, record count (VInt),
//	           then key lengths (VInts), keys, value lengths (VInts), values:
//	           each buffer compressed as one unit of the codec, preceded by its compressed
//	           length (VInt)
//
// A unit of the codec is what Hadoop's CompressionOutputStream writes between resetState and
// finish, a whole stream of the codec: see package codec. (Hadoop's SequenceFile takes
// GzipCodec only with its native zlib, which writes a gzip member per unit, as here.)
//
// Keys and values are serialized Writables, raw bytes to this package. Classic Flume's are
// WriteableEventKey, 16 bytes, the event's timestamp in milliseconds then eight zero bytes,
// and WriteableEvent (see AppendWriteableEvent), whose host and attribute names are Java
// modified UTF-8 (DataOutput.writeUTF).
//
// # What is supported
//
// The Writer writes version 6 files of the three kinds with any codec of package codec. A
// block ends on Flush or once 1,000,000 bytes of keys and values are pending (Hadoop's
// io.seqfile.compress.blocksize). Sync entries follow Hadoop's SYNC_INTERVAL of 2000 bytes
// (Hadoop 3 writes one every 100 KB instead; readers accept both). The Reader reads version 6 files only, and is strict: it rejects what
// Hadoop's writer would not write (a sync marker that is not the header's, two sync entries
// in a row, a block without records or without its sync entry, lengths that disagree, a VInt
// longer than it needs to be, metadata out of order, compressed bytes that are not units of
// the codec) and a file that ends inside a record or block. It does not seek to sync
// markers or read splits.
package seqfile

import "errors"

var (
	// ErrCorrupt is wrapped by the errors of a reader or decoder for data that is not what a
	// Hadoop writer writes.
	ErrCorrupt = errors.New("corrupt sequence file")
	// ErrVersion is returned by NewReader for a file of a version other than 6.
	ErrVersion = errors.New("unsupported sequence file version")
	// ErrConfig is returned for a Writer or Format configured inconsistently.
	ErrConfig = errors.New("bad sequence file configuration")
	// ErrClosed is returned by a Writer used after Close.
	ErrClosed = errors.New("sequence file writer closed")
	// ErrTooLarge is returned for a record or field longer than its 32-bit length can say.
	ErrTooLarge = errors.New("too large for a sequence file record")
	// ErrUTFTooLong is returned for a string whose modified UTF-8 encoding passes the 65535
	// bytes of Java's writeUTF (an event's host or attribute name).
	ErrUTFTooLong = errors.New("string too long for writeUTF")
)
