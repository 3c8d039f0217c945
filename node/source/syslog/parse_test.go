package syslog

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
)

// toEvent parses frame as a source does, with RFC 3164 times in loc, and returns the event.
func toEvent(t testing.TB, loc *time.Location, frame string, arrival time.Time) *event.Event {
	t.Helper()
	var m message
	newParser(loc).parse([]byte(frame), arrival.UnixNano(), &m)
	b := newBatch(nil)
	b.add(&m, arrival.UnixNano(), "localhost")
	return b.events()[0].Clone()
}

func TestParseMakesEventsOfBothRFCs(t *testing.T) {
	arrival := time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, frame string
		body        string
		host        string
		ts          time.Time
		pri         event.Priority
		attrs       []string
	}{
		{
			name:  "rfc3164",
			frame: "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
			body:  "Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
			host:  "mymachine",
			ts:    time.Date(2023, 10, 11, 22, 14, 15, 0, time.UTC), // nearer to March 2024 than Oct 2024
			pri:   event.FATAL,
			attrs: []string{"syslogfacility=4", "syslogseverity=2", "sysloghost=mymachine", "syslogapp=su"},
		},
		{
			name:  "rfc3164 with pid",
			frame: "<13>Mar  9 08:00:01 web1 sshd[4721]: Accepted publickey",
			body:  "Mar  9 08:00:01 web1 sshd[4721]: Accepted publickey",
			host:  "web1",
			ts:    time.Date(2024, 3, 9, 8, 0, 1, 0, time.UTC),
			pri:   event.INFO,
			attrs: []string{"syslogfacility=1", "syslogseverity=5", "sysloghost=web1", "syslogapp=sshd", "syslogprocid=4721"},
		},
		{
			name:  "rfc3164 without hostname",
			frame: "<30>Mar 10 11:59:58 cron[12]: job done",
			body:  "Mar 10 11:59:58 cron[12]: job done",
			host:  "localhost",
			ts:    time.Date(2024, 3, 10, 11, 59, 58, 0, time.UTC),
			pri:   event.INFO,
			attrs: []string{"syslogfacility=3", "syslogseverity=6", "syslogapp=cron", "syslogprocid=12"},
		},
		{
			name:  "rfc3164 with an rfc3339 time",
			frame: "<12>2024-02-05T22:14:15.25+02:00 db2 postgres: slow query",
			body:  "2024-02-05T22:14:15.25+02:00 db2 postgres: slow query",
			host:  "db2",
			ts:    time.Date(2024, 2, 5, 20, 14, 15, 250e6, time.UTC),
			pri:   event.WARN,
			attrs: []string{"syslogfacility=1", "syslogseverity=4", "sysloghost=db2", "syslogapp=postgres"},
		},
		{
			name:  "rfc3164 without a header",
			frame: "<11>disk full",
			body:  "disk full",
			host:  "localhost",
			ts:    arrival,
			pri:   event.ERROR,
			attrs: []string{"syslogfacility=1", "syslogseverity=3"},
		},
		{
			name:  "a number after the PRI is no version",
			frame: "<15>42 apples",
			body:  "42 apples",
			host:  "localhost",
			ts:    arrival,
			pri:   event.DEBUG,
			attrs: []string{"syslogfacility=1", "syslogseverity=7"},
		},
		{
			name:  "PRI alone",
			frame: "<0>",
			body:  "",
			host:  "localhost",
			ts:    arrival,
			pri:   event.FATAL,
			attrs: []string{"syslogfacility=0", "syslogseverity=0"},
		},
		{
			name:  "rfc5424",
			frame: `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 99 ID47 [exampleSDID@32473 iut="3" eventSource="Application"][origin] An application event`,
			body:  `1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 99 ID47 [exampleSDID@32473 iut="3" eventSource="Application"][origin] An application event`,
			host:  "mymachine.example.com",
			ts:    time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC),
			pri:   event.INFO,
			attrs: []string{"syslogfacility=20", "syslogseverity=5", "sysloghost=mymachine.example.com",
				"syslogapp=evntslog", "syslogprocid=99", "syslogmsgid=ID47",
				"syslogsd.exampleSDID@32473.eventSource=Application", "syslogsd.exampleSDID@32473.iut=3",
				"syslogsd.origin="},
		},
		{
			name:  "rfc5424 with nil values",
			frame: "<14>1 - - - - - - hello",
			body:  "1 - - - - - - hello",
			host:  "localhost",
			ts:    arrival,
			pri:   event.INFO,
			attrs: []string{"syslogfacility=1", "syslogseverity=6"},
		},
		{
			name:  "rfc5424 with a zone",
			frame: "<191>1 2024-03-10T13:00:00.000001+01:00 h a - - - x",
			body:  "1 2024-03-10T13:00:00.000001+01:00 h a - - - x",
			host:  "h",
			ts:    time.Date(2024, 3, 10, 12, 0, 0, 1000, time.UTC),
			pri:   event.DEBUG,
			attrs: []string{"syslogfacility=23", "syslogseverity=7", "sysloghost=h", "syslogapp=a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := toEvent(t, time.UTC, tt.frame, arrival)
			if string(e.Body) != tt.body {
				t.Errorf("body = %q, want %q", e.Body, tt.body)
			}
			if e.Host != tt.host {
				t.Errorf("host = %q, want %q", e.Host, tt.host)
			}
			if got := e.Time(); !got.Equal(tt.ts) {
				t.Errorf("timestamp = %v, want %v", got.UTC(), tt.ts)
			}
			if e.Priority != tt.pri {
				t.Errorf("priority = %v, want %v", e.Priority, tt.pri)
			}
			if got := attrs(e); !slices.Equal(got, tt.attrs) {
				t.Errorf("attributes =\n%q\nwant\n%q", got, tt.attrs)
			}
		})
	}
}

func TestParseKeepsMalformedMessages(t *testing.T) {
	arrival := time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, frame string
		body        string
		attrs       []string // without syslogerror
		errPrefix   string
		ts          time.Time // zero: the arrival
	}{
		{"no PRI", "hello world", "hello world", nil, ErrNoPRI.Error(), time.Time{}},
		{"PRI over 191", "<192>Oct 11 22:14:15 h a: x", "<192>Oct 11 22:14:15 h a: x", nil, ErrNoPRI.Error(), time.Time{}},
		{"PRI with a leading zero", "<013>x", "<013>x", nil, ErrNoPRI.Error(), time.Time{}},
		{"PRI of four digits", "<0013>x", "<0013>x", nil, ErrNoPRI.Error(), time.Time{}},
		{"PRI not closed", "<13 x", "<13 x", nil, ErrNoPRI.Error(), time.Time{}},
		{"empty PRI", "<>x", "<>x", nil, ErrNoPRI.Error(), time.Time{}},
		{"binary", "\x00\xff\xfe<13>", "\x00\xff\xfe<13>", nil, ErrNoPRI.Error(), time.Time{}},
		{
			"rfc5424 bad timestamp", "<13>1 2003-13-11T22:14:15Z h a - - - x", "1 2003-13-11T22:14:15Z h a - - - x",
			[]string{"syslogfacility=1", "syslogseverity=5"}, "rfc5424 header: ", time.Time{},
		},
		{
			// The fields before the point where the header stopped are kept.
			"rfc5424 cut short", "<13>1 2003-10-11T22:14:15Z host app", "1 2003-10-11T22:14:15Z host app",
			[]string{"syslogfacility=1", "syslogseverity=5", "sysloghost=host"}, "rfc5424 header: ",
			time.Date(2003, 10, 11, 22, 14, 15, 0, time.UTC),
		},
		{
			// Structured data cut short is not kept.
			"rfc5424 bad structured data", `<13>1 - h a - - [x@1 k="v" msg`, `1 - h a - - [x@1 k="v" msg`,
			[]string{"syslogfacility=1", "syslogseverity=5", "sysloghost=h", "syslogapp=a"}, "rfc5424 header: ",
			time.Time{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := toEvent(t, time.UTC, tt.frame, arrival)
			if string(e.Body) != tt.body {
				t.Errorf("body = %q, want %q", e.Body, tt.body)
			}
			msg, ok := e.Attr(AttrError)
			if !ok || !strings.HasPrefix(string(msg), tt.errPrefix) {
				t.Errorf("syslogerror = %q (set: %v), want it to start with %q", msg, ok, tt.errPrefix)
			}
			e.DeleteAttr(AttrError)
			if got := attrs(e); !slices.Equal(got, tt.attrs) {
				t.Errorf("attributes = %q, want %q", got, tt.attrs)
			}
			want := tt.ts
			if want.IsZero() {
				want = arrival
			}
			if !e.Time().Equal(want) {
				t.Errorf("timestamp = %v, want %v", e.Time().UTC(), want)
			}
			if tt.attrs == nil && e.Priority != event.INFO {
				t.Errorf("priority = %v, want INFO without a PRI", e.Priority)
			}
		})
	}
}

func TestParsePlacesRFC3164TimesInTheYearNearestTheArrival(t *testing.T) {
	loc := time.FixedZone("UTC+2", 2*3600)
	tests := []struct {
		name    string
		stamp   string
		arrival time.Time
		want    time.Time
	}{
		{"same day", "Jun  1 10:00:00", time.Date(2024, 6, 1, 10, 0, 5, 0, loc), time.Date(2024, 6, 1, 10, 0, 0, 0, loc)},
		{"sent last year", "Dec 31 23:59:59", time.Date(2025, 1, 1, 0, 0, 1, 0, loc), time.Date(2024, 12, 31, 23, 59, 59, 0, loc)},
		{"sender clock ahead into next year", "Jan  1 00:00:02", time.Date(2024, 12, 31, 23, 59, 59, 0, loc), time.Date(2025, 1, 1, 0, 0, 2, 0, loc)},
		{"leap day", "Feb 29 12:00:00", time.Date(2024, 2, 29, 12, 0, 0, 0, loc), time.Date(2024, 2, 29, 12, 0, 0, 0, loc)},
		{"second fractions", "Jun  1 10:00:00.125", time.Date(2024, 6, 1, 10, 0, 5, 0, loc), time.Date(2024, 6, 1, 10, 0, 0, 125e6, loc)},
		{"zero-padded day", "Jun 01 10:00:00", time.Date(2024, 6, 1, 10, 0, 5, 0, loc), time.Date(2024, 6, 1, 10, 0, 0, 0, loc)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := toEvent(t, loc, "<13>"+tt.stamp+" host app: x", tt.arrival)
			if got := e.Time(); !got.Equal(tt.want) {
				t.Errorf("timestamp = %v, want %v", got.In(loc), tt.want)
			}
		})
	}
}

func TestParseMapsSeverityToPriorityAsClassic(t *testing.T) {
	want := []event.Priority{event.FATAL, event.FATAL, event.FATAL, event.ERROR, event.WARN, event.INFO, event.INFO, event.DEBUG}
	for sev, p := range want {
		for _, facility := range []int{0, 23} {
			pri := facility*8 + sev
			e := toEvent(t, time.UTC, "<"+strconv.Itoa(pri)+">x", time.Unix(0, 1))
			if e.Priority != p {
				t.Errorf("<%d>: priority %v, want %v", pri, e.Priority, p)
			}
			if f, _ := e.Attr(AttrFacility); len(f) != 1 || int(f[0]) != facility {
				t.Errorf("<%d>: facility %v, want %d", pri, f, facility)
			}
			if s, _ := e.Attr(AttrSeverity); len(s) != 1 || int(s[0]) != sev {
				t.Errorf("<%d>: severity %v, want %d", pri, s, sev)
			}
		}
	}
}

// TestBatchReuseDropsOldAttributes checks that an event slot reused for another message does
// not keep the attributes of its last one.
func TestBatchReuseDropsOldAttributes(t *testing.T) {
	p := newParser(time.UTC)
	b := newBatch(nil)
	var m message
	p.parse([]byte("<13>1 - host app 1 ID [a b=\"c\"] x"), 1, &m)
	b.add(&m, 1, "localhost")
	b.reset()
	p.parse([]byte("<13>plain"), 2, &m)
	b.add(&m, 2, "localhost")
	e := b.events()[0]
	if got, want := attrs(e), []string{"syslogfacility=1", "syslogseverity=5"}; !slices.Equal(got, want) {
		t.Errorf("attributes after reuse = %q, want %q", got, want)
	}
	if string(e.Body) != "plain" || e.Host != "localhost" || e.Timestamp != 2 {
		t.Errorf("event after reuse = %q %q %d", e.Body, e.Host, e.Timestamp)
	}
}
