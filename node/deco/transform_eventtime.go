package deco

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unsafe"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/javatime"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// eventTimeUsage documents eventTime and its alias exTime.
const eventTimeUsage = `(["regex"[, "pattern"]]{, layout="Go layout", zone="Local"})`

// Signatures of eventTime and of its alias exTime (named after exDate, which also reads a
// date out of an event).
var (
	sigEventTime = eventTimeSig("eventTime")
	sigExTime    = eventTimeSig("exTime")
)

func eventTimeSig(name string) spec.Signature {
	return spec.Signature{Name: name, UsageText: name + eventTimeUsage, Params: []spec.Param{
		{Name: "regex", Kind: spec.ParamString},
		{Name: "pattern", Kind: spec.ParamString},
		{Name: "layout", Kind: spec.ParamString, KeywordOnly: true},
		{Name: "zone", Kind: spec.ParamString, KeywordOnly: true, Default: `"Local"`},
	}}
}

// eventTimeDeco is `eventTime(["regex"[, "pattern"]]{, layout="Go layout", zone="Local"})`
// (alias exTime): it sets each event's timestamp to the time written in its body, so that
// collectors bucket a line by when it was logged rather than when it was read (classic Flume
// stamped every event with the agent's clock at reading).
//
// Where the time is: capture group 1 of the first match of regex (RE2) in the body, or the
// whole match if regex has no group; without a regex (or with ""), the time begins the body.
//
// How it reads: with pattern, a java.text.SimpleDateFormat pattern as exDate takes
// ("dd/MMM/yyyy:HH:mm:ss Z"); with layout, a Go reference-time layout ("02/Jan/2006:15:04:05
// -0700"), which must match the whole captured text and so needs a regex. With neither, the
// common formats are recognized (see parseCommon): RFC 3339 and its log4j-style relatives,
// syslog's "Jan _2 15:04:05" (the year is the one that puts the time nearest the node's
// clock), the Apache and NGINX access log's "02/Jan/2006:15:04:05 -0700", and epoch seconds,
// milliseconds, microseconds or nanoseconds. A time that carries no zone offset is read in
// zone: Local (the node's), UTC, an IANA name such as "Europe/Paris", or an offset "+05:30".
//
// An event with no match keeps its arrival time and is counted in unmatched; one whose text
// does not parse keeps it too and is counted in unparsed. Both pass on unchanged, as exDate
// passes on what it cannot read. Events that parse are passed on as derived copies with the
// new timestamp.
//
// Reading the common formats, or a pattern, at the start of the body allocates nothing per
// event. A regex costs one small allocation per event (Go's regexp returns a fresh slice of
// match indexes), and a Go layout or a pattern may cost one for a zone offset that is not a
// whole number of hours (Go's time package makes a zone for it).
type eventTimeDeco struct {
	xfBase
	re      *regexp.Regexp // nil: the time begins the body
	group   int            // the capture group holding the time: 1, or 0 for the whole match
	pattern *javatime.Layout
	layout  string
	loc     *time.Location
	// now is the clock syslog times take their year from; a test sets it.
	now       func() time.Time
	unmatched *metrics.Counter
	unparsed  *metrics.Counter
}

func buildEventTime(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	name := args.Name()
	m := bc.Counters().Sub(name)
	d := &eventTimeDeco{
		xfBase:    newXFBase(bc, name, next),
		now:       time.Now,
		unmatched: m.Counter("unmatched"),
		unparsed:  m.Counter("unparsed"),
	}
	if expr := args.String("regex", ""); expr != "" {
		re, err := compileRegex(args, "regex")
		if err != nil {
			return nil, err
		}
		d.re = re
		if re.NumSubexp() > 0 {
			d.group = 1
		}
	}
	if p := args.String("pattern", ""); p != "" {
		l, err := javatime.Compile(p)
		if err != nil {
			return nil, args.Errorf("pattern", "%v", err)
		}
		d.pattern = l
	}
	if err := d.bindLayout(args); err != nil {
		return nil, err
	}
	loc, err := parseZone(args.String("zone", "Local"))
	if err != nil {
		return nil, args.Errorf("zone", "%v", err)
	}
	d.loc = loc
	return d, nil
}

// bindLayout takes the layout argument, a Go layout, which excludes pattern and needs a regex.
func (d *eventTimeDeco) bindLayout(args *spec.Args) error {
	if !args.Has("layout") {
		return nil
	}
	d.layout = args.String("layout", "")
	switch {
	case d.layout == "":
		return args.Errorf("layout", "empty layout")
	case d.pattern != nil:
		return args.Errorf("layout", "give a SimpleDateFormat pattern or a Go layout, not both")
	case d.re == nil:
		return args.Errorf("layout", "a Go layout must match the whole time: give a regex that captures it")
	}
	return nil
}

// parseZone returns the zone named by s: Local, UTC, an offset (+05:30, -0800, +01) or an IANA
// name, looked up in the system's time zone database.
func parseZone(s string) (*time.Location, error) {
	switch strings.ToLower(s) {
	case "", "local":
		return time.Local, nil
	case "utc", "z":
		return time.UTC, nil
	}
	if s[0] == '+' || s[0] == '-' {
		off, n := parseOffset([]byte(s), 0)
		if n != len(s) {
			return nil, fmt.Errorf("bad zone offset %q: want +hh:mm, +hhmm or +hh", s)
		}
		return time.FixedZone(s, off), nil
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, fmt.Errorf("unknown zone %q: want Local, UTC, an offset (+05:30) or an IANA name", s)
	}
	return loc, nil
}

func (d *eventTimeDeco) Append(ctx context.Context, batch []*event.Event) error {
	d.begin(len(batch))
	now := d.now()
	var unmatched, unparsed int64
	for _, e := range batch {
		text, ok := d.locate(e.Body)
		if !ok {
			unmatched++
			d.batch = append(d.batch, e)
			continue
		}
		ts, ok := d.parse(text, now)
		if !ok {
			unparsed++
			d.batch = append(d.batch, e)
			continue
		}
		o := d.derive(e)
		o.Timestamp = ts
		d.batch = append(d.batch, o)
	}
	if unmatched > 0 {
		d.unmatched.Add(unmatched)
	}
	if unparsed > 0 {
		d.unparsed.Add(unparsed)
	}
	return d.send(ctx)
}

// locate returns the text the time is read from: the captured group, or the whole body when
// there is no regex (the time begins it).
func (d *eventTimeDeco) locate(body []byte) ([]byte, bool) {
	if d.re == nil {
		return body, true
	}
	m := d.re.FindSubmatchIndex(body)
	if m == nil || m[2*d.group] < 0 {
		return nil, false
	}
	return body[m[2*d.group]:m[2*d.group+1]], true
}

// parse reads the time in text, entirely when a regex captured it, at its start otherwise.
func (d *eventTimeDeco) parse(text []byte, now time.Time) (int64, bool) {
	whole := d.re != nil
	switch {
	case d.pattern != nil:
		t, n, err := d.pattern.ParsePrefix(view(text), d.loc)
		if err != nil || (whole && n != len(text)) {
			return 0, false
		}
		return unixNanos(t)
	case d.layout != "":
		t, err := time.ParseInLocation(d.layout, view(text), d.loc)
		if err != nil {
			return 0, false
		}
		return unixNanos(t)
	}
	ts, n, ok := parseCommon(text, d.loc, now)
	if !ok || (whole && n != len(text)) {
		return 0, false
	}
	// At the start of a body, the time must end where a word does: "20240101 rows" is not a
	// time, and "1700000000abc" is not one either.
	if !whole && n < len(text) && isAlnum(text[n]) {
		return 0, false
	}
	return ts, true
}

// view returns b as a string without copying it. The parsers it is handed to keep nothing of
// it once they return but in an error or a zone name, and the decorator keeps only the
// instant they compute: the body, immutable while the batch is in flight, is never seen
// through the string after the call.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// unixNanos returns t in unix nanoseconds, if it is within the years an int64 of nanoseconds
// holds.
func unixNanos(t time.Time) (int64, bool) {
	if y := t.Year(); y < minYear || y > maxYear {
		return 0, false
	}
	return t.UnixNano(), true
}

// The years whose times fit in an int64 of unix nanoseconds, with a margin.
const (
	minYear = 1678
	maxYear = 2261
)

func isAlnum(c byte) bool {
	return isDigit(c) || ('a' <= c|0x20 && c|0x20 <= 'z')
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// digits returns the value of b, which must be all decimal digits.
func digits(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}
