package sink

import (
	"bytes"
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
	"github.com/flumego/flume/node/format"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/spec"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// env builds the sinks of this package and the formats they name; the console writes to out.
type env struct {
	*plugintest.Env
	out *bytes.Buffer
}

func newEnv() *env {
	e := &env{Env: plugintest.NewEnv(nil, Register, format.Register), out: &bytes.Buffer{}}
	e.Stdout = e.out
	return e
}

// events makes events with the given bodies, an attribute and a fixed time.
func events(bodies ...string) []*event.Event {
	out := make([]*event.Event, len(bodies))
	for i, b := range bodies {
		e := &event.Event{Body: []byte(b), Timestamp: 1300000000123000000 + int64(i), Priority: event.WARN, Host: "web1"}
		_ = e.SetAttr("k", []byte("v"))
		out[i] = e
	}
	return out
}

// encode renders events with the named format of the registry, for comparison.
func (e *env) encode(t testing.TB, name string, evs []*event.Event) string {
	t.Helper()
	f, err := e.Registry.BuildFormat(e.BuildContext, &spec.Call{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return string(plugintest.Encode(t, f, evs...))
}

func TestRegisterNamesEverySink(t *testing.T) {
	got := plugintest.Names(t, plugintest.NewEnv(nil, Register).Registry, plugin.KindSink)
	if want := "console counter fail null text"; strings.Join(got, " ") != want {
		t.Errorf("sinks = %v, want %s", got, want)
	}
}

func TestNullDropsAndCounts(t *testing.T) {
	e := newEnv()
	s := e.OpenSink(t, "null")
	if err := s.Append(context.Background(), events("a", "bc")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, b := e.Counter("null.events_out"), e.Counter("null.bytes_out"); n != 2 || b != 3 {
		t.Errorf("events_out = %d, bytes_out = %d; want 2, 3", n, b)
	}
}

func TestConsoleWritesEachBatchInItsFormat(t *testing.T) {
	tests := []struct{ spec, format string }{
		{"console", "debug"},
		{"console(raw)", "raw"},
		{`console("json")`, "json"},
		{"console(format=avrojson)", "avrojson"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			e := newEnv()
			s := e.OpenSink(t, tt.spec)
			first, second := events("one", "two"), events("three")
			if err := s.Append(context.Background(), first); err != nil {
				t.Fatal(err)
			}
			// Flushed at the end of each batch, before Close.
			if got, want := e.out.String(), e.encode(t, tt.format, first); got != want {
				t.Fatalf("after one batch:\n%q\nwant\n%q", got, want)
			}
			if err := s.Append(context.Background(), second); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			want := e.encode(t, tt.format, first) + e.encode(t, tt.format, second)
			if got := e.out.String(); got != want {
				t.Fatalf("output:\n%q\nwant\n%q", got, want)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatalf("second Close: %v", err)
			}
		})
	}
}

func TestConsoleRawOutputIsBodyAndNewline(t *testing.T) {
	e := newEnv()
	s := e.OpenSink(t, "console(raw)")
	if err := s.Append(context.Background(), events("a", "", "b c")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.out.String(); got != "a\n\nb c\n" {
		t.Fatalf("output %q", got)
	}
}

func TestTextWritesTheFile(t *testing.T) {
	tests := []struct {
		args   string
		format string
	}{
		{"", "raw"},
		{", raw", "raw"},
		{", json", "json"},
		{", format=debug", "debug"},
		{", log4j", "log4j"},
	}
	for _, tt := range tests {
		t.Run(tt.format+tt.args, func(t *testing.T) {
			e := newEnv()
			path := filepath.Join(t.TempDir(), "out.txt")
			// The sink replaces what the file held.
			if err := os.WriteFile(path, []byte("old content that is longer than the new\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			s := e.OpenSink(t, fmt.Sprintf("text(%q%s)", path, tt.args))
			a, b := events("first", "second"), events("third")
			for _, batch := range [][]*event.Event{a, b} {
				if err := s.Append(context.Background(), batch); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if want := e.encode(t, tt.format, append(a, b...)); string(got) != want {
				t.Fatalf("file:\n%q\nwant\n%q", got, want)
			}
			if n := e.Counter("text.events_out"); n != 3 {
				t.Errorf("events_out = %d", n)
			}
		})
	}
}

// A reader of the file sees what was appended while the flow runs: the sink writes it out
// within a second even when no more events come and the sink is not closed, and the flusher
// that does so ends with Close.
func TestTextFileHoldsAppendedEventsWithoutClose(t *testing.T) {
	for _, name := range []string{"raw", "json"} {
		t.Run(name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			e := newEnv()
			path := filepath.Join(t.TempDir(), "out.txt")
			s, err := e.BuildSink(t, fmt.Sprintf("text(%q, %s)", path, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Open(context.Background()); err != nil {
				t.Fatal(err)
			}
			// fileHolds polls the file until it holds exactly the encoding of evs.
			fileHolds := func(evs []*event.Event) {
				t.Helper()
				want := e.encode(t, name, evs)
				var got []byte
				plugintest.Eventually(t, 3*time.Second, func() bool {
					got, err = os.ReadFile(path)
					return err == nil && string(got) == want
				}, func() string { return fmt.Sprintf("file %q (err %v), want %q", got, err, want) })
			}
			a, b := events("first", "second"), events("third")
			if err := s.Append(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			fileHolds(a)
			if err := s.Append(context.Background(), b); err != nil {
				t.Fatal(err)
			}
			all := append(append([]*event.Event(nil), a...), b...)
			fileHolds(all)
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(path); string(got) != e.encode(t, name, all) {
				t.Fatalf("after Close the file holds %q", got)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatalf("second Close: %v", err)
			}
		})
	}
}

// A write that fails in the background is not lost: the next Append and Close return it.
func TestTextBackgroundWriteFailureIsReturned(t *testing.T) {
	const full = "/dev/full" // every write fails with ENOSPC
	if _, err := os.Stat(full); err != nil {
		t.Skipf("no %s: %v", full, err)
	}
	s, err := newEnv().BuildSink(t, fmt.Sprintf("text(%q)", full))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(context.Background()); err != nil {
		t.Skipf("cannot open %s: %v", full, err)
	}
	if err := s.Append(context.Background(), events("lost")); err != nil {
		t.Fatalf("a buffered Append failed: %v", err)
	}
	plugintest.Eventually(t, 3*time.Second, func() bool {
		err = s.Append(context.Background(), events("more"))
		return err != nil
	}, func() string { return "Append never reported the failed write" })
	if !strings.Contains(err.Error(), full) {
		t.Fatalf("Append = %v, want an error naming %s", err, full)
	}
	if err := s.Close(context.Background()); err == nil {
		t.Fatal("Close after a failed write returned nil")
	}
}

func TestTextRawBytes(t *testing.T) {
	e := newEnv()
	path := filepath.Join(t.TempDir(), "out.txt")
	s := e.OpenSink(t, fmt.Sprintf("text(%q)", path))
	if err := s.Append(context.Background(), events("a", "b b", "")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "a\nb b\n\n" {
		t.Fatalf("file %q", got)
	}
}

func TestTextUnwritablePathIsAnOpenErrorNamingIt(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{filepath.Join(dir, "missing", "out.txt"), dir} {
		s, err := newEnv().BuildSink(t, fmt.Sprintf("text(%q)", path))
		if err != nil {
			t.Fatal(err)
		}
		err = s.Open(context.Background())
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("Open = %v, want an error naming %s", err, path)
		}
		if err := s.Append(context.Background(), events("x")); !errors.Is(err, ErrNotOpen) {
			t.Fatalf("Append on a sink that failed to open = %v", err)
		}
		if err := s.Close(context.Background()); err != nil {
			t.Fatalf("Close after a failed Open: %v", err)
		}
	}
}

func TestCounterCountsIntoTheNamedMetric(t *testing.T) {
	e := newEnv()
	s := e.OpenSink(t, `counter("hits")`)
	for _, n := range []int{3, 1, 0, 5} {
		if err := s.Append(context.Background(), events(make([]string, n)...)); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.(*Counter).Count(); got != 9 {
		t.Errorf("Count() = %d, want 9", got)
	}
	if got := e.Counter("hits"); got != 9 {
		t.Errorf("metric hits = %d, want 9", got)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestFailFailsOpenAndAppend(t *testing.T) {
	s, err := newEnv().BuildSink(t, `fail("no collectors")`)
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Open":   s.Open(context.Background()),
		"Append": s.Append(context.Background(), events("x")),
	} {
		if err == nil || err.Error() != "fail: no collectors" || !errors.Is(err, ErrFail) || !plugin.IsPermanent(err) {
			t.Errorf("%s = %v, want permanent fail: no collectors", name, err)
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSinkArguments(t *testing.T) {
	tests := []struct{ spec, wantErr string }{
		{`text("")`, "1:6: text: argument file: empty file name"},
		{`text`, "missing argument"},
		{`text("/x", nosuch)`, `1:12: unknown output format "nosuch"`},
		{`console(avrodata("lzma"))`, `argument codec`},
		{`console(1)`, "argument format"},
		{`counter`, "missing argument"},
		{`counter("")`, "empty metric name"},
		{`null(1)`, "too many arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := newEnv().BuildSink(t, tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("build = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestFormatNeedsARegistry(t *testing.T) {
	bc := &plugin.BuildContext{}
	args, err := consoleSig.Bind(&spec.Call{Name: "console"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := buildConsole(bc, args); !errors.Is(err, ErrNoRegistry) {
		t.Fatalf("build = %v, want ErrNoRegistry", err)
	}
}
