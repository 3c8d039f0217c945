package syslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/source/internal/record"
)

func TestTCPReadsNewlineAndOctetCountedConnections(t *testing.T) {
	env := newEnv(nil)
	s := openSource(t, env, "syslogTcp(0)")
	lines, octets := dial(t, s, "tcp"), dial(t, s, "tcp")
	var wantLines, wantOctets []string
	for i := range 50 {
		a := fmt.Sprintf("<13>line %d", i)
		b := fmt.Sprintf("<14>octet %d\nwith a newline", i)
		wantLines, wantOctets = append(wantLines, a), append(wantOctets, b)
		write(t, lines, a+"\n")
		write(t, octets, strconv.Itoa(len(b))+" "+b)
	}
	evs := collect(t, s, 100)
	var gotLines, gotOctets []string
	for _, e := range evs {
		line := withPRI(e)
		if strings.HasPrefix(line, "<13>") {
			gotLines = append(gotLines, line)
		} else {
			gotOctets = append(gotOctets, line)
		}
	}
	if !slices.Equal(gotLines, wantLines) {
		t.Errorf("newline connection gave %q, want %q", plugintest.Short(gotLines), plugintest.Short(wantLines))
	}
	if !slices.Equal(gotOctets, wantOctets) {
		t.Errorf("octet-counted connection gave %q, want %q", plugintest.Short(gotOctets), plugintest.Short(wantOctets))
	}
	if got := env.Counter("syslogTcp.connections"); got != 2 {
		t.Errorf("connections = %d, want 2", got)
	}
	if got := env.Counter("syslogTcp.events_in"); got != 100 {
		t.Errorf("events_in = %d, want 100", got)
	}
}

func TestTCPEventsCarryTheHeader(t *testing.T) {
	s := openSource(t, newEnv(nil), "syslogTcp(0)")
	c := dial(t, s, "tcp")
	write(t, c, `<165>1 2003-10-11T22:14:15.003Z web7 nginx 812 REQ [req@1 status="200"] GET /`+"\n")
	e := collect(t, s, 1)[0]
	if string(e.Body) != `1 2003-10-11T22:14:15.003Z web7 nginx 812 REQ [req@1 status="200"] GET /` {
		t.Errorf("body = %q", e.Body)
	}
	if e.Host != "web7" || !e.Time().Equal(time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC)) {
		t.Errorf("host %q, time %v", e.Host, e.Time().UTC())
	}
	want := []string{"syslogfacility=20", "syslogseverity=5", "sysloghost=web7", "syslogapp=nginx",
		"syslogprocid=812", "syslogmsgid=REQ", "syslogsd.req@1.status=200"}
	if got := attrs(e); !slices.Equal(got, want) {
		t.Errorf("attributes = %q, want %q", got, want)
	}
}

func TestTCPKeepsMalformedMessagesAndCountsThem(t *testing.T) {
	env := newEnv(nil)
	s := openSource(t, env, "syslogTcp(0)")
	c := dial(t, s, "tcp")
	write(t, c, "<13>good\nno pri here\n<13>1 2003-99-11T22:14:15Z h a - - - bad time\n<13>good again\n")
	evs := collect(t, s, 4)
	wantBodies := []string{"good", "no pri here", "1 2003-99-11T22:14:15Z h a - - - bad time", "good again"}
	if got := plugintest.Bodies(evs); !slices.Equal(got, wantBodies) {
		t.Fatalf("bodies = %q, want %q", got, wantBodies)
	}
	for i, e := range evs {
		_, hasErr := e.Attr(AttrError)
		if want := i == 1 || i == 2; hasErr != want {
			t.Errorf("event %d (%q): syslogerror set %v, want %v", i, e.Body, hasErr, want)
		}
	}
	if got := env.Counter("syslogTcp.parse_errors"); got != 2 {
		t.Errorf("parse_errors = %d, want 2", got)
	}
}

func TestTCPAppliesTheSizeLimit(t *testing.T) {
	tests := []struct {
		spec    string
		bodies  []string
		counter string
	}{
		{"syslogTcp(0)", []string{strings.Repeat("x", 96), "short"}, "syslogTcp.events_truncated"},
		{`syslogTcp(0, oversize="reject")`, []string{"short"}, "syslogTcp.events_rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			env := newEnv(map[string]string{"flume.event.max.size.bytes": "100"})
			s := openSource(t, env, tt.spec)
			c := dial(t, s, "tcp")
			write(t, c, "<13>"+strings.Repeat("x", 500)+"\n<13>short\n")
			if got := plugintest.Bodies(collect(t, s, len(tt.bodies))); !slices.Equal(got, tt.bodies) {
				t.Fatalf("bodies = %q, want %q", got, tt.bodies)
			}
			if got := env.Counter(tt.counter); got != 1 {
				t.Errorf("%s = %d, want 1", tt.counter, got)
			}
		})
	}
}

func TestTCP1EndsWhenItsConnectionCloses(t *testing.T) {
	env := newEnv(nil)
	s := openSource(t, env, "syslogTcp1(0)")
	c := dial(t, s, "tcp")
	write(t, c, "<13>one\n<13>two\n<13>unterminated")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	got := plugintest.Bodies(drainToEOF(t, s))
	if want := []string{"one", "two", "unterminated"}; !slices.Equal(got, want) {
		t.Fatalf("bodies = %q, want %q", got, want)
	}
	// One connection only: the port is closed after it.
	if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Addr().(*net.TCPAddr).Port))); err == nil {
		c.Close()
		t.Error("a second connection was accepted")
	}
	if got := env.Counter("syslogTcp1.connections_open"); got != 0 {
		t.Errorf("connections_open = %d, want 0", got)
	}
}

func TestTCPStopDeliversWhatWasRead(t *testing.T) {
	for _, spec := range []string{"syslogTcp(0)", "syslogTcp1(0)"} {
		t.Run(spec, func(t *testing.T) {
			s := openSource(t, newEnv(nil), spec)
			c := dial(t, s, "tcp")
			sent := numbered(300)
			write(t, c, strings.Join(sent, "\n")+"\n"+"<13>partial")
			// The unterminated last message is held back until the stop.
			plugintest.Eventually(t, wait, func() bool { return s.held() == 300 },
				func() string { return fmt.Sprintf("the source holds %d events, want 300", s.held()) })
			evs, err := plugintest.Stop(t, s, wait, record.MaxBatch)
			if !errors.Is(err, io.EOF) {
				t.Errorf("last Next = %v, want io.EOF", err)
			}
			if got, want := bodiesWithPRI(evs), append(sent, "<13>partial"); !slices.Equal(got, want) {
				t.Fatalf("delivered after the stop %q, want %q", plugintest.Short(got), plugintest.Short(want))
			}
			// The message was cut short by the stop.
			last := evs[len(evs)-1]
			if msg, _ := last.Attr(AttrError); string(msg) != ErrCut.Error() {
				t.Errorf("syslogerror of the unterminated message = %q, want %q", msg, ErrCut)
			}
			if _, ok := evs[0].Attr(AttrError); ok {
				t.Errorf("a whole message has a syslogerror")
			}
		})
	}
}

// TestTCPStopDeliversMoreThanTheQueueHolds stops a source whose connection has filled its
// queue and has more messages read: they are delivered too, in batches of at most
// record.MaxBatch.
func TestTCPStopDeliversMoreThanTheQueueHolds(t *testing.T) {
	s := openSource(t, newEnv(nil), "syslogTcp(0)")
	c := dial(t, s, "tcp")
	sent := numbered(5000)
	write(t, c, strings.Join(sent, "\n")+"\n")
	// The queue is full: the connection waits with the rest of what it read.
	plugintest.Eventually(t, wait, func() bool { return s.held() == batchEvents },
		func() string { return fmt.Sprintf("the source holds %d events, want %d", s.held(), batchEvents) })
	evs, err := plugintest.Stop(t, s, wait, record.MaxBatch)
	if !errors.Is(err, io.EOF) {
		t.Errorf("last Next = %v, want io.EOF", err)
	}
	got := bodiesWithPRI(evs)
	if len(got) <= batchEvents || len(got) > len(sent) {
		t.Fatalf("delivered %d events after the stop, want more than %d", len(got), batchEvents)
	}
	// The last message read may be cut short by the stop: then it is marked.
	last := len(got) - 1
	if msg, ok := evs[last].Attr(AttrError); ok {
		// Cut inside its PRI, the whole of what came is the body.
		cut := string(evs[last].Body)
		if _, ok := evs[last].Attr(AttrFacility); ok {
			cut = withPRI(evs[last])
		}
		if string(msg) != ErrCut.Error() || !strings.HasPrefix(sent[last], cut) {
			t.Errorf("last event %q has syslogerror %q; want a cut short %q", cut, msg, sent[last])
		}
		got = got[:last]
	}
	if !slices.Equal(got, sent[:len(got)]) {
		t.Fatalf("delivered %q, want the messages in the order sent", plugintest.Short(got))
	}
}

func TestCloseEndsAWaitingNext(t *testing.T) {
	for _, spec := range []string{"syslogUdp(0)", "syslogTcp(0)", "syslogTcp1(0)"} {
		t.Run(spec, func(t *testing.T) {
			s := openSource(t, newEnv(nil), spec)
			call := plugintest.GoNext(context.Background(), s)
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if r := call.Wait(t, wait); !errors.Is(r.Err, io.EOF) || len(r.Bodies) != 0 {
				t.Fatalf("Next = %q, %v; want io.EOF", r.Bodies, r.Err)
			}
		})
	}
}

func TestNextReturnsAtOnceWhenItsContextEnds(t *testing.T) {
	s := openSource(t, newEnv(nil), "syslogTcp(0)")
	ctx, cancel := context.WithCancel(context.Background())
	call := plugintest.GoNext(ctx, s)
	cancel()
	if r := call.Wait(t, wait); !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("Next = %v, want context.Canceled", r.Err)
	}
	// The source still works.
	write(t, dial(t, s, "tcp"), "<13>after\n")
	if got := plugintest.Bodies(collect(t, s, 1)); got[0] != "after" {
		t.Fatalf("bodies = %q", got)
	}
}

// TestTCPFloodSlowsTheSender writes to a source that nobody reads until the writes block:
// the source stops reading the connection once its queue is full, so what the sender gets
// through is bounded by the socket buffers, and the source holds at most a batch of events.
// Then everything written is delivered, in order.
func TestTCPFloodSlowsTheSender(t *testing.T) {
	s := openSource(t, newEnv(nil), "syslogTcp(0)")
	c := dial(t, s, "tcp")
	const limit = 256 << 20 // the writer gives up here: no backpressure
	msg := func(i int) string { return fmt.Sprintf("<13>msg %09d %s\n", i, strings.Repeat("x", 80)) }
	var chunk []byte
	sent, written := 0, 0
	var rest []byte // the part of the chunk that a blocked write did not write
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for rest == nil {
		if written > limit {
			t.Fatalf("wrote %d MiB without being slowed", written>>20)
		}
		chunk = chunk[:0]
		for len(chunk) < 64<<10 {
			chunk = append(chunk, msg(sent)...)
			sent++
		}
		if err := c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		n, err := c.Write(chunk)
		written += n
		if errors.Is(err, os.ErrDeadlineExceeded) {
			rest = chunk[n:]
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if held := s.held(); held > batchEvents {
		t.Errorf("the source holds %d events with nobody reading, want at most %d", held, batchEvents)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 32<<20 {
		t.Errorf("heap grew by %d MiB during the flood", grown>>20)
	}
	t.Logf("the sender was slowed after %.1f MiB; the source holds %d events", float64(written)/(1<<20), s.held())

	// Finish the blocked write and close, then read it all.
	if err := c.SetWriteDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	writer := plugintest.Go(func() error {
		if _, err := c.Write(rest); err != nil {
			return err
		}
		return c.Close()
	})
	evs := collect(t, s, sent)
	if err := writer.Wait(t, wait); err != nil {
		t.Fatal(err)
	}
	for i, e := range evs {
		if want := msg(i); "<13>"+string(e.Body)+"\n" != want {
			t.Fatalf("event %d = %q, want %q", i, e.Body, want)
		}
	}
}

func TestTCPMessageCutShortBySenderIsMarked(t *testing.T) {
	tests := []struct {
		name, input string
		body        string
		cut         bool
	}{
		// Classic Flume took the end of the stream as the end of the last line.
		{"unterminated line", "<13>one\n<13>last", "last", false},
		{"octet count not reached", "7 <13>one20 <13>last", "last", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openSource(t, newEnv(nil), "syslogTcp1(0)")
			c := dial(t, s, "tcp")
			write(t, c, tt.input)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			evs := drainToEOF(t, s)
			if got := plugintest.Bodies(evs); !slices.Equal(got, []string{"one", tt.body}) {
				t.Fatalf("bodies = %q", got)
			}
			msg, cut := evs[1].Attr(AttrError)
			if cut != tt.cut || (cut && string(msg) != ErrCut.Error()) {
				t.Errorf("syslogerror = %q (set %v), want set %v", msg, cut, tt.cut)
			}
		})
	}
}
