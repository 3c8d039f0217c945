package plugintest

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain checks that no goroutine GoNext started outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestDrainLimitChecksEveryBatch(t *testing.T) {
	tests := []struct {
		spec     string
		maxBatch int
		want     []string // the bodies, when the drain passes
		fail     string   // the failure, when it does not
	}{
		{`batches("a b", "c")`, 0, []string{"a", "b", "c"}, ""},
		{`batches("a b", "c")`, 2, []string{"a", "b", "c"}, ""},
		{`batches("a b", "c")`, 1, nil, "batch of 2 events"},
		{`batches("a", "")`, 0, nil, "batch of 0 events"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s := NewEnv(nil, registerFakes).OpenSource(t, tt.spec)
			var got []string
			f := run(func(t testing.TB) { got = Bodies(DrainLimit(t, s, 5*time.Second, tt.maxBatch)) })
			if f != tt.fail || (tt.fail == "" && !slices.Equal(got, tt.want)) {
				t.Fatalf("drained %q, failures %q; want %q, failures %q", got, f, tt.want, tt.fail)
			}
		})
	}
}

func TestDrainFailsOnASourceThatDoesNotEnd(t *testing.T) {
	s := NewEnv(nil, registerFakes).OpenSource(t, `batches("a", held=true)`)
	if f := run(func(t testing.TB) { Drain(t, s, 20*time.Millisecond) }); !strings.Contains(f, "context deadline exceeded") {
		t.Fatalf("failures %q, want the deadline", f)
	}
}

func TestStopDeliversWhatTheSourceHeld(t *testing.T) {
	s := NewEnv(nil, registerFakes).OpenSource(t, `batches("a b", "c", held=true)`)
	evs, err := Stop(t, s, 5*time.Second, 2)
	if got := Bodies(evs); !slices.Equal(got, []string{"a", "b", "c"}) || !errors.Is(err, io.EOF) {
		t.Fatalf("Stop = %q, %v; want a b c, io.EOF", got, err)
	}
}

func TestStopChecksTheContract(t *testing.T) {
	tests := []struct{ spec, fail string }{
		{`batches("a", ignoreCtx=true)`, "Next with its ctx done = 1 events, <nil>; want context.Canceled"},
		{`batches("a b", held=true)`, "batch of 2 events"},
		{`batches("", held=true)`, "batch of 0 events"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s := NewEnv(nil, registerFakes).OpenSource(t, tt.spec)
			f := run(func(t testing.TB) { _, _ = Stop(t, s, 5*time.Second, 1) })
			if !strings.Contains(f, tt.fail) {
				t.Fatalf("failures %q, want %q", f, tt.fail)
			}
		})
	}
}

func TestGoNext(t *testing.T) {
	s := NewEnv(nil, registerFakes).OpenSource(t, `batches("a b", held=true)`)
	ctx, cancel := context.WithCancel(context.Background())
	p := GoNext(ctx, s)
	cancel()
	if r := p.Wait(t, 5*time.Second); !errors.Is(r.Err, context.Canceled) || len(r.Bodies) != 0 {
		t.Fatalf("cancelled Next = %q, %v", r.Bodies, r.Err)
	}

	p = GoNext(context.Background(), s)
	if f := run(func(t testing.TB) { p.Wait(t, 10*time.Millisecond) }); f != "call did not return within 10ms" {
		t.Fatalf("failures %q while Next blocks", f)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := p.Wait(t, 5*time.Second); r.Err != nil || !slices.Equal(r.Bodies, []string{"a", "b"}) {
		t.Fatalf("Next ended by Close = %q, %v", r.Bodies, r.Err)
	}
}

func TestShort(t *testing.T) {
	var many []string
	for i := range 20 {
		many = append(many, string(rune('a'+i)))
	}
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"a", "b"}, "a|b"},
		{many[:12], "a|b|c|d|e|f|g|h|i|j|k|l"},
		{many, "a|b|c|d|e|f|...|o|p|q|r|s|t"},
	}
	for _, tt := range tests {
		if got := Short(tt.in); got != tt.want {
			t.Errorf("Short(%d strings) = %q, want %q", len(tt.in), got, tt.want)
		}
	}
}

func TestWriteLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lines")
	WriteLines(t, path, 3)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) != 4 || lines[3] != "" {
		t.Fatalf("%d lines: %q", len(lines), data)
	}
	for i, l := range lines[:3] {
		if len(l) != 100 || !strings.HasPrefix(l, "000000000"+string(rune('0'+i))+" ") {
			t.Errorf("line %d = %q (%d bytes)", i, l, len(l))
		}
	}
}
