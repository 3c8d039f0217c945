package seqfile

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/flumego/flume/node/event"
)

// The classes of classic Flume's records.
const (
	// EventKeyClass is the key class of Flume's sequence files: 16 bytes, the event's
	// timestamp in milliseconds (big-endian) then eight zero bytes.
	EventKeyClass = "com.cloudera.flume.handlers.hdfs.WriteableEventKey"
	// EventValueClass is the value class: the event itself (AppendWriteableEvent).
	EventValueClass = "com.cloudera.flume.handlers.hdfs.WriteableEvent"
)

// eventKeyLen is the length of a WriteableEventKey.
const eventKeyLen = 16

// Timestamps. An event's Timestamp is in nanoseconds; classic Flume kept milliseconds and a
// separate nanosecond counter. The writer puts Timestamp/1e6 (rounded down) where classic put
// its milliseconds, in keys and values, and the whole Timestamp where it put its nanos.

// millis is ts in milliseconds, rounded towards minus infinity.
func millis(ts int64) int64 {
	ms := ts / 1e6
	if ts%1e6 < 0 {
		ms--
	}
	return ms
}

// AppendWriteableEventKey appends the WriteableEventKey of e: its timestamp in milliseconds
// as a big-endian int64, then eight zero bytes.
func AppendWriteableEventKey(dst []byte, e *event.Event) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(millis(e.Timestamp)))
	return append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
}

// DecodeWriteableEventKey returns the milliseconds of a WriteableEventKey.
func DecodeWriteableEventKey(b []byte) (int64, error) {
	if len(b) != eventKeyLen {
		return 0, fmt.Errorf("%w: event key of %d bytes, want %d", ErrCorrupt, len(b), eventKeyLen)
	}
	if binary.BigEndian.Uint64(b[8:]) != 0 {
		return 0, fmt.Errorf("%w: event key %x does not end in eight zero bytes", ErrCorrupt, b)
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// AppendWriteableEvent appends e as classic Flume's WriteableEvent.write serializes it, every
// integer big-endian:
//
//	int32 body length, body
//	int64 timestamp (ms)
//	int32 priority (FATAL=0, ERROR=1, WARN=2, INFO=3, DEBUG=4, TRACE=5)
//	int64 nanos
//	host (DataOutput.writeUTF: uint16 length, modified UTF-8)
//	int32 attribute count, then per attribute: name (writeUTF), int32 value length, value
//
// A priority that is not one of the six is written as INFO. The host and attribute names
// must fit writeUTF's 65535 bytes; if one does not, the error wraps ErrUTFTooLong and dst is
// returned as it was.
func AppendWriteableEvent(dst []byte, e *event.Event) ([]byte, error) {
	start := len(dst)
	if len(e.Body) > math.MaxInt32 {
		return dst, fmt.Errorf("writeable event: %w: body of %d bytes", ErrTooLarge, len(e.Body))
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(e.Body)))
	dst = append(dst, e.Body...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(millis(e.Timestamp)))
	pri := e.Priority
	if !pri.Valid() {
		pri = event.INFO
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(pri))
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.Timestamp))
	var err error
	if dst, err = AppendJavaUTF(dst, e.Host); err != nil {
		return dst[:start], fmt.Errorf("writeable event host: %w", err)
	}
	attrs := e.AttrList()
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(attrs)))
	for _, a := range attrs {
		if dst, err = AppendJavaUTF(dst, a.Key); err != nil {
			return dst[:start], fmt.Errorf("writeable event attribute name: %w", err)
		}
		if len(a.Value) > math.MaxInt32 {
			return dst[:start], fmt.Errorf("writeable event attribute %q: %w", a.Key, ErrTooLarge)
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(a.Value)))
		dst = append(dst, a.Value...)
	}
	return dst, nil
}

// DecodeWriteableEvent decodes a WriteableEvent, the whole of b. The event's Timestamp is the
// nanos field when it falls in the millisecond of the timestamp field (as this package writes
// them), and the timestamp field in nanoseconds otherwise (classic Flume's nanos was a counter
// of its own). The body and attribute values share b's memory.
func DecodeWriteableEvent(b []byte) (*event.Event, error) {
	d := decoder{b: b}
	e := &event.Event{Body: d.bytes(d.int32())}
	ms := d.int64()
	pri := d.int32()
	nanos := d.int64()
	e.Host = d.utf()
	n := d.int32()
	if d.err == nil && (pri < 0 || pri > int32(event.TRACE)) {
		d.fail("priority %d", pri)
	}
	e.Priority = event.Priority(pri)
	for i := int32(0); i < n && d.err == nil; i++ {
		k := d.utf()
		v := d.bytes(d.int32())
		if d.err == nil {
			if err := e.SetAttr(k, v); err != nil {
				d.err = fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
		}
	}
	if d.err == nil && n < 0 {
		d.fail("attribute count %d", n)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d bytes after the event", len(d.b))
	}
	if d.err != nil {
		return nil, fmt.Errorf("writeable event: %w", d.err)
	}
	e.Timestamp = ms * 1e6
	if millis(nanos) == ms {
		e.Timestamp = nanos
	}
	return e, nil
}

// decoder reads big-endian fields; after the first error every read gives zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("field of %d bytes with %d left", n, len(d.b))
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) int32() int32 {
	if p := d.take(4); p != nil {
		return int32(binary.BigEndian.Uint32(p))
	}
	return 0
}

func (d *decoder) int64() int64 {
	if p := d.take(8); p != nil {
		return int64(binary.BigEndian.Uint64(p))
	}
	return 0
}

func (d *decoder) bytes(n int32) []byte { return d.take(int(n)) }

func (d *decoder) utf() string {
	if d.err != nil {
		return ""
	}
	s, n, err := ReadJavaUTF(d.b)
	if err != nil {
		d.err = err
		return ""
	}
	d.b = d.b[n:]
	return s
}
