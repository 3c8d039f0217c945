package seqfile

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// Hadoop's WritableUtils variable-length integers. A value from -112 to 127 is one byte.
// Otherwise a first byte says the sign and the number of bytes that follow (1 to 8): -113 to
// -120 for a positive value of 1 to 8 bytes, -121 to -128 for a negative one, which is stored
// complemented; the bytes follow big-endian, as few as the value needs.

// AppendVLong appends v as WritableUtils.writeVLong does.
func AppendVLong(dst []byte, v int64) []byte {
	if v >= -112 && v <= 127 {
		return append(dst, byte(v))
	}
	first := -112
	if v < 0 {
		v = ^v
		first = -120
	}
	n := 0
	for t := v; t != 0; t >>= 8 {
		n++
	}
	dst = append(dst, byte(first-n))
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// AppendVInt appends v as WritableUtils.writeVInt does (the same encoding as a VLong).
func AppendVInt(dst []byte, v int32) []byte { return AppendVLong(dst, int64(v)) }

// ReadVLong decodes a VLong at the start of b and returns it and its length. It rejects a
// value written in more bytes than it needs, which Hadoop's writer never does.
func ReadVLong(b []byte) (int64, int, error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("%w: vlong: no bytes", ErrCorrupt)
	}
	first := int8(b[0])
	if first >= -112 {
		return int64(first), 1, nil
	}
	neg := first < -120
	n := int(-112 - int(first)) // -113 .. -120: 1 .. 8 bytes
	if neg {
		n = int(-120 - int(first))
	}
	if len(b) < 1+n {
		return 0, 0, fmt.Errorf("%w: vlong: %d bytes announced, %d there", ErrCorrupt, n, len(b)-1)
	}
	var v int64
	for _, c := range b[1 : 1+n] {
		v = v<<8 | int64(c)
	}
	if b[1] == 0 || (!neg && v <= 127) || (neg && v < 112) {
		return 0, 0, fmt.Errorf("%w: vlong: value %d not in its shortest form", ErrCorrupt, v)
	}
	if neg {
		v = ^v
	}
	return v, 1 + n, nil
}

// ReadVInt decodes a VInt, a VLong that must fit in 32 bits.
func ReadVInt(b []byte) (int32, int, error) {
	v, n, err := ReadVLong(b)
	if err != nil {
		return 0, 0, err
	}
	if v < -1<<31 || v > 1<<31-1 {
		return 0, 0, fmt.Errorf("%w: vint: %d does not fit in 32 bits", ErrCorrupt, v)
	}
	return int32(v), n, nil
}

// AppendText appends s as a Hadoop Text: a VInt byte length, then the UTF-8 bytes.
func AppendText(dst []byte, s string) []byte {
	dst = AppendVInt(dst, int32(len(s)))
	return append(dst, s...)
}

// ReadText decodes a Text at the start of b and returns its bytes and the length read.
func ReadText(b []byte) ([]byte, int, error) {
	l, n, err := ReadVInt(b)
	if err != nil {
		return nil, 0, err
	}
	if l < 0 || int(l) > len(b)-n {
		return nil, 0, fmt.Errorf("%w: text of %d bytes with %d left", ErrCorrupt, l, len(b)-n)
	}
	return b[n : n+int(l)], n + int(l), nil
}

// maxUTF is the most bytes Java's DataOutput.writeUTF writes: its length is 16 bits.
const maxUTF = 65535

// AppendJavaUTF appends s as Java's DataOutput.writeUTF does: a big-endian 16-bit byte length,
// then the string in modified UTF-8. Modified UTF-8 codes each UTF-16 unit on its own: NUL is
// 0xC0 0x80 (never a zero byte), and a character outside the Basic Multilingual Plane is its
// two surrogates, three bytes each. Bytes of s that are not UTF-8 stand for U+FFFD, as Java's
// decoding of such bytes into a String gives. A string whose encoding passes 65535 bytes is
// an error wrapping ErrUTFTooLong, as writeUTF throws.
func AppendJavaUTF(dst []byte, s string) ([]byte, error) {
	n := javaUTFLen(s)
	if n > maxUTF {
		return dst, fmt.Errorf("%w: %d bytes in modified UTF-8", ErrUTFTooLong, n)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	for _, r := range s { // invalid bytes come as utf8.RuneError, U+FFFD
		switch {
		case r >= 1 && r <= 0x7f:
			dst = append(dst, byte(r))
		case r <= 0x7ff: // NUL included
			dst = append(dst, 0xc0|byte(r>>6), 0x80|byte(r&0x3f))
		case r <= 0xffff:
			dst = appendUTF3(dst, r)
		default:
			hi, lo := utf16.EncodeRune(r)
			dst = appendUTF3(appendUTF3(dst, hi), lo)
		}
	}
	return dst, nil
}

func appendUTF3(dst []byte, u rune) []byte {
	return append(dst, 0xe0|byte(u>>12), 0x80|byte(u>>6&0x3f), 0x80|byte(u&0x3f))
}

// javaUTFLen is the length of s in modified UTF-8.
func javaUTFLen(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case r >= 1 && r <= 0x7f:
			n++
		case r <= 0x7ff:
			n += 2
		case r <= 0xffff:
			n += 3
		default:
			n += 6
		}
	}
	return n
}

// ReadJavaUTF decodes what DataOutput.writeUTF wrote at the start of b and returns the string
// and the length read. It rejects what DataInput.readUTF rejects: a truncated string, a byte
// that starts no sequence, a sequence whose continuation bytes are not 10xxxxxx. A surrogate
// without its pair, which a Go string cannot hold, becomes U+FFFD.
func ReadJavaUTF(b []byte) (string, int, error) {
	if len(b) < 2 {
		return "", 0, fmt.Errorf("%w: modified UTF-8 length: %d bytes left", ErrCorrupt, len(b))
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b)-2 < n {
		return "", 0, fmt.Errorf("%w: modified UTF-8 of %d bytes with %d left", ErrCorrupt, n, len(b)-2)
	}
	p := b[2 : 2+n]
	units := make([]uint16, 0, n)
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c < 0x80:
			units = append(units, uint16(c))
			i++
		case c>>5 == 0x6: // 110xxxxx 10xxxxxx
			if i+1 >= len(p) || p[i+1]>>6 != 2 {
				return "", 0, fmt.Errorf("%w: bad modified UTF-8 at byte %d", ErrCorrupt, i)
			}
			units = append(units, uint16(c&0x1f)<<6|uint16(p[i+1]&0x3f))
			i += 2
		case c>>4 == 0xe: // 1110xxxx 10xxxxxx 10xxxxxx
			if i+2 >= len(p) || p[i+1]>>6 != 2 || p[i+2]>>6 != 2 {
				return "", 0, fmt.Errorf("%w: bad modified UTF-8 at byte %d", ErrCorrupt, i)
			}
			units = append(units, uint16(c&0xf)<<12|uint16(p[i+1]&0x3f)<<6|uint16(p[i+2]&0x3f))
			i += 3
		default:
			return "", 0, fmt.Errorf("%w: bad modified UTF-8 byte %#x at %d", ErrCorrupt, c, i)
		}
	}
	out := make([]byte, 0, n)
	for _, r := range utf16.Decode(units) {
		out = utf8.AppendRune(out, r)
	}
	return string(out), 2 + n, nil
}
