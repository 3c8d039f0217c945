package source

import (
	"context"
	"errors"
	"io"
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

// env is a build context with its own registry and metrics.
type env struct {
	bc  *plugin.BuildContext
	reg *plugin.Registry
}

func newEnv(t testing.TB, props map[string]string) *env {
	t.Helper()
	r := plugin.NewRegistry()
	Register(r)
	return &env{reg: r, bc: &plugin.BuildContext{Registry: r, Metrics: metrics.NewRegistry(), Props: props}}
}

// build parses and builds a source spec such as `text("/x")`.
func (e *env) build(t testing.TB, text string) (plugin.Source, error) {
	t.Helper()
	c, err := spec.ParseSource(text)
	if err != nil {
		t.Fatalf("parse %s: %v", text, err)
	}
	return e.reg.BuildSource(e.bc, c)
}

// open builds and opens a source, closing it when the test ends.
func (e *env) open(t testing.TB, text string) plugin.Source {
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

// counter returns a metric of the env.
func (e *env) counter(name string) int64 {
	v, _ := e.bc.Metrics.Get(name)
	return v
}

// drain reads s to io.EOF and returns copies of the events.
func drain(t testing.TB, s plugin.Source) []*event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*event.Event
	for {
		batch, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("next after %d events: %v", len(out), err)
		}
		if len(batch) == 0 || len(batch) > 1000 {
			t.Fatalf("batch of %d events", len(batch))
		}
		for _, e := range batch {
			out = append(out, e.Clone())
		}
	}
}

func bodies(evs []*event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = string(e.Body)
	}
	return out
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

// short shows the start of a long list in failure messages.
func short(s []string) string {
	if len(s) > 10 {
		return strings.Join(s[:10], "|") + "|..."
	}
	return strings.Join(s, "|")
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRegisterNamesEverySource(t *testing.T) {
	r := plugin.NewRegistry()
	Register(r)
	want := []string{"asciisynth", "exec", "execPeriodic", "execStream", "fail", "nonlsynth", "null",
		"stdin", "synth", "synthrndsize", "tail", "text"}
	var got []string
	for _, e := range r.Entries(plugin.KindSource) {
		got = append(got, e.Name())
		if e.Doc == "" {
			t.Errorf("%s has no doc", e.Name())
		}
	}
	if !equalStrings(got, want) {
		t.Errorf("sources = %v, want %v", got, want)
	}
}

func TestNullEndsAtOnce(t *testing.T) {
	s := newEnv(t, nil).open(t, "null")
	if _, err := s.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Fatalf("Next = %v, want io.EOF", err)
	}
}

func TestFailReturnsTheMessage(t *testing.T) {
	tests := []struct {
		spec, want string
	}{
		{`fail("no collectors")`, "fail: no collectors"},
		{`fail`, "fail"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := newEnv(t, nil).build(t, tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Open(context.Background())
			if err == nil || err.Error() != tt.want || !errors.Is(err, ErrFail) || !plugin.IsPermanent(err) {
				t.Fatalf("Open = %v, want permanent %q", err, tt.want)
			}
			if _, err := s.Next(context.Background()); !errors.Is(err, ErrFail) {
				t.Fatalf("Next = %v, want ErrFail", err)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}
