package syslog

import (
	"bytes"

	"github.com/flumego/flume/node/event"
)

// framing is how a TCP connection separates messages (RFC 6587).
type framing uint8

const (
	// undecided: no byte of the connection has been seen yet.
	undecided framing = iota
	// lines is non-transparent framing: every message ends with '\n' (classic Flume's only
	// framing). A '\r' before the '\n' is dropped too.
	lines
	// octets is octet counting: every message is preceded by its length in decimal and a
	// space. A connection is taken as octet-counted when its first byte is a digit from 1 to
	// 9, which cannot start a syslog message (they start with '<').
	octets
)

// maxLenDigits is the most digits of an octet count: more than a 32-bit size is no length.
const maxLenDigits = 10

// framer cuts the byte stream of one TCP connection into frames, without copying: frames are
// slices of its buffer, valid until the next call to space. The framing is decided by the
// first byte of the stream.
//
// Framing is done here rather than by go-syslog's octetcounting and nontransparent parsers:
// they hand out parsed messages but not the bytes of the frame, which are the event's body
// and what a malformed message keeps, and they give up a connection at its first framing
// error.
//
// A frame longer than the size limit is cut to it (event.Truncate) or dropped
// (event.Reject), and the rest of it is discarded; both are counted. In an octet-counted
// stream, a frame that does not start with a length is taken to end at the next '\n', so that
// a sender that mixes framings, or a garbled length, loses at most one line: the line becomes
// a malformed message.
type framer struct {
	buf    []byte
	r, w   int // the unconsumed window is buf[r:w]
	mode   framing
	max    int
	policy event.OversizePolicy

	// discard is the number of bytes of an oversized octet-counted frame still to drop;
	// skipLine is set while the rest of an oversized line is dropped.
	discard  int
	skipLine bool

	// truncated and rejected count oversized frames since the owner last reset them.
	truncated, rejected int64
}

// readSize is the least a framer's buffer holds. It keeps reads large, and is also what a
// connection costs at rest.
const readSize = 64 << 10

// newFramer returns a framer for frames of at most maxSize bytes (maxSize > 0). Its buffer
// holds more than a whole frame of maxSize bytes with its length, so a line that fills it is
// known to be oversized.
func newFramer(maxSize int, policy event.OversizePolicy) *framer {
	return newFramerSize(readSize, maxSize, policy)
}

// newFramerSize is newFramer with a buffer of at least size bytes.
func newFramerSize(size, maxSize int, policy event.OversizePolicy) *framer {
	return &framer{buf: make([]byte, max(size, maxSize+maxLenDigits+2)), max: maxSize, policy: policy}
}

// space returns the free space after the unconsumed bytes, compacting first. It invalidates
// every frame returned before.
func (f *framer) space() []byte {
	if f.r > 0 {
		n := copy(f.buf, f.buf[f.r:f.w])
		f.r, f.w = 0, n
	}
	return f.buf[f.w:]
}

// wrote records that n bytes were read into the slice space returned.
func (f *framer) wrote(n int) { f.w += n }

// next returns the next complete frame, or ok=false when the buffered bytes hold none.
// Empty frames (blank lines, zero lengths) are skipped.
func (f *framer) next() (frame []byte, ok bool) {
	for f.r < f.w {
		if f.discard > 0 {
			n := min(f.discard, f.w-f.r)
			f.r += n
			f.discard -= n
			continue
		}
		if f.mode == undecided {
			f.mode = lines
			if c := f.buf[f.r]; c >= '1' && c <= '9' {
				f.mode = octets
			}
		}
		var found bool
		if f.mode == octets && !f.skipLine {
			frame, found, ok = f.nextCounted()
		} else {
			frame, found, ok = f.nextLine()
		}
		if !found {
			return nil, false
		}
		if ok && len(frame) > 0 {
			return frame, true
		}
	}
	return nil, false
}

// nextLine cuts a frame that ends with '\n'. found is false when more bytes are needed; ok is
// false for a frame that was dropped.
func (f *framer) nextLine() (frame []byte, found, ok bool) {
	data := f.buf[f.r:f.w]
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		if len(data) <= f.max {
			return nil, false, false
		}
		// No '\n' in more than max bytes: the line is oversized whatever follows. Keep its
		// head and drop the rest up to its '\n'.
		f.r = f.w
		if f.skipLine {
			return nil, true, false
		}
		f.skipLine = true
		frame, ok = f.limit(data, len(data))
		return frame, true, ok
	}
	f.r += i + 1
	if f.skipLine {
		f.skipLine = false
		return nil, true, false
	}
	frame, ok = f.limit(trimCR(data[:i]), len(data[:i]))
	return frame, true, ok
}

// nextCounted cuts an octet-counted frame. A trailing '\n' or "\r\n" inside the frame (a
// habit of some senders) is dropped, as are '\n' and '\r' between frames.
func (f *framer) nextCounted() (frame []byte, found, ok bool) {
	data := f.buf[f.r:f.w]
	if c := data[0]; c == '\n' || c == '\r' {
		f.r++
		return nil, true, false
	}
	n, digits, complete := countPrefix(data)
	if !complete {
		return nil, false, false
	}
	if digits == 0 {
		return f.nextLine()
	}
	start := digits + 1
	if n > f.max {
		// Oversized: keep the head (once it is here) and drop the rest as it comes.
		if f.policy == event.Reject {
			f.r += start
			f.discard = n
			f.rejected++
			return nil, true, false
		}
		if len(data) < start+f.max {
			return nil, false, false
		}
		f.r += start + f.max
		f.discard = n - f.max
		f.truncated++
		return trimLF(data[start : start+f.max]), true, true
	}
	if len(data) < start+n {
		return nil, false, false
	}
	f.r += start + n
	return trimLF(data[start : start+n]), true, true
}

// countPrefix reads the length and space that start an octet-counted frame. complete is false
// when more bytes are needed to tell; digits is 0 when data does not start with a length.
func countPrefix(data []byte) (n, digits int, complete bool) {
	for i, c := range data {
		switch {
		case c >= '0' && c <= '9' && !(i == 0 && c == '0'):
			if i == maxLenDigits {
				return 0, 0, true
			}
			n = n*10 + int(c-'0')
		case c == ' ' && i > 0:
			return n, i, true
		default:
			return 0, 0, true
		}
	}
	return 0, 0, false
}

// limit applies the size limit to a frame of size bytes, of which frame is what was kept.
func (f *framer) limit(frame []byte, size int) ([]byte, bool) {
	if size <= f.max {
		return frame, true
	}
	if f.policy == event.Reject {
		f.rejected++
		return nil, false
	}
	f.truncated++
	return frame[:min(len(frame), f.max)], true
}

// remainder consumes what is buffered as one last frame: the unterminated end of a stream
// that ended. ok is false when there is nothing (or only the rest of an oversized frame). cut
// is set for an octet-counted frame, which is then known to be shorter than its count.
func (f *framer) remainder() (frame []byte, cut, ok bool) {
	data := f.buf[f.r:f.w]
	f.r, f.w = 0, 0
	if len(data) == 0 || f.discard > 0 || f.skipLine {
		return nil, false, false
	}
	if f.mode == octets {
		// A frame cut short: what came of it, without its length.
		if _, digits, complete := countPrefix(data); complete && digits > 0 {
			data, cut = data[digits+1:], true
		}
		data = trimLF(data)
	} else {
		data = trimCR(data)
	}
	if len(data) == 0 {
		return nil, false, false
	}
	frame, ok = f.limit(data, len(data))
	return frame, cut, ok
}

// takeCounts returns the oversize counts and resets them.
func (f *framer) takeCounts() (truncated, rejected int64) {
	truncated, rejected = f.truncated, f.rejected
	f.truncated, f.rejected = 0, 0
	return truncated, rejected
}

// trimCR drops a trailing '\r'.
func trimCR(p []byte) []byte {
	if n := len(p); n > 0 && p[n-1] == '\r' {
		return p[:n-1]
	}
	return p
}

// trimLF drops a trailing '\n' or "\r\n".
func trimLF(p []byte) []byte {
	if n := len(p); n > 0 && p[n-1] == '\n' {
		return trimCR(p[:n-1])
	}
	return p
}
