// Package record holds what the byte-stream sources (text, stdin, tail, exec) share: framing a
// stream into records (by '\n' or by a delimiter regex), a read buffer that cuts records out of
// its own memory without copying them, the size limit applied to every record, and a reusable
// batch of events.
//
// The memory contract is the one plugin.Source gives its callers: a batch and the bodies of its
// events stay valid until the next call to Next. Records returned by a Buffer point into the
// buffer; the buffer moves or overwrites bytes only in Fill, which a source calls at the start
// of a later Next, never while a batch it returned is still in use.
package record

import (
	"bytes"
	"fmt"
	"regexp"
)

// Mode says where a delimiter matched by a regex goes.
type Mode int

// The delimiter modes of classic Flume's tail (delimMode=...).
const (
	// Exclude drops the delimiter: it separates records ("exclude", the default).
	Exclude Mode = iota
	// Prev keeps the delimiter at the end of the record it ends ("prev").
	Prev
	// Next keeps the delimiter at the start of the record it begins ("next").
	Next
)

// String returns the mode as delimMode spells it.
func (m Mode) String() string {
	switch m {
	case Prev:
		return "prev"
	case Next:
		return "next"
	}
	return "exclude"
}

// ParseMode parses a delimMode value: "exclude", "prev" or "next".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "exclude":
		return Exclude, nil
	case "prev":
		return Prev, nil
	case "next":
		return Next, nil
	}
	return Exclude, fmt.Errorf("unknown delimiter mode %q: want exclude, prev or next", s)
}

// Framer finds record boundaries in a window of bytes that starts at a record boundary. The zero
// Framer splits on '\n' and drops it. A Framer has no state, so a window can be searched again
// after more bytes have arrived.
type Framer struct {
	re   *regexp.Regexp
	mode Mode
	// fixed is set when the regex is a plain literal: its matches cannot grow with more data.
	fixed bool
}

// Lines returns the framer of one record per '\n'-terminated line.
func Lines() Framer { return Framer{} }

// Delimited returns a framer that splits on matches of re, placed per mode. A regex that
// matches the empty string is refused: it would frame nothing.
func Delimited(re *regexp.Regexp, mode Mode) (Framer, error) {
	if re.Match(nil) {
		return Framer{}, fmt.Errorf("delimiter %q matches the empty string", re.String())
	}
	_, fixed := re.LiteralPrefix()
	return Framer{re: re, mode: mode, fixed: fixed}, nil
}

// Find returns the first complete record of data and how many bytes it spans, including its
// delimiter when the delimiter belongs to it or is dropped. ok is false when data holds no
// complete record yet.
//
// A match of a delimiter regex that is not a plain literal and ends where data ends may grow
// when more bytes come (`;+` on "a;" then ";"), so it is not taken unless settled is true: the
// stream has no more bytes for now.
func (f Framer) Find(data []byte, settled bool) (body []byte, advance int, ok bool) {
	if f.re == nil {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return nil, 0, false
		}
		return data[:i], i + 1, true
	}
	from := 0
	if f.mode == Next {
		// The window starts at the delimiter that begins this record (except at the very
		// start of a stream): the record ends where the following delimiter starts.
		if s, e, found := f.match(data, 0); found && s == 0 {
			from = e
		}
	}
	s, e, found := f.match(data, from)
	if !found || e == len(data) && !f.fixed && !settled {
		return nil, 0, false
	}
	switch f.mode {
	case Prev:
		return data[:e], e, true
	case Next:
		return data[:s], s, true
	}
	return data[:s], e, true
}

// StartsRecord reports whether data begins with the start of a record: always for line and
// exclude/prev framing after a delimiter, and for next mode only when data begins with a
// delimiter. A Buffer uses it to stop discarding the tail of an oversized record.
func (f Framer) StartsRecord(data []byte) bool {
	if f.re == nil || f.mode != Next {
		return false
	}
	s, _, found := f.match(data, 0)
	return found && s == 0
}

// match finds the first non-empty match of the delimiter at or after from.
func (f Framer) match(data []byte, from int) (start, end int, ok bool) {
	for from <= len(data) {
		loc := f.re.FindIndex(data[from:])
		if loc == nil {
			return 0, 0, false
		}
		if loc[1] > loc[0] {
			return from + loc[0], from + loc[1], true
		}
		// An empty match (a regex such as `x*` or `\b`) frames nothing: look past it.
		from += loc[0] + 1
	}
	return 0, 0, false
}
