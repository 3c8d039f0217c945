// Package javatime formats and parses times with java.text.SimpleDateFormat patterns, the date
// syntax classic Flume configs carry (exDate("date", "yyyy-MM-dd HH:mm")), so those configs keep
// working unchanged.
//
// Supported pattern letters, with SimpleDateFormat's meaning and repeated-letter widths:
//
//	G era (AD, BC)             y year                     Y week year
//	M L month (MM=07, MMM=Jul, MMMM=July)                 w week in year
//	W week in month            D day in year              d day in month
//	F day of week in month     E day name (EEE=Tue, EEEE=Tuesday)
//	u day number (1=Monday)    a AM/PM marker             H hour 0-23
//	k hour 1-24                K hour 0-11                h hour 1-12
//	m minute                   s second                   S millisecond
//	z zone name (PST, GMT+05:30)                          Z zone offset (-0800)
//	X ISO 8601 zone (X=-08, XX=-0800, XXX=-08:00, Z for UTC)
//
// Text in single quotes is literal, as in 'T'; a doubled single quote stands for one quote
// mark, inside quotes or out; other characters that are not letters are literal. Any other
// letter is an error, as it is in Java.
//
// The behaviour is that of SimpleDateFormat in its default, lenient mode with an English (US)
// locale: names match case-insensitively, out-of-range values roll over (month 13 is January of
// the next year), a numeric field followed directly by another field reads at most its width of
// digits ("yyyyMMdd"), spaces before a field are skipped, a two-digit year ("yy") lands within 80
// years before and 20 years after the time the pattern was compiled, and weeks start on Sunday
// with week 1 holding January 1st. Where Java's resolution of conflicting fields is subtle,
// this package keeps a simpler rule: a day of the month, when given, wins over a day of the
// week. Zone names are known for UTC/GMT and the common North American, European, Japanese and
// Indian abbreviations; a formatted zone name is Go's abbreviation, and long names (zzzz) are
// spelt out only for the zones this package knows.
package javatime

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

var (
	// ErrPattern is wrapped by errors from Compile: the pattern has a letter SimpleDateFormat
	// does not know, an unclosed quote, or a field repeated more than it allows.
	ErrPattern = errors.New("invalid date pattern")
	// ErrMismatch is wrapped by errors from Parse and ParsePrefix: the value does not match
	// the pattern.
	ErrMismatch = errors.New("value does not match the date pattern")
)

// letters are the pattern letters SimpleDateFormat knows.
const letters = "GyYMLwWDdFEuaHkKhmsSzZX"

// elem is one element of a compiled pattern: literal text, or a field letter repeated count
// times.
type elem struct {
	letter byte // 0 for literal text
	count  int
	text   string // the literal text
	// abut is set on a field directly followed by another field: a number in it is read up to
	// count characters only, so that "yyyyMMdd" can split "20100729".
	abut bool
}

// Layout is a compiled SimpleDateFormat pattern. It is immutable and safe for concurrent use.
type Layout struct {
	pattern string
	elems   []elem
	// century is the first year of the hundred-year window a two-digit year is placed in.
	century int
}

// Compile compiles a SimpleDateFormat pattern. Errors wrap ErrPattern and say which letter or
// quote is wrong and at which byte offset of the pattern.
func Compile(pattern string) (*Layout, error) {
	l := &Layout{pattern: pattern, century: time.Now().Year() - 80}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			l.elems = append(l.elems, elem{text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(pattern); {
		c := pattern[i]
		switch {
		case c == '\'':
			end, err := quoted(pattern, i, &lit)
			if err != nil {
				return nil, err
			}
			i = end
		case isLetter(c):
			if !strings.ContainsRune(letters, rune(c)) {
				return nil, fmt.Errorf("%w %q: letter '%c' at offset %d is not a pattern letter "+
					"(known: %s; put literal text in single quotes)", ErrPattern, pattern, c, i, spaced(letters))
			}
			n := 1
			for i+n < len(pattern) && pattern[i+n] == c {
				n++
			}
			if c == 'X' && n > 3 {
				return nil, fmt.Errorf("%w %q: 'X' repeated %d times at offset %d; ISO 8601 zones "+
					"take X, XX or XXX", ErrPattern, pattern, n, i)
			}
			flush()
			l.elems = append(l.elems, elem{letter: c, count: n})
			i += n
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	for i := range l.elems {
		if l.elems[i].letter != 0 && i+1 < len(l.elems) && l.elems[i+1].letter != 0 {
			l.elems[i].abut = true
		}
	}
	return l, nil
}

// quoted reads the quoted text starting at pattern[start] (a single quote) into lit and returns
// the offset after it.
func quoted(pattern string, start int, lit *strings.Builder) (int, error) {
	if start+1 < len(pattern) && pattern[start+1] == '\'' {
		lit.WriteByte('\'') // '' outside quotes
		return start + 2, nil
	}
	for i := start + 1; i < len(pattern); i++ {
		if pattern[i] != '\'' {
			lit.WriteByte(pattern[i])
			continue
		}
		if i+1 < len(pattern) && pattern[i+1] == '\'' {
			lit.WriteByte('\'') // '' inside quotes
			i++
			continue
		}
		return i + 1, nil
	}
	return 0, fmt.Errorf("%w %q: quote at offset %d is not closed", ErrPattern, pattern, start)
}

func isLetter(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

func spaced(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// String returns the pattern the layout was compiled from.
func (l *Layout) String() string { return l.pattern }

// WithTwoDigitYearStart returns a copy of l that places two-digit years in the hundred years
// starting with year, as SimpleDateFormat.set2DigitYearStart does. The default window starts 80
// years before the layout was compiled.
func (l *Layout) WithTwoDigitYearStart(year int) *Layout {
	c := *l
	c.century = year
	return &c
}

// isNumeric reports whether a field with this letter and width reads and writes a number.
func isNumeric(letter byte, count int) bool {
	switch letter {
	case 'M', 'L':
		return count <= 2
	case 'G', 'E', 'a', 'z', 'Z', 'X':
		return false
	}
	return true
}

// English names, as the US locale spells them.
var (
	monthNames = [...]string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"}
	monthShort = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
		"Oct", "Nov", "Dec"}
	dayNames = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
		"Saturday"}
	dayShort  = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	ampmNames = [...]string{"AM", "PM"}
	eraNames  = [...]string{"BC", "AD"}
)
