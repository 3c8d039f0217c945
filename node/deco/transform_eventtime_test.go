package deco

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
)

// arrival is the timestamp eventOf gives: the time a source read the line.
const arrival = 1_280_404_805_123_456_789

func utc(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
}

// timeOf runs body through the decorator text and returns the timestamp it comes out with.
func timeOf(t *testing.T, text, body string) time.Time {
	t.Helper()
	got := runThrough(t, testEnv(), text, []*event.Event{eventOf(body, "a", "b")})
	if len(got) != 1 {
		t.Fatalf("%d events out of 1", len(got))
	}
	if v, _ := got[0].Attr("a"); string(v) != "b" || string(got[0].Body) != body || got[0].Host != "web-1" {
		t.Errorf("event changed beyond its timestamp: %+v", got[0])
	}
	return time.Unix(0, got[0].Timestamp)
}

func TestEventTimeReadsTheTimeInTheBody(t *testing.T) {
	access := `10.0.0.1 - - [29/Jul/2010:12:00:05 -0700] "GET / HTTP/1.1" 200 5`
	tests := []struct {
		name, text, body string
		want             time.Time
	}{
		{"rfc3339", `eventTime(zone="UTC")`, "2010-07-29T12:00:05Z GET /", utc(2010, 7, 29, 12, 0, 5, 0)},
		{"rfc3339 fraction and offset", `eventTime`, "2010-07-29T12:00:05.123456789+02:00 x", utc(2010, 7, 29, 10, 0, 5, 123456789)},
		{"fraction past nanoseconds", `eventTime`, "2010-07-29T12:00:05.1234567891Z", utc(2010, 7, 29, 12, 0, 5, 123456789)},
		{"log4j style", `eventTime(zone="UTC")`, "2010-07-29 12:00:05,123 INFO x", utc(2010, 7, 29, 12, 0, 5, 123e6)},
		{"offset without colon", `eventTime`, "2010-07-29t12:00:05-0700 x", utc(2010, 7, 29, 19, 0, 5, 0)},
		{"offset of hours", `eventTime`, "2010-07-29T12:00:05+05 x", utc(2010, 7, 29, 7, 0, 5, 0)},
		{"zone as an offset", `eventTime(zone="+05:30")`, "2010-07-29 12:00:05 x", utc(2010, 7, 29, 6, 30, 5, 0)},
		{"zone by name", `eventTime(zone="America/New_York")`, "2010-07-29 12:00:05 x", utc(2010, 7, 29, 16, 0, 5, 0)},
		{"local zone by default", `eventTime`, "2010-07-29 12:00:05 x", time.Date(2010, 7, 29, 12, 0, 5, 0, time.Local)},
		{"access log", `eventTime("\\[([^\\]]+)\\]")`, access, utc(2010, 7, 29, 19, 0, 5, 0)},
		{"access log without offset", `eventTime("\\[([^\\]]+)\\]", zone="UTC")`, "[29/jul/2010:12:00:05] x", utc(2010, 7, 29, 12, 0, 5, 0)},
		{"epoch seconds", `eventTime`, "1280404805 x", utc(2010, 7, 29, 12, 0, 5, 0)},
		{"epoch seconds with fraction", `eventTime`, "1280404805.25 x", utc(2010, 7, 29, 12, 0, 5, 250e6)},
		{"epoch milliseconds", `eventTime`, "1280404805123\tx", utc(2010, 7, 29, 12, 0, 5, 123e6)},
		{"epoch microseconds", `eventTime`, "1280404805123456", utc(2010, 7, 29, 12, 0, 5, 123456e3)},
		{"epoch nanoseconds", `eventTime`, "1280404805123456789 x", utc(2010, 7, 29, 12, 0, 5, 123456789)},
		{"epoch before 2001", `eventTime`, "999999999 x", time.Unix(999999999, 0)},
		{"regex group", `eventTime("time=(\\S+)")`, "level=info time=2010-07-29T12:00:05Z msg=x", utc(2010, 7, 29, 12, 0, 5, 0)},
		{"regex without a group", `eventTime("\\d{10}")`, "ts=1280404805 msg", utc(2010, 7, 29, 12, 0, 5, 0)},
		{"pattern at the start", `eventTime("", "yyyy/MM/dd HH:mm", zone="UTC")`, "2010/07/29 12:00 rest", utc(2010, 7, 29, 12, 0, 0, 0)},
		{"pattern in a group", `eventTime("at (.*)$", "dd MMM yyyy HH:mm:ss Z")`, "started at 29 Jul 2010 12:00:05 +0200", utc(2010, 7, 29, 10, 0, 5, 0)},
		{"go layout", `eventTime("^(\\S+)", layout="02.01.2006-15:04:05", zone="UTC")`, "29.07.2010-12:00:05 x", utc(2010, 7, 29, 12, 0, 5, 0)},
		{"go layout with offset", `eventTime("<(.*)>", layout="2006-01-02 15:04:05 -0700")`, "<2010-07-29 12:00:05 -0100> x", utc(2010, 7, 29, 13, 0, 5, 0)},
		{"alias", `exTime(zone="UTC")`, "2010-07-29T12:00:05Z", utc(2010, 7, 29, 12, 0, 5, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := timeOf(t, tt.text, tt.body); !got.Equal(tt.want) {
				t.Fatalf("time %v, want %v", got.UTC(), tt.want.UTC())
			}
		})
	}
}

// TestEventTimeSyslogYear checks that a syslog time, which has no year, gets the year that
// puts it nearest the node's clock.
func TestEventTimeSyslogYear(t *testing.T) {
	tests := []struct {
		name string
		now  time.Time
		body string
		want time.Time
	}{
		{"this year", utc(2024, 6, 15, 0, 0, 0, 0), "Jul 29 12:00:05 host app: x", utc(2024, 7, 29, 12, 0, 5, 0)},
		{"space-padded day", utc(2024, 6, 15, 0, 0, 0, 0), "Jan  2 03:04:05 host", utc(2024, 1, 2, 3, 4, 5, 0)},
		{"zero-padded day, fraction", utc(2024, 6, 15, 0, 0, 0, 0), "Jan 02 03:04:05.250 host", utc(2024, 1, 2, 3, 4, 5, 250e6)},
		{"unpadded day", utc(2024, 6, 15, 0, 0, 0, 0), "jan 2 03:04:05 host", utc(2024, 1, 2, 3, 4, 5, 0)},
		{"December line read in January", utc(2024, 1, 1, 0, 0, 10, 0), "Dec 31 23:59:58 h", utc(2023, 12, 31, 23, 59, 58, 0)},
		{"clock ahead at New Year", utc(2024, 12, 31, 23, 59, 0, 0), "Jan  1 00:00:05 h", utc(2025, 1, 1, 0, 0, 5, 0)},
		{"leap day in a common year", utc(2025, 3, 1, 0, 0, 0, 0), "Feb 29 10:00:00 h", utc(2024, 2, 29, 10, 0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &testSink{}
			d := mustBuild(t, testEnv(), `eventTime(zone="UTC")`, sink)
			d.(*eventTimeDeco).now = func() time.Time { return tt.now }
			mustOpen(t, d)
			if err := appendChecked(t, d, eventOf(tt.body)); err != nil {
				t.Fatal(err)
			}
			got := time.Unix(0, sink.events()[0].Timestamp)
			if !got.Equal(tt.want) {
				t.Fatalf("time %v, want %v", got.UTC(), tt.want)
			}
		})
	}
}

// TestEventTimeKeepsTheArrivalTime checks that an event whose time cannot be found or read
// passes on unchanged, and is counted.
func TestEventTimeKeepsTheArrivalTime(t *testing.T) {
	tests := []struct {
		text, body string
		counter    string
	}{
		{`eventTime`, "hello world", "unparsed"},
		{`eventTime`, "", "unparsed"},
		{`eventTime`, "12345 rows", "unparsed"},
		{`eventTime`, "20240101 rows", "unparsed"},
		{`eventTime`, "1700000000abc", "unparsed"},
		{`eventTime`, "99999999999999999999 x", "unparsed"},
		{`eventTime`, "9999999999999999999 x", "unparsed"},
		{`eventTime`, "2010-13-29T12:00:05Z", "unparsed"},
		{`eventTime`, "2010-02-30 12:00:00", "unparsed"},
		{`eventTime`, "2010-07-29T24:00:05Z", "unparsed"},
		{`eventTime`, "2010-07-29", "unparsed"},
		{`eventTime`, "9999-07-29T12:00:00Z", "unparsed"},
		{`eventTime`, "Foo 29 12:00:05 x", "unparsed"},
		{`eventTime`, "Jul 32 12:00:05 x", "unparsed"},
		{`eventTime`, "32/Jul/2010:12:00:05 +0000", "unparsed"},
		{`eventTime("time=(\\S+)")`, "no time here", "unmatched"},
		{`eventTime("time=(\\S+)")`, "time=2010-07-29T12:00:05Zjunk", "unparsed"},
		{`eventTime("(a)|(b)")`, "b", "unmatched"},
		{`eventTime("", "yyyy-MM-dd")`, "July 29", "unparsed"},
		{`eventTime("(\\S+)", "yyyy-MM-dd")`, "2010-07-29T12", "unparsed"},
		{`eventTime("(\\S+)", layout="2006-01-02")`, "2010-07-29T12", "unparsed"},
		{`exTime("x(y)")`, "z", "unmatched"},
	}
	for _, tt := range tests {
		t.Run(tt.text+" "+tt.body, func(t *testing.T) {
			env := testEnv()
			in := eventOf(tt.body, "a", "b")
			got := runThrough(t, env, tt.text, []*event.Event{in})
			sameEvents(t, got, []*event.Event{in})
			name := strings.SplitN(tt.text, "(", 2)[0]
			if n := env.Counter(name + "." + tt.counter); n != 1 {
				t.Errorf("%s.%s = %d, want 1", name, tt.counter, n)
			}
		})
	}
}

// TestEventTimeMixedBatch checks that a batch keeps its order and size, and that each event
// gets its own time or keeps its own.
func TestEventTimeMixedBatch(t *testing.T) {
	env := testEnv()
	in := []*event.Event{
		eventOf("2010-07-29T12:00:05Z a"),
		eventOf("no time"),
		eventOf("1280404806 b"),
	}
	got := runThrough(t, env, `eventTime`, in, []*event.Event{eventOf("also none")})
	want := []int64{utc(2010, 7, 29, 12, 0, 5, 0).UnixNano(), arrival, utc(2010, 7, 29, 12, 0, 6, 0).UnixNano(), arrival}
	if len(got) != len(want) {
		t.Fatalf("%d events out, want %d", len(got), len(want))
	}
	for i, e := range got {
		if e.Timestamp != want[i] {
			t.Errorf("event %d %q: timestamp %d, want %d", i, e.Body, e.Timestamp, want[i])
		}
	}
	for name, want := range map[string]int64{"events_in": 4, "events_out": 4, "unparsed": 2, "unmatched": 0} {
		if n := env.Counter("eventTime." + name); n != want {
			t.Errorf("eventTime.%s = %d, want %d", name, n, want)
		}
	}
}

func TestEventTimeArguments(t *testing.T) {
	tests := []struct{ text, want string }{
		{`eventTime("(")`, `1:11: eventTime: argument regex: error parsing regexp`},
		{`eventTime("", "yyyy-MM-ddTHH")`, `1:15: eventTime: argument pattern: invalid date pattern`},
		{`eventTime(layout="2006")`, `1:18: eventTime: argument layout: a Go layout must match the whole time: give a regex that captures it`},
		{`eventTime("(x)", "yyyy", layout="2006")`, `eventTime: argument layout: give a SimpleDateFormat pattern or a Go layout, not both`},
		{`eventTime("(x)", layout="")`, `eventTime: argument layout: empty layout`},
		{`eventTime(zone="Mars/Olympus")`, `1:16: eventTime: argument zone: unknown zone "Mars/Olympus"`},
		{`eventTime(zone="+25:00")`, `eventTime: argument zone: bad zone offset "+25:00"`},
		{`exTime(zone="+0100x")`, `exTime: argument zone: bad zone offset "+0100x"`},
		{`eventTime("a", "b", "c")`, `eventTime: too many arguments`},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			_, err := testEnv().BuildDecorator(t, tt.text, &testSink{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("build error %v, want %q", err, tt.want)
			}
			name := strings.SplitN(tt.text, "(", 2)[0]
			if usage := "; usage: " + name + eventTimeUsage; !strings.HasSuffix(err.Error(), usage) {
				t.Errorf("error %q does not end with %q", err, usage)
			}
		})
	}
}

// TestEventTimeAllocations checks the promise of the doc: nothing allocated per event without
// a regex, one small allocation per event with one.
func TestEventTimeAllocations(t *testing.T) {
	common := []string{"2010-07-29T12:00:05.123Z x", "Jul 29 12:00:05 host x", "1280404805123 x",
		"29/Jul/2010:12:00:05 -0700 x", "no time at all"}
	tests := []struct {
		text     string
		bodies   []string
		perEvent float64
	}{
		{`eventTime`, common, 0},
		{`eventTime(zone="Europe/Paris")`, common, 0},
		{`eventTime("", "MMM dd HH:mm:ss")`, []string{"Jul 29 12:00:05 host x"}, 0},
		{`eventTime("\\[(.*)\\]", layout="02/Jan/2006:15:04:05 -0700")`, []string{"[29/Jul/2010:12:00:05 -0700] x"}, 1},
		{`eventTime("^(\\S+)")`, common, 1},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			if raceDetector && tt.perEvent > 0 {
				t.Skip("regexp pools its matchers, and sync.Pool drops items under the race detector")
			}
			batch := make([]*event.Event, 100)
			for i := range batch {
				batch[i] = eventOf(tt.bodies[i%len(tt.bodies)])
			}
			d := mustBuild(t, testEnv(), tt.text, discardSink{})
			mustOpen(t, d)
			ctx := context.Background()
			allocs := testing.AllocsPerRun(50, func() {
				if err := d.Append(ctx, batch); err != nil {
					t.Fatal(err)
				}
			})
			if limit := tt.perEvent * float64(len(batch)); allocs > limit {
				t.Errorf("%v allocations per batch of %d, want at most %v", allocs, len(batch), limit)
			}
		})
	}
}

// FuzzParseCommon checks that the common-format parser never panics, never reads past its
// input and agrees with itself.
func FuzzParseCommon(f *testing.F) {
	for _, s := range []string{"2010-07-29T12:00:05.123+02:00", "Jul 29 12:00:05", "29/Jul/2010:12:00:05 -0700",
		"1280404805.5", "1280404805123456789", "2010-07-29 12:00:05,1", "Feb 29 00:00:00"} {
		f.Add(s)
	}
	now := utc(2024, 6, 15, 0, 0, 0, 0)
	f.Fuzz(func(t *testing.T, s string) {
		ts, n, ok := parseCommon([]byte(s), time.UTC, now)
		if !ok {
			return
		}
		if n <= 0 || n > len(s) {
			t.Fatalf("parseCommon(%q) read %d bytes", s, n)
		}
		// What it read parses alone to the same instant.
		ts2, n2, ok2 := parseCommon([]byte(s[:n]), time.UTC, now)
		if !ok2 || n2 != n || ts2 != ts {
			t.Fatalf("parseCommon(%q) = %d, %d; of its first %d bytes = %d, %d, %v", s, ts, n, n, ts2, n2, ok2)
		}
	})
}

func TestEventTimeIsRegisteredWithItsAlias(t *testing.T) {
	env := testEnv()
	for _, name := range []string{"eventTime", "exTime"} {
		e, ok := env.Registry.Lookup(plugin.KindDecorator, name)
		if !ok {
			t.Fatalf("%s is not registered", name)
		}
		if want := name + `(["regex"[, "pattern"]]{, layout="Go layout", zone="Local"})`; e.Usage() != want || e.Doc == "" {
			t.Errorf("%s: usage %q, doc %q; want usage %q and a doc", name, e.Usage(), e.Doc, want)
		}
	}
}

// TestEventTimeLifecycle checks that eventTime opens and closes the sink it feeds, and may be
// closed without being opened, and twice.
func TestEventTimeLifecycle(t *testing.T) {
	ctx := context.Background()
	sink := &testSink{}
	d := mustBuild(t, testEnv(), `eventTime`, sink)
	for range 2 {
		if err := d.Close(ctx); err != nil {
			t.Fatalf("Close without Open: %v", err)
		}
	}
	mustOpen(t, d)
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if opens, _, closes := sink.counts(); opens != 1 || closes != 3 {
		t.Errorf("next sink opened %d times and closed %d, want 1 and 3", opens, closes)
	}
}
