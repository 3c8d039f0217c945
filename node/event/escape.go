package event

import (
	"strconv"
	"strings"
	"time"
)

// Escapes. A template is text with escape sequences that expand against an event, as classic
// Flume's Event.escapeString does (TAG_REGEX `\%(\w|\%)|\%\{([\w\.-]+)\}`):
//
//	%{host} %{hostname}  the event's host
//	%{priority}          the priority name
//	%{nanos}             the timestamp in nanoseconds
//	%{body}              the body
//	%{name}              attribute name ("" when unset)
//	%%                   a percent sign
//	%t %s                the timestamp in milliseconds, in seconds
//	%a %A %b %B %c %d %D %e %H %I %j %k %l %m %M %n %p %S %y %Y %z
//	                     parts of the event's timestamp (see dateEscapes)
//
// Dates come from the event's own timestamp, not the clock, so a late event lands in the bucket
// of its own hour. An unknown %x expands to nothing; a '%' that starts no escape is kept.

// dateEscapes maps a date escape letter to the Go layout that formats it. The Java patterns
// classic Flume used are noted where the Go layout differs in spelling.
var dateEscapes = map[byte]string{
	'a': "Mon",                     // EEE
	'A': "Monday",                  // EEEE
	'b': "Jan",                     // MMM
	'B': "January",                 // MMMM
	'c': "Mon Jan 2 15:04:05 2006", // EEE MMM d HH:mm:ss yyyy
	'd': "02",                      // dd
	'D': "01/02/06",                // MM/dd/yy
	'e': "2",                       // d (Flume NG)
	'H': "15",                      // HH
	'I': "03",                      // hh
	'l': "3",                       // h
	'm': "01",                      // MM
	'M': "04",                      // mm
	'n': "1",                       // M (Flume NG)
	'p': "PM",                      // a
	'S': "05",                      // ss
	'y': "06",                      // yy
	'Y': "2006",                    // yyyy
	'z': "-0700",                   // ZZZ
}

type partKind uint8

const (
	partText partKind = iota
	partDate          // a Go layout
	partMillis
	partSeconds
	partDayOfYear // %j, three digits
	partHour24    // %k, no padding
	partHost
	partPriority
	partNanos
	partBody
	partAttr
)

type part struct {
	kind partKind
	text string // literal text, Go layout, or attribute name
}

// Template is a compiled escape pattern. It is immutable and safe for concurrent use.
type Template struct {
	parts   []part
	loc     *time.Location
	hasDate bool
	literal bool
}

// TemplatePiece is a piece of an escape pattern: a run of literal text ("%%" already turned into
// "%"), or one escape as written ("%Y", "%{host}").
type TemplatePiece struct {
	Text   string
	Escape bool
}

// SplitTemplate splits pattern into literal runs and escapes: "%%" is a percent sign,
// "%{name}" and "%x" (x a word character) are escapes, any other '%' is text. It is the
// grammar CompileTemplate compiles; components that treat escapes one by one (a path whose
// escaped parts are sanitized) use it to see the same escapes.
func SplitTemplate(pattern string) []TemplatePiece {
	var out []TemplatePiece
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, TemplatePiece{Text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '%' || i+1 >= len(pattern) {
			lit.WriteByte(c)
			continue
		}
		n := pattern[i+1]
		switch {
		case n == '%':
			lit.WriteByte('%')
			i++
		case n == '{':
			end := i + 2
			for end < len(pattern) && isNameByte(pattern[end]) {
				end++
			}
			if end == i+2 || end >= len(pattern) || pattern[end] != '}' {
				lit.WriteByte(c) // not an escape: keep the '%'
				continue
			}
			flush()
			out = append(out, TemplatePiece{Text: pattern[i : end+1], Escape: true})
			i = end
		case isWordByte(n):
			flush()
			out = append(out, TemplatePiece{Text: pattern[i : i+2], Escape: true})
			i++
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return out
}

// CompileTemplate compiles pattern. Every string is a valid pattern, so there is no error.
// Dates are formatted in the local time zone; see In.
func CompileTemplate(pattern string) *Template {
	t := &Template{loc: time.Local}
	for _, pc := range SplitTemplate(pattern) {
		switch {
		case !pc.Escape:
			t.parts = append(t.parts, part{kind: partText, text: pc.Text})
		case pc.Text[1] == '{':
			t.parts = append(t.parts, namePart(pc.Text[2:len(pc.Text)-1]))
		default:
			if p, ok := letterPart(pc.Text[1]); ok {
				t.parts = append(t.parts, p)
				if p.kind == partDate || p.kind == partDayOfYear || p.kind == partHour24 {
					t.hasDate = true
				}
			}
		}
	}
	t.literal = len(t.parts) == 0 || (len(t.parts) == 1 && t.parts[0].kind == partText)
	return t
}

func namePart(name string) part {
	switch name {
	case "host", "hostname":
		return part{kind: partHost}
	case "priority":
		return part{kind: partPriority}
	case "nanos":
		return part{kind: partNanos}
	case "body":
		return part{kind: partBody}
	}
	return part{kind: partAttr, text: name}
}

func letterPart(c byte) (part, bool) {
	switch c {
	case 't':
		return part{kind: partMillis}, true
	case 's':
		return part{kind: partSeconds}, true
	case 'j':
		return part{kind: partDayOfYear}, true
	case 'k':
		return part{kind: partHour24}, true
	}
	if layout, ok := dateEscapes[c]; ok {
		return part{kind: partDate, text: layout}, true
	}
	return part{}, false // unknown escape: expands to nothing
}

func isWordByte(c byte) bool {
	return c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isNameByte(c byte) bool { return isWordByte(c) || c == '.' || c == '-' }

// In returns a copy of t that formats dates in loc.
func (t *Template) In(loc *time.Location) *Template {
	c := *t
	c.loc = loc
	return &c
}

// IsLiteral reports whether t has no escapes, so it expands to the same text for every event.
func (t *Template) IsLiteral() bool { return t.literal }

// UsesTime reports whether t expands parts of the event's timestamp.
func (t *Template) UsesTime() bool { return t.hasDate }

// Expand returns t expanded against e.
func (t *Template) Expand(e *Event) string {
	if t.literal {
		if len(t.parts) == 0 {
			return ""
		}
		return t.parts[0].text
	}
	return string(t.AppendTo(nil, e))
}

// AppendTo appends t expanded against e to dst and returns the result.
func (t *Template) AppendTo(dst []byte, e *Event) []byte {
	var ts time.Time
	if t.hasDate {
		ts = time.Unix(0, e.Timestamp).In(t.loc)
	}
	for _, p := range t.parts {
		switch p.kind {
		case partText:
			dst = append(dst, p.text...)
		case partDate:
			dst = ts.AppendFormat(dst, p.text)
		case partDayOfYear:
			dst = appendPadded(dst, ts.YearDay(), 3)
		case partHour24:
			dst = strconv.AppendInt(dst, int64(ts.Hour()), 10)
		case partMillis:
			dst = strconv.AppendInt(dst, e.Timestamp/int64(time.Millisecond), 10)
		case partSeconds:
			dst = strconv.AppendInt(dst, e.Timestamp/int64(time.Second), 10)
		case partHost:
			dst = append(dst, e.Host...)
		case partPriority:
			dst = append(dst, e.Priority.String()...)
		case partNanos:
			dst = strconv.AppendInt(dst, e.Timestamp, 10)
		case partBody:
			dst = append(dst, e.Body...)
		case partAttr:
			v, _ := e.Attr(p.text)
			dst = append(dst, v...)
		}
	}
	return dst
}

func appendPadded(dst []byte, n, width int) []byte {
	s := strconv.Itoa(n)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// Expand expands pattern against e. Compile the pattern once with CompileTemplate when it is
// used for many events.
func Expand(pattern string, e *Event) string {
	return CompileTemplate(pattern).Expand(e)
}
