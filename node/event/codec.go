package event

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The binary encoding of one event, used inside batch and gzip aggregates and by on-disk logs:
//
//	version    1 byte, codecVersion
//	body       uvarint length, bytes
//	timestamp  zig-zag varint, unix nanoseconds
//	priority   1 byte
//	host       uvarint length, bytes
//	attributes uvarint count, then per attribute: uvarint key length, key, uvarint value
//	           length, value; in the order they were set
//
// Every varint is in its shortest form and keys are unique, so an encoding has exactly one
// decoding and re-encodes to the same bytes. Encodings are self-delimiting and may be
// concatenated.

// codecVersion is the first byte of every encoding. A decoder refuses versions it does not know
// instead of guessing, so the layout can change without old logs being misread.
const codecVersion = 1

// ErrCorrupt is wrapped by every error DecodeBinary returns: the input is truncated, carries an
// unknown version, or is not a valid encoding.
var ErrCorrupt = errors.New("corrupt event encoding")

// AppendBinary appends the binary encoding of e to dst and returns the extended slice.
func AppendBinary(dst []byte, e *Event) []byte {
	dst = append(dst, codecVersion)
	dst = binary.AppendUvarint(dst, uint64(len(e.Body)))
	dst = append(dst, e.Body...)
	dst = binary.AppendVarint(dst, e.Timestamp)
	dst = append(dst, byte(e.Priority))
	dst = binary.AppendUvarint(dst, uint64(len(e.Host)))
	dst = append(dst, e.Host...)
	dst = binary.AppendUvarint(dst, uint64(len(e.attrs)))
	for _, a := range e.attrs {
		dst = binary.AppendUvarint(dst, uint64(len(a.Key)))
		dst = append(dst, a.Key...)
		dst = binary.AppendUvarint(dst, uint64(len(a.Value)))
		dst = append(dst, a.Value...)
	}
	return dst
}

// BinarySize returns the length of e's binary encoding, to size a buffer before AppendBinary.
func BinarySize(e *Event) int {
	n := 1 + uvarintLen(uint64(len(e.Body))) + len(e.Body) + varintLen(e.Timestamp) + 1 +
		uvarintLen(uint64(len(e.Host))) + len(e.Host) + uvarintLen(uint64(len(e.attrs)))
	for _, a := range e.attrs {
		n += uvarintLen(uint64(len(a.Key))) + len(a.Key) + uvarintLen(uint64(len(a.Value))) + len(a.Value)
	}
	return n
}

// DecodeBinary decodes the event at the start of b and returns it with the number of bytes it
// took. The body and attribute values of the event alias b: b must not change while the event is
// in use, and a caller that keeps the event past b's life Clones it. Errors wrap ErrCorrupt.
func DecodeBinary(b []byte) (*Event, int, error) {
	e := new(Event)
	n, err := DecodeBinaryInto(e, b)
	if err != nil {
		return nil, 0, err
	}
	return e, n, nil
}

// DecodeBinaryInto is DecodeBinary into an existing event, overwriting all of its fields and
// reusing its attribute storage and, when they are unchanged, its host and key strings; a
// decoder of many events reuses one Event per slot and does not allocate once warm. On error dst
// is left in an unspecified state.
func DecodeBinaryInto(dst *Event, b []byte) (int, error) {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != codecVersion {
		return 0, fmt.Errorf("%w: unknown version %d", ErrCorrupt, v)
	}
	body := d.bytes("body")
	ts := d.varint()
	pri := Priority(d.byte())
	if d.err == nil && !pri.Valid() {
		d.fail("priority %d out of range", pri)
	}
	host := d.bytes("host")
	n := d.uvarint()
	// Each attribute takes at least two bytes, so a count beyond that is a lie: refusing it
	// here keeps a corrupt count from sizing a huge allocation.
	if d.err == nil && n > uint64(len(d.b)-d.off)/2 {
		d.fail("attribute count %d exceeds the %d bytes left", n, len(d.b)-d.off)
	}
	if d.err != nil {
		return 0, d.err
	}
	dst.Body = body
	dst.Timestamp = ts
	dst.Priority = pri
	if dst.Host != string(host) {
		dst.Host = string(host)
	}
	old := dst.attrs
	if cap(old) < int(n) {
		dst.attrs = make([]Attr, 0, n)
	} else {
		dst.attrs = old[:0]
	}
	var seen map[string]struct{} // only for many attributes, where a scan per key would be slow
	if n > manyAttrs {
		seen = make(map[string]struct{}, n)
	}
	for i := 0; i < int(n); i++ {
		key := d.bytes("attribute name")
		val := d.bytes("attribute value")
		if d.err != nil {
			return 0, d.err
		}
		var k string
		if i < len(old) && old[i].Key == string(key) {
			k = old[i].Key // dst.attrs may share old's array: read slot i before it is written
		} else {
			k = string(key)
		}
		if dst.hasKey(k, seen) {
			return 0, fmt.Errorf("%w: attribute %q twice", ErrCorrupt, k)
		}
		dst.attrs = append(dst.attrs, Attr{Key: k, Value: val})
	}
	return d.off, nil
}

// manyAttrs is the attribute count above which the decoder checks for duplicate names with a
// map instead of a scan.
const manyAttrs = 32

// hasKey reports whether key is already among e's attributes, recording it in seen if seen is
// not nil.
func (e *Event) hasKey(key string, seen map[string]struct{}) bool {
	if seen != nil {
		if _, dup := seen[key]; dup {
			return true
		}
		seen[key] = struct{}{}
		return false
	}
	for i := range e.attrs {
		if e.attrs[i].Key == key {
			return true
		}
	}
	return false
}

// decoder reads the encoding with bounds checks; the first error sticks and later reads
// return zero values.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", ErrCorrupt, fmt.Sprintf(format, args...), d.off)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("truncated")
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.fail("truncated")
		return 0
	case n < 0:
		d.fail("varint overflows 64 bits")
		return 0
	case n != uvarintLen(v):
		// A longer form than needed would decode fine but re-encode differently.
		d.fail("varint not in shortest form")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	// Zig-zag, as binary.AppendVarint writes it.
	return int64(u>>1) ^ -int64(u&1)
}

// bytes reads a length-prefixed field. The slice aliases the input and is capped, so appending
// to it cannot overwrite what follows.
func (d *decoder) bytes(what string) []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail("%s of %d bytes exceeds the %d bytes left", what, n, len(d.b)-d.off)
		return nil
	}
	end := d.off + int(n)
	s := d.b[d.off:end:end]
	d.off = end
	return s
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func varintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return uvarintLen(u)
}
