package tail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fastPoll keeps tests quick: tail checks the file every 10 ms.
var fastPoll = map[string]string{"flume.tail.pollperiod": "10"}

type env struct {
	bc *plugin.BuildContext
}

func newEnv(props map[string]string) *env {
	return &env{bc: &plugin.BuildContext{Metrics: metrics.NewRegistry(), Props: props}}
}

func (e *env) build(t testing.TB, text string) (*Source, error) {
	t.Helper()
	c, err := spec.ParseSource(text)
	if err != nil {
		t.Fatalf("parse %s: %v", text, err)
	}
	args, err := Signature.Bind(c)
	if err != nil {
		return nil, err
	}
	s, err := Build(e.bc, args)
	if err != nil {
		return nil, err
	}
	return s.(*Source), nil
}

// open builds and opens a tail source, closing it when the test ends.
func (e *env) open(t testing.TB, text string) *Source {
	t.Helper()
	s, err := e.build(t, text)
	if err != nil {
		t.Fatalf("build %s: %v", text, err)
	}
	if err := s.Open(context.Background()); err != nil {
		t.Fatalf("open %s: %v", text, err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func (e *env) counter(name string) int64 {
	v, _ := e.bc.Metrics.Get(name)
	return v
}

func tailSpec(path string, extra string) string {
	return fmt.Sprintf("tail(%q%s)", path, extra)
}

// reader collects events from a source.
type reader struct {
	t   testing.TB
	s   *Source
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
			r.t.Fatalf("Next after %d of %d events: %v (got %q)", len(r.got), n, err, short(bodies(r.got)))
		}
		for _, e := range batch {
			r.got = append(r.got, e.Clone())
		}
	}
	if len(r.got) > n {
		r.t.Fatalf("got %d events, want %d: %q", len(r.got), n, short(bodies(r.got)))
	}
	return bodies(r.got)
}

// quiet checks that no event arrives for a while.
func (r *reader) quiet(d time.Duration) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	batch, err := r.s.Next(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		r.t.Fatalf("expected no event, got %q, %v", short(bodies(batch)), err)
	}
}

func bodies(evs []*event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = string(e.Body)
	}
	return out
}

func short(s []string) string {
	if len(s) > 12 {
		return strings.Join(s[:6], "|") + "|...|" + strings.Join(s[len(s)-6:], "|")
	}
	return strings.Join(s, "|")
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
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

func logPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "app.log")
}

// nextAsync runs Next on another goroutine.
func nextAsync(ctx context.Context, s *Source) <-chan result {
	ch := make(chan result, 1)
	go func() {
		evs, err := s.Next(ctx)
		ch <- result{bodies(evs), err}
	}()
	return ch
}

type result struct {
	bodies []string
	err    error
}

func recv(t testing.TB, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("Next did not return")
		return result{}
	}
}
