package tail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
)

func TestMain(m *testing.M) {
	// Orphans are released after 10 poll periods; tests poll every 10 ms, and need not wait
	// for the floor real polling periods get.
	minIdle = 300 * time.Millisecond
	goleak.VerifyTestMain(m)
}

// fastPoll keeps tests quick: tail checks the file every 10 ms.
var fastPoll = map[string]string{"flume.tail.pollperiod": "10"}

// newEnv returns an env whose registry holds the tail sources.
func newEnv(props map[string]string) *plugintest.Env {
	return plugintest.NewEnv(props, Register)
}

func tailSpec(path string, extra string) string {
	return fmt.Sprintf("tail(%q%s)", path, extra)
}

// reader collects events from a source.
type reader struct {
	t   testing.TB
	s   plugin.Source
	got []*event.Event
}

// until reads until it has n events in all, failing after a deadline or on more events.
func (r *reader) until(n int) []string {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(r.got) < n {
		batch, err := r.s.Next(ctx)
		if err != nil {
			r.t.Fatalf("Next after %d of %d events: %v (got %q)", len(r.got), n, err, plugintest.Short(plugintest.Bodies(r.got)))
		}
		for _, e := range batch {
			r.got = append(r.got, e.Clone())
		}
	}
	if len(r.got) > n {
		r.t.Fatalf("got %d events, want %d: %q", len(r.got), n, plugintest.Short(plugintest.Bodies(r.got)))
	}
	return plugintest.Bodies(r.got)
}

// untilLast reads until an event with body last arrives, failing on any event after it, and
// returns every event read.
func (r *reader) untilLast(last string) []*event.Event {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for n := len(r.got); n == 0 || string(r.got[n-1].Body) != last; n = len(r.got) {
		batch, err := r.s.Next(ctx)
		if err != nil {
			r.t.Fatalf("Next after %d events: %v", len(r.got), err)
		}
		for _, e := range batch {
			if k := len(r.got); k > 0 && string(r.got[k-1].Body) == last {
				r.t.Fatalf("event %q after %q", e.Body, last)
			}
			r.got = append(r.got, e.Clone())
		}
	}
	return r.got
}

// quiet checks that no event arrives for a while.
func (r *reader) quiet(d time.Duration) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	batch, err := r.s.Next(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		r.t.Fatalf("expected no event, got %q, %v", plugintest.Short(plugintest.Bodies(batch)), err)
	}
}

func appendTo(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// age makes path look idle for an hour: its unterminated last line is then emitted at Close.
func age(t testing.TB, path string) {
	t.Helper()
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, past, past); err != nil {
		t.Fatal(err)
	}
}

func logPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "app.log")
}
