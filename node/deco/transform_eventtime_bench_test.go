package deco

import (
	"fmt"
	"testing"

	"github.com/flumego/flume/node/event"
)

// linesWith returns n events whose bodies are format filled with the event's number.
func linesWith(n int, format string) []*event.Event {
	out := make([]*event.Event, n)
	for i := range out {
		out[i] = eventOf(fmt.Sprintf(format, i%60, i))
	}
	return out
}

func BenchmarkEventTimeRFC3339(b *testing.B) {
	benchPerEvent(b, `eventTime`, linesWith(100, "2010-07-29T12:00:%02d.123+02:00 INFO request %d served"))
}

func BenchmarkEventTimeSyslog(b *testing.B) {
	benchPerEvent(b, `eventTime`, linesWith(100, "Jul 29 12:00:%02d web-1 sshd[%d]: session opened"))
}

func BenchmarkEventTimeEpochMillis(b *testing.B) {
	benchPerEvent(b, `eventTime`, linesWith(100, "12804048050%02d request %d"))
}

// BenchmarkEventTimeAccessLog finds the time with a regex: one allocation per event, the
// match indexes regexp returns.
func BenchmarkEventTimeAccessLog(b *testing.B) {
	benchPerEvent(b, `eventTime("\\[([^\\]]+)\\]")`, benchLines(100))
}

func BenchmarkEventTimePattern(b *testing.B) {
	benchPerEvent(b, `eventTime("", "yyyy-MM-dd HH:mm:ss")`, linesWith(100, "2010-07-29 12:00:%02d request %d"))
}

func BenchmarkEventTimeGoLayout(b *testing.B) {
	benchPerEvent(b, `eventTime("^(\\S+ \\S+)", layout="2006-01-02 15:04:05")`,
		linesWith(100, "2010-07-29 12:00:%02d request %d"))
}

func BenchmarkEventTimeUnparsed(b *testing.B) {
	benchPerEvent(b, `eventTime`, linesWith(100, "no time in line %d of %d"))
}
