package format

import (
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Text escaping and date rendering shared by the formats. Every function appends to dst and
// returns the extended slice, so encoders reuse one buffer and allocate nothing per event.

// bytestring is the text the escapers accept: event bodies and attribute values ([]byte) and
// hosts and attribute names (string), without converting one into the other.
type bytestring interface{ ~string | ~[]byte }

const hexUpper = "0123456789ABCDEF"

// decodeRune decodes the UTF-8 sequence at the start of s (which is not empty). An invalid
// byte decodes as (utf8.RuneError, 1).
func decodeRune[T bytestring](s T) (rune, int) {
	var tmp [utf8.UTFMax]byte
	n := copy(tmp[:], s)
	return utf8.DecodeRune(tmp[:n])
}

// plainASCII marks the bytes both escapeJava and a JSON string write as they are: printable
// ASCII (and DEL) other than the quote and the backslash.
var plainASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// SWAR constants: one bit or one byte value in each byte of a 64-bit word.
const (
	lsbs = 0x0101010101010101
	msbs = 0x8080808080808080
)

// plainPrefix returns how many leading bytes of s are plainASCII. Log lines are mostly plain
// ASCII, so it tests eight bytes at a time: a byte is not plain if its top bit is set, if it
// is below 0x20, or if it equals '"' or '\\' (the classic "has zero byte" tests; a borrow can
// only flag bytes above one that really matches, which does not change the answer).
func plainPrefix[T bytestring](s T) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		q := w ^ ('"' * lsbs)
		b := w ^ ('\\' * lsbs)
		special := w | (w-0x20*lsbs)&^w | (q-lsbs)&^q | (b-lsbs)&^b
		if special&msbs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || !plainASCII[c] {
			break
		}
	}
	return i
}

// appendJavaEscaped appends s as commons-lang 2 StringEscapeUtils.escapeJava wrote the Java
// string new String(s): quotes and backslashes escaped, \b \t \n \f \r, other control
// characters and everything above U+007F as \uXXXX (upper-case hex, UTF-16 code units, so a
// character outside the BMP becomes a surrogate pair). A byte that is not valid UTF-8 is
// U+FFFD, as Java's decoder made it.
func appendJavaEscaped[T bytestring](dst []byte, s T) []byte {
	for {
		n := plainPrefix(s)
		dst = append(dst, s[:n]...)
		if n == len(s) {
			return dst
		}
		if c := s[n]; c < utf8.RuneSelf {
			dst = appendControl(dst, c)
			s = s[n+1:]
		} else {
			r, size := decodeRune(s[n:])
			dst = appendJavaRune(dst, r)
			s = s[n+size:]
		}
	}
}

// appendControl escapes an ASCII control character, a quote or a backslash. Java and JSON
// (as Jackson writes it) escape them alike.
func appendControl(dst []byte, c byte) []byte {
	switch c {
	case '"':
		return append(dst, '\\', '"')
	case '\\':
		return append(dst, '\\', '\\')
	case '\b':
		return append(dst, '\\', 'b')
	case '\t':
		return append(dst, '\\', 't')
	case '\n':
		return append(dst, '\\', 'n')
	case '\f':
		return append(dst, '\\', 'f')
	case '\r':
		return append(dst, '\\', 'r')
	}
	return appendU4(dst, rune(c))
}

// appendJavaRune escapes a non-ASCII character as one or two \uXXXX.
func appendJavaRune(dst []byte, r rune) []byte {
	if r > 0xFFFF {
		hi, lo := utf16.EncodeRune(r)
		return appendU4(appendU4(dst, hi), lo)
	}
	return appendU4(dst, r)
}

// appendU4 appends \uXXXX with upper-case hex digits.
func appendU4(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u',
		hexUpper[r>>12&0xF], hexUpper[r>>8&0xF], hexUpper[r>>4&0xF], hexUpper[r&0xF])
}

// appendJSONText appends s as a quoted JSON string of the text s holds, escaping as Jackson
// did (\" \\ \b \t \n \f \r, other controls as \u00XX) and writing other characters as UTF-8.
// A byte that is not part of valid UTF-8 becomes U+FFFD.
func appendJSONText[T bytestring](dst []byte, s T) []byte {
	dst = append(dst, '"')
	for {
		n := plainPrefix(s)
		dst = append(dst, s[:n]...)
		if n == len(s) {
			return append(dst, '"')
		}
		if c := s[n]; c < utf8.RuneSelf {
			dst = appendControl(dst, c)
			s = s[n+1:]
			continue
		}
		r, size := decodeRune(s[n:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, s[n:n+size]...)
		}
		s = s[n+size:]
	}
}

// appendJSONLatin1 appends s as a quoted JSON string whose code points are the bytes of s,
// U+0000 to U+00FF: the Avro JSON encoding of bytes. Nothing is lost.
func appendJSONLatin1(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	for {
		n := plainPrefix(s)
		dst = append(dst, s[:n]...)
		if n == len(s) {
			return append(dst, '"')
		}
		if c := s[n]; c < utf8.RuneSelf {
			dst = appendControl(dst, c)
		} else {
			dst = append(dst, 0xC0|c>>6, 0x80|c&0x3F)
		}
		s = s[n+1:]
	}
}

// isPrintable reports whether v is valid UTF-8 text without control characters.
func isPrintable(v []byte) bool {
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7F {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(v[i:])
		if r == utf8.RuneError && size == 1 || r >= 0x80 && r < 0xA0 {
			return false
		}
		i += size
	}
	return true
}

// appendBytesEscaped appends v with its valid characters as they are, control characters
// escaped as Java does, and each byte that is not valid UTF-8 as \xNN.
func appendBytesEscaped(dst []byte, v []byte) []byte {
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7F {
				dst = appendControl(dst, c)
			} else {
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(v[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, '\\', 'x', hexUpper[c>>4], hexUpper[c&0xF])
		case r < 0xA0:
			dst = appendU4(dst, r)
		default:
			dst = append(dst, v[i:i+size]...)
		}
		i += size
	}
	return dst
}

// floorDiv divides rounding toward minus infinity, so an instant before 1970 still falls in
// the second (or millisecond) that contains it.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// millis returns a unix-nanosecond timestamp in milliseconds.
func millis(ts int64) int64 { return floorDiv(ts, int64(time.Millisecond)) }

// dateCache renders a timestamp with a layout of one-second resolution, remembering the last
// second it rendered: events of a batch mostly share their second, and formatting a date costs
// more than the rest of a line.
type dateCache struct {
	loc    *time.Location
	layout string
	sec    int64
	valid  bool
	text   []byte
}

func newDateCache(loc *time.Location, layout string) dateCache {
	return dateCache{loc: loc, layout: layout, text: make([]byte, 0, 40)}
}

// appendDate appends the unix-nanosecond timestamp ts rendered with the cache's layout.
func (c *dateCache) appendDate(dst []byte, ts int64) []byte {
	sec := floorDiv(ts, int64(time.Second))
	if !c.valid || sec != c.sec {
		c.text = time.Unix(sec, 0).In(c.loc).AppendFormat(c.text[:0], c.layout)
		c.sec, c.valid = sec, true
	}
	return append(dst, c.text...)
}

// appendInt appends n in decimal.
func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }
