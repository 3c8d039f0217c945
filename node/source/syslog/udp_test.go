package syslog

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/source/internal/record"
)

func TestUDPOneMessagePerDatagram(t *testing.T) {
	env := newEnv(map[string]string{"flume.event.max.size.bytes": "100"})
	s := openSource(t, env, "syslogUdp(0)")
	c := dial(t, s, "udp")
	datagrams := []string{
		"<13>Oct 11 22:14:15 host app: first\n",
		"<14>two\nlines",
		"<15>crlf\r\n",
		"no pri",
		"\n", // empty once its newline is dropped: no event
		"<13>" + strings.Repeat("y", 200),
	}
	for _, d := range datagrams {
		write(t, c, d)
	}
	evs := collect(t, s, 5)
	want := []string{"Oct 11 22:14:15 host app: first", "two\nlines", "crlf", "no pri", strings.Repeat("y", 96)}
	if got := plugintest.Bodies(evs); !slices.Equal(got, want) {
		t.Fatalf("bodies = %q, want %q", got, want)
	}
	if evs[0].Host != "host" {
		t.Errorf("host = %q, want the header's", evs[0].Host)
	}
	if _, ok := evs[3].Attr(AttrError); !ok {
		t.Errorf("the message without a PRI has no syslogerror")
	}
	for name, want := range map[string]int64{"parse_errors": 1, "events_truncated": 1, "events_in": 5, "events_dropped": 0} {
		if got := env.Counter("syslogUdp." + name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}

// TestUDPDropsWhileTheFlowIsBehind sends datagrams to a source that nobody reads: it keeps one
// batch of them and drops and counts the rest. Datagrams go in small groups, each waited for,
// so that none is lost in the kernel where nobody could count it.
func TestUDPDropsWhileTheFlowIsBehind(t *testing.T) {
	env := newEnv(nil)
	s := openSource(t, env, "syslogUdp(0)")
	c := dial(t, s, "udp")
	const total, group = 3 * batchEvents, 50
	dropped := func() int64 { return env.Counter("syslogUdp.events_dropped") }
	for sent := 0; sent < total; {
		for range group {
			write(t, c, fmt.Sprintf("<13>message %d", sent))
			sent++
		}
		plugintest.Eventually(t, wait, func() bool { return int64(s.held())+dropped() == int64(sent) },
			func() string { return fmt.Sprintf("%d held and %d dropped of %d sent", s.held(), dropped(), sent) })
	}
	if s.held() != batchEvents || dropped() != total-batchEvents {
		t.Fatalf("%d held and %d dropped, want %d and %d", s.held(), dropped(), batchEvents, total-batchEvents)
	}
	// The first messages are kept, in order; then the flow catches up.
	if got, want := bodiesWithPRI(collect(t, s, batchEvents)), numbered(batchEvents); !slices.Equal(got, want) {
		t.Fatalf("kept %q, want %q", plugintest.Short(got), plugintest.Short(want))
	}
	write(t, c, "<13>after")
	if got := plugintest.Bodies(collect(t, s, 1)); got[0] != "after" {
		t.Fatalf("after the flow caught up: %q", got)
	}
}

func TestUDPStopDeliversWhatWasRead(t *testing.T) {
	s := openSource(t, newEnv(nil), "syslogUdp(0)")
	c := dial(t, s, "udp")
	sent := numbered(100)
	for _, m := range sent {
		write(t, c, m)
	}
	plugintest.Eventually(t, wait, func() bool { return s.held() == len(sent) },
		func() string { return fmt.Sprintf("the source holds %d events, want %d", s.held(), len(sent)) })
	evs, err := plugintest.Stop(t, s, wait, record.MaxBatch)
	if !errors.Is(err, io.EOF) {
		t.Errorf("last Next = %v, want io.EOF", err)
	}
	if got := bodiesWithPRI(evs); !slices.Equal(got, sent) {
		t.Fatalf("delivered after the stop %q, want %q", plugintest.Short(got), plugintest.Short(sent))
	}
}
