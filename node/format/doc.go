// Package format holds the output formats of classic Flume: how a sink that writes a byte
// stream (console, text, the collector's bucket files) turns events into bytes.
//
// A spec names a format as a function argument of the sink, `console(json)`,
// `text("/tmp/x", avrodata("deflate"))`, or in the older string form `console("json")`. Register
// adds them all to a plugin.Registry:
//
//	default            the body and a newline (classic's default is the raw format)
//	raw                the body and a newline
//	debug              classic Event.toString(): host [PRIORITY date] { k : v } ... escaped body
//	json               {"body":..,"timestamp":ms,"pri":..,"nanos":ns,"host":..,"fields":{..}}
//	log4j              2010-03-04T05:06:07:-08:00 INFO log4j: escaped body
//	syslog[(year)]     Mar 04 05:06:07 host [service: ]body
//	avrojson           the Avro JSON encoding of an AvroFlumeEvent, one per line
//	avrodata[(codec[, level])]
//	                   an Avro object container file of AvroFlumeEvent records
//	avro               an Avro object container file without compression
//
// Every text format ends each event with "\n". Dates are rendered in the local time zone
// (time.Local when the encoder is made), as classic Flume used the JVM's default zone, with
// English month and day names.
//
// Timestamps: an event's Timestamp is in unix nanoseconds. Where classic Flume wrote its
// millisecond timestamp, these formats write Timestamp/1e6 (rounded down); where it wrote its
// separate nanos counter, they write the full Timestamp in nanoseconds.
//
// Text. Bodies and attribute values are bytes. The JSON formats must produce valid UTF-8: json
// writes them as text and replaces every byte that is not part of valid UTF-8 with U+FFFD, as
// classic's new String(bytes) did; avrojson writes Avro bytes as the Avro JSON encoding
// prescribes (each byte a code point from U+0000 to U+00FF), which loses nothing. debug and log4j
// escape the body as Java's StringEscapeUtils.escapeJava did. raw and syslog write the bytes as
// they are.
//
// Encoders are made per stream and used from one goroutine; a Format is immutable and may make
// encoders concurrently. Text encoders write one whole line per Write call to the writer they
// were given and buffer nothing, so their Flush does nothing: the sink buffers (a bufio.Writer)
// and flushes its own buffer. The Avro container encoder buffers a block and writes it on Flush,
// Close, or when the block reaches 64 KiB.
package format

import "errors"

var (
	// ErrClosed is returned by an encoder used after Close.
	ErrClosed = errors.New("encoder closed")
	// ErrNilWriter is returned by NewEncoder when it is given no writer.
	ErrNilWriter = errors.New("nil writer")
)
