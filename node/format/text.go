package format

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
)

// maxKeptBuffer is the largest line buffer an encoder keeps between events: one huge event
// must not pin its memory for the life of the stream.
const maxKeptBuffer = 1 << 20

// lineAppender renders one event as one line, newline included. It may keep state between
// events (a date cache, scratch space) and is used from one goroutine.
type lineAppender interface {
	appendEvent(dst []byte, e *event.Event) []byte
}

// lineFormat is a format that writes one line per event.
type lineFormat struct {
	name string
	// newAppender makes the per-stream state; loc is the zone dates are rendered in.
	newAppender func(loc *time.Location) lineAppender
}

// NewEncoder returns an encoder writing lines to w.
func (f *lineFormat) NewEncoder(w io.Writer) (plugin.Encoder, error) {
	if w == nil {
		return nil, fmt.Errorf("%s encoder: %w", f.name, ErrNilWriter)
	}
	return &lineEncoder{w: w, name: f.name, app: f.newAppender(time.Local)}, nil
}

// lineEncoder renders each event into a reused buffer and writes it with one Write, so lines
// from one encoder never interleave with other writers' partial lines, and nothing is held
// back: Flush has nothing to do.
type lineEncoder struct {
	w      io.Writer
	name   string
	app    lineAppender
	buf    []byte
	closed bool
}

// Encode writes e as one line. A failed write may have written part of the line; the
// encoder stays usable.
func (l *lineEncoder) Encode(e *event.Event) error {
	if l.closed {
		return fmt.Errorf("%s encoder: %w", l.name, ErrClosed)
	}
	l.buf = l.app.appendEvent(l.buf[:0], e)
	_, err := l.w.Write(l.buf)
	if cap(l.buf) > maxKeptBuffer {
		l.buf = nil
	}
	if err != nil {
		return fmt.Errorf("write %s event: %w", l.name, err)
	}
	return nil
}

// Flush does nothing: every Encode has already written its line.
func (l *lineEncoder) Flush() error {
	if l.closed {
		return fmt.Errorf("%s encoder: %w", l.name, ErrClosed)
	}
	return nil
}

// Close ends the stream. It is safe to call twice.
func (l *lineEncoder) Close() error {
	l.closed = true
	l.buf = nil
	return nil
}

// rawAppender writes the body and a newline: formats raw and default.
type rawAppender struct{}

func (rawAppender) appendEvent(dst []byte, e *event.Event) []byte {
	return append(append(dst, e.Body...), '\n')
}

// debugAppender writes classic EventImpl.toString():
//
//	host [PRIORITY Thu Mar 04 05:06:07 PST 2010] { k : v } { k2 : v2 } escaped-body
//
// Attributes are sorted by name, as classic's TreeMap did. A value that is printable text is
// written as it is. Other values are binary: as classic's untyped attributes did, a value of 1
// byte is written as its unsigned decimal value, of 4 or 8 bytes as a big-endian signed
// integer; any other is written with control characters escaped and each byte that is not
// valid UTF-8 as \xNN.
type debugAppender struct {
	date    dateCache
	scratch []event.Attr
}

// javaDateLayout is java.util.Date.toString(): "EEE MMM dd HH:mm:ss zzz yyyy".
const javaDateLayout = "Mon Jan 02 15:04:05 MST 2006"

func newDebugAppender(loc *time.Location) lineAppender {
	return &debugAppender{date: newDateCache(loc, javaDateLayout)}
}

func (d *debugAppender) appendEvent(dst []byte, e *event.Event) []byte {
	dst = append(dst, e.Host...)
	dst = append(dst, " ["...)
	dst = append(dst, e.Priority.String()...)
	dst = append(dst, ' ')
	dst = d.date.appendDate(dst, e.Timestamp)
	dst = append(dst, "] "...)
	d.scratch = append(d.scratch[:0], e.AttrList()...)
	slices.SortStableFunc(d.scratch, func(a, b event.Attr) int { return strings.Compare(a.Key, b.Key) })
	for _, a := range d.scratch {
		dst = append(dst, "{ "...)
		dst = append(dst, a.Key...)
		dst = append(dst, " : "...)
		dst = appendDebugValue(dst, a.Value)
		dst = append(dst, " } "...)
	}
	clear(d.scratch) // drop references to the event's memory
	dst = appendJavaEscaped(dst, e.Body)
	return append(dst, '\n')
}

// appendDebugValue renders an attribute value for the debug format.
func appendDebugValue(dst []byte, v []byte) []byte {
	if isPrintable(v) {
		return append(dst, v...)
	}
	switch len(v) {
	case 1:
		return appendInt(dst, int64(v[0]))
	case 4:
		return appendInt(dst, int64(int32(binary.BigEndian.Uint32(v))))
	case 8:
		return appendInt(dst, int64(binary.BigEndian.Uint64(v)))
	}
	return appendBytesEscaped(dst, v)
}

// log4jAppender writes classic Log4jOutputFormat:
//
//	2010-03-04T05:06:07:-08:00 INFO log4j: escaped-body
//
// The date is classic DateUtils.asISO8601, whose layout "yyyy-MM-dd'T'HH:mm:ss:Z" with a colon
// put into the zone really does separate the seconds from the zone with a colon.
type log4jAppender struct {
	date dateCache
}

const log4jDateLayout = "2006-01-02T15:04:05:-07:00"

func newLog4jAppender(loc *time.Location) lineAppender {
	return &log4jAppender{date: newDateCache(loc, log4jDateLayout)}
}

func (l *log4jAppender) appendEvent(dst []byte, e *event.Event) []byte {
	dst = l.date.appendDate(dst, e.Timestamp)
	dst = append(dst, ' ')
	dst = append(dst, e.Priority.String()...)
	dst = append(dst, " log4j: "...)
	dst = appendJavaEscaped(dst, e.Body)
	return append(dst, '\n')
}

// syslogAppender writes classic SyslogEntryFormat:
//
//	Mar 04 05:06:07 host service: body
//
// "service: " only when the event has a service attribute. The day is zero-padded: classic
// used SimpleDateFormat("MMM dd HH:mm:ss"), not syslog's space padding.
type syslogAppender struct {
	date dateCache
}

const syslogDateLayout = "Jan 02 15:04:05"

func newSyslogAppender(loc *time.Location) lineAppender {
	return &syslogAppender{date: newDateCache(loc, syslogDateLayout)}
}

func (s *syslogAppender) appendEvent(dst []byte, e *event.Event) []byte {
	dst = s.date.appendDate(dst, e.Timestamp)
	dst = append(dst, ' ')
	dst = append(dst, e.Host...)
	dst = append(dst, ' ')
	if svc, ok := e.Attr("service"); ok {
		dst = append(dst, svc...)
		dst = append(dst, ": "...)
	}
	dst = append(dst, e.Body...)
	return append(dst, '\n')
}

// jsonAppender writes classic JsonOutputFormat:
//
//	{"body":"..","timestamp":ms,"pri":"INFO","nanos":ns,"host":"..","fields":{"k":"v"}}
//
// Attributes appear in the order they were set.
type jsonAppender struct{}

func (jsonAppender) appendEvent(dst []byte, e *event.Event) []byte {
	dst = append(dst, `{"body":`...)
	dst = appendJSONText(dst, e.Body)
	dst = append(dst, `,"timestamp":`...)
	dst = appendInt(dst, millis(e.Timestamp))
	dst = append(dst, `,"pri":`...)
	dst = appendJSONText(dst, e.Priority.String())
	dst = append(dst, `,"nanos":`...)
	dst = appendInt(dst, e.Timestamp)
	dst = append(dst, `,"host":`...)
	dst = appendJSONText(dst, e.Host)
	dst = append(dst, `,"fields":{`...)
	for i, a := range e.AttrList() {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONText(dst, a.Key)
		dst = append(dst, ':')
		dst = appendJSONText(dst, a.Value)
	}
	return append(dst, "}}\n"...)
}

// avroJSONAppender writes the Avro JSON encoding of an AvroFlumeEvent (see AvroSchema), one
// object per line:
//
//	{"timestamp":ms,"priority":"INFO","body":"..","nanos":ns,"host":"..","fields":{"k":".."}}
//
// Bytes (body, attribute values) are strings whose code points are the byte values; strings
// (host, attribute names) are text, with bytes that are not valid UTF-8 replaced by U+FFFD.
type avroJSONAppender struct{}

func (avroJSONAppender) appendEvent(dst []byte, e *event.Event) []byte {
	dst = append(dst, `{"timestamp":`...)
	dst = appendInt(dst, millis(e.Timestamp))
	dst = append(dst, `,"priority":"`...)
	dst = append(dst, avroPriority(e.Priority).String()...)
	dst = append(dst, `","body":`...)
	dst = appendJSONLatin1(dst, e.Body)
	dst = append(dst, `,"nanos":`...)
	dst = appendInt(dst, e.Timestamp)
	dst = append(dst, `,"host":`...)
	dst = appendJSONText(dst, e.Host)
	dst = append(dst, `,"fields":{`...)
	for i, a := range e.AttrList() {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONText(dst, a.Key)
		dst = append(dst, ':')
		dst = appendJSONLatin1(dst, a.Value)
	}
	return append(dst, "}}\n"...)
}

// Constructors for the line formats, shared by Register and the tests.
func rawFormat(name string) *lineFormat {
	return &lineFormat{name: name, newAppender: func(*time.Location) lineAppender { return rawAppender{} }}
}

func debugFormat() *lineFormat { return &lineFormat{name: "debug", newAppender: newDebugAppender} }

func jsonFormat() *lineFormat {
	return &lineFormat{name: "json", newAppender: func(*time.Location) lineAppender { return jsonAppender{} }}
}

func log4jFormat() *lineFormat { return &lineFormat{name: "log4j", newAppender: newLog4jAppender} }

func syslogFormat() *lineFormat { return &lineFormat{name: "syslog", newAppender: newSyslogAppender} }

func avroJSONFormat() *lineFormat {
	return &lineFormat{name: "avrojson", newAppender: func(*time.Location) lineAppender { return avroJSONAppender{} }}
}

var (
	_ plugin.Format  = (*lineFormat)(nil)
	_ plugin.Encoder = (*lineEncoder)(nil)
	_ plugin.Format  = (*ocfFormat)(nil)
	_ plugin.Encoder = (*ocfEncoder)(nil)
)
