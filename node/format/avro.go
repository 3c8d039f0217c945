package format

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"

	"github.com/flumego/flume/node/event"
)

// AvroSchema is the Avro schema of the records the avrojson, avrodata and avro formats write:
// classic Flume's AvroFlumeEvent (flume-core/src/main/avro/flume.avdl). timestamp is in
// milliseconds; nanos holds the event's full timestamp in nanoseconds.
const AvroSchema = `{"type":"record","name":"AvroFlumeEvent","namespace":"com.cloudera.flume.handlers.avro",` +
	`"fields":[` +
	`{"name":"timestamp","type":"long"},` +
	`{"name":"priority","type":{"type":"enum","name":"Priority","symbols":["FATAL","ERROR","WARN","INFO","DEBUG","TRACE"]}},` +
	`{"name":"body","type":"bytes"},` +
	`{"name":"nanos","type":"long"},` +
	`{"name":"host","type":"string"},` +
	`{"name":"fields","type":{"type":"map","values":"bytes"}}]}`

// avroPriority returns p, or INFO when p is not one of the six priorities: the Avro enum has
// no symbol for anything else, and failing the event would stall the stream for good.
func avroPriority(p event.Priority) event.Priority {
	if !p.Valid() {
		return event.INFO
	}
	return p
}

// appendAvroLong appends v in Avro's binary encoding: zig-zag, then a base-128 varint.
func appendAvroLong(dst []byte, v int64) []byte {
	return binary.AppendUvarint(dst, uint64(v<<1)^uint64(v>>63))
}

// appendAvroBytes appends b as Avro bytes: its length, then its content.
func appendAvroBytes(dst []byte, b []byte) []byte {
	return append(appendAvroLong(dst, int64(len(b))), b...)
}

// appendAvroString appends s as an Avro string, which must be UTF-8: bytes that are not valid
// UTF-8 become U+FFFD.
func appendAvroString(dst []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD") // rare: allocating here is fine
	}
	return append(appendAvroLong(dst, int64(len(s))), s...)
}

// appendAvroEvent appends e as an AvroFlumeEvent record in Avro's binary encoding.
func appendAvroEvent(dst []byte, e *event.Event) []byte {
	dst = appendAvroLong(dst, millis(e.Timestamp))
	dst = appendAvroLong(dst, int64(avroPriority(e.Priority))) // enum: the symbol's index
	dst = appendAvroBytes(dst, e.Body)
	dst = appendAvroLong(dst, e.Timestamp)
	dst = appendAvroString(dst, e.Host)
	// A map is written as blocks of entries ended by an empty block; one block holds them all.
	attrs := e.AttrList()
	if len(attrs) > 0 {
		dst = appendAvroLong(dst, int64(len(attrs)))
		for _, a := range attrs {
			dst = appendAvroString(dst, a.Key)
			dst = appendAvroBytes(dst, a.Value)
		}
	}
	return appendAvroLong(dst, 0)
}
