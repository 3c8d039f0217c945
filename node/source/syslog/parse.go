package syslog

import (
	"fmt"
	"time"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/flumego/flume/node/event"
)

// maxPRI is the largest valid PRI: facility 23 (local7), severity 7 (debug).
const maxPRI = 191

// severityPriority maps a syslog severity to an event priority, as classic Flume's
// SyslogConsts.SEVERITY table did: emergency, alert and critical are FATAL; notice and info
// are INFO.
var severityPriority = [8]event.Priority{
	event.FATAL, // 0 emergency
	event.FATAL, // 1 alert
	event.FATAL, // 2 critical
	event.ERROR, // 3 error
	event.WARN,  // 4 warning
	event.INFO,  // 5 notice
	event.INFO,  // 6 informational
	event.DEBUG, // 7 debug
}

// byteValues holds the one-byte attribute values of facilities and severities. Events share
// them, which is safe because attribute values are immutable.
var byteValues = func() [maxPRI/8 + 1][]byte {
	var v [maxPRI/8 + 1][]byte
	for i := range v {
		v[i] = []byte{byte(i)}
	}
	return v
}()

// message is what parsing one frame gives. Its slices point into the frame and its strings
// are the parser's; it is valid until the next parse with the same parser.
type message struct {
	// body is the frame after its PRI (classic Flume's body), or the whole frame when it does
	// not start with a valid PRI.
	body []byte
	// pri is the PRI, or -1 if the frame has no valid one.
	pri int
	// ts is the time the header gives, in unix nanoseconds; 0 if it gives none.
	ts int64
	// host, app, procID and msgID are the header's fields, empty when absent.
	host, app, procID, msgID string
	// sd is the structured data of an RFC 5424 message: SD-ID -> param name -> value.
	sd map[string]map[string]string
	// err says why the frame is malformed: no valid PRI, or an RFC 5424 header that does not
	// parse. Empty for a well-formed message.
	err string
}

// parser parses frames into messages. It keeps one go-syslog machine per format; machines are
// not safe for concurrent use, so every connection has its own parser.
type parser struct {
	rfc3164 gosyslog.Machine
	rfc5424 gosyslog.Machine
	// loc is the zone of RFC 3164 timestamps, which carry none: the node's own.
	loc *time.Location
	// arrival and now are the last arrival time placeYear saw, and it in loc.
	arrival int64
	now     time.Time
}

func newParser(loc *time.Location) *parser {
	return &parser{
		// Best effort: a header that parses only partly still gives the fields before the
		// point where it stopped. Second fractions, zero-padded days and RFC 3339 timestamps
		// are what real senders (Cisco, rsyslog's forward format) put in RFC 3164 headers.
		rfc3164: rfc3164.NewMachine(rfc3164.WithBestEffort(), rfc3164.WithRFC3339(),
			rfc3164.WithSecondFractions(), rfc3164.WithLenientDay()),
		rfc5424: rfc5424.NewMachine(rfc5424.WithBestEffort()),
		loc:     loc,
	}
}

// parse parses frame, which arrived at arrival (unix nanoseconds), into m.
//
// Without a valid PRI the frame is malformed: the body is the whole frame and m.err says why.
// With one, the body is what follows it, as in classic Flume, and the header is parsed as
// RFC 5424 when a version follows the PRI, as RFC 3164 otherwise. An RFC 3164 header that
// does not parse is not an error: RFC 3164 (section 4.3.3) makes such a message a valid one
// without a header. An RFC 5424 header that does not parse sets m.err; the fields before the
// point where it stopped are kept, but not its structured data.
func (p *parser) parse(frame []byte, arrival int64, m *message) {
	*m = message{pri: -1}
	pri, rest, ok := splitPRI(frame)
	if !ok {
		m.body = frame
		m.err = ErrNoPRI.Error()
		return
	}
	m.pri, m.body = pri, rest
	if isRFC5424(rest) {
		msg, err := p.rfc5424.Parse(frame)
		if err != nil {
			m.err = fmt.Sprintf("rfc5424 header: %v", err)
		}
		if sm, ok := msg.(*rfc5424.SyslogMessage); ok && sm != nil {
			p.fields(m, &sm.Base, arrival, false)
			// Structured data cut short would be taken for the whole of it: it is kept only
			// from a header that parsed.
			if sm.StructuredData != nil && err == nil {
				m.sd = *sm.StructuredData
			}
		}
		return
	}
	msg, _ := p.rfc3164.Parse(frame)
	if sm, ok := msg.(*rfc3164.SyslogMessage); ok && sm != nil {
		p.fields(m, &sm.Base, arrival, true)
	}
}

// fields copies the header fields of b into m. stamp is set for RFC 3164, whose timestamps
// may lack a year.
func (p *parser) fields(m *message, b *gosyslog.Base, arrival int64, stamp bool) {
	if b.Timestamp != nil {
		t := *b.Timestamp
		if stamp && t.Year() == 0 {
			t = p.placeYear(t, arrival)
		}
		// UnixNano is defined from 1678 to 2262; a date outside that is no use as an event
		// time, and the event keeps its arrival time.
		if y := t.Year(); y > 1677 && y < 2262 {
			m.ts = t.UnixNano()
		}
	}
	m.host = str(b.Hostname)
	m.app = str(b.Appname)
	m.procID = str(b.ProcID)
	m.msgID = str(b.MsgID)
}

// placeYear gives an RFC 3164 timestamp (month, day and time, no year) the year that puts it
// nearest to its arrival, in the parser's zone: a message of December 31 that arrives on
// January 1 is of the year before.
func (p *parser) placeYear(t time.Time, arrival int64) time.Time {
	if arrival != p.arrival {
		// Messages of one read share their arrival: the conversion is done once for them.
		p.arrival, p.now = arrival, time.Unix(0, arrival).In(p.loc)
	}
	y := p.now.Year()
	c := time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), p.loc)
	const halfYear = 183 * 24 * time.Hour
	switch d := c.Sub(p.now); {
	case d > halfYear:
		y--
	case d < -halfYear:
		y++
	default:
		return c
	}
	return time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), p.loc)
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// splitPRI splits a frame into its PRI and what follows. A PRI is '<', one to three digits
// without a leading zero (but "0" itself) of a value up to 191, and '>'.
func splitPRI(frame []byte) (pri int, rest []byte, ok bool) {
	if len(frame) < 3 || frame[0] != '<' {
		return 0, nil, false
	}
	i := 1
	for ; i < len(frame) && i <= 4 && frame[i] >= '0' && frame[i] <= '9'; i++ {
		pri = pri*10 + int(frame[i]-'0')
	}
	digits := i - 1
	switch {
	case digits == 0 || digits > 3 || i >= len(frame) || frame[i] != '>':
		return 0, nil, false
	case digits > 1 && frame[1] == '0':
		return 0, nil, false
	case pri > maxPRI:
		return 0, nil, false
	}
	return pri, frame[i+1:], true
}

// isRFC5424 reports whether what follows a PRI starts as an RFC 5424 header does: a VERSION
// (one to three digits, not starting with zero), a space, and a timestamp (a digit) or the
// nil value '-'. Anything else is taken as RFC 3164, whose header starts with a month name,
// or as a message without a header; "<13>42 apples" is the latter.
func isRFC5424(rest []byte) bool {
	if len(rest) < 3 || rest[0] < '1' || rest[0] > '9' {
		return false
	}
	i := 1
	for ; i < len(rest) && i < 3 && rest[i] >= '0' && rest[i] <= '9'; i++ {
	}
	if i+1 >= len(rest) || rest[i] != ' ' {
		return false
	}
	c := rest[i+1]
	return c == '-' || (c >= '0' && c <= '9')
}
