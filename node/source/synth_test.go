package source

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/flumego/flume/node/plugin/plugintest"
)

func TestSynthProducesCountEventsOfSize(t *testing.T) {
	tests := []struct {
		spec       string
		count      int
		minSize    int
		maxSize    int // exclusive; 0 means exactly minSize
		bodyOK     func([]byte) bool
		bodyOKText string
	}{
		{"synth(2500, 10)", 2500, 10, 0, nil, ""},
		{"synth(3)", 3, 150, 0, nil, ""},
		{"synth(5, 0)", 5, 0, 0, nil, ""},
		{"nonlsynth(3000, 64)", 3000, 64, 0, func(b []byte) bool { return bytes.IndexByte(b, '\n') < 0 }, "no newline"},
		{"asciisynth(3000, 100)", 3000, 100, 0, printable, "printable ASCII"},
		{"synthrndsize(2000, 5, 50)", 2000, 5, 50, nil, ""},
		{"synthrndsize(10, 7, 7)", 10, 7, 0, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			evs := drain(t, newEnv(nil).OpenSource(t, tt.spec))
			if len(evs) != tt.count {
				t.Fatalf("%d events, want %d", len(evs), tt.count)
			}
			sizes := map[int]bool{}
			for i, e := range evs {
				n := len(e.Body)
				sizes[n] = true
				if tt.maxSize == 0 && n != tt.minSize || tt.maxSize > 0 && (n < tt.minSize || n >= tt.maxSize) {
					t.Fatalf("event %d has %d bytes", i, n)
				}
				if tt.bodyOK != nil && !tt.bodyOK(e.Body) {
					t.Fatalf("event %d is not %s: %q", i, tt.bodyOKText, e.Body)
				}
			}
			if tt.maxSize > 0 && len(sizes) < (tt.maxSize-tt.minSize)/2 {
				t.Errorf("only %d distinct sizes", len(sizes))
			}
		})
	}
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 32 || c > 126 {
			return false
		}
	}
	return true
}

func TestSynthIsDeterministicPerSeed(t *testing.T) {
	run := func(spec string) []string { return plugintest.Bodies(drain(t, newEnv(nil).OpenSource(t, spec))) }
	a, b := run("synth(1500, 20)"), run("synth(1500, 20)")
	if !slices.Equal(a, b) {
		t.Fatal("two runs with the default seed differ")
	}
	if c := run("synth(1500, 20, seed=7)"); slices.Equal(a, c) {
		t.Fatal("seed 7 gives the same bytes as seed 0")
	}
	if x, y := run("asciisynth(100, 30, seed=3)"), run("asciisynth(100, 30, seed=3)"); !slices.Equal(x, y) {
		t.Fatal("asciisynth is not repeatable")
	}
	// The bytes are random: a run of 30000 bytes uses most byte values.
	seen := map[byte]bool{}
	for _, s := range a {
		for i := range len(s) {
			seen[s[i]] = true
		}
	}
	if len(seen) < 250 {
		t.Errorf("only %d distinct byte values", len(seen))
	}
}

func TestSynthReopenRestartsTheSequence(t *testing.T) {
	s := newEnv(nil).OpenSource(t, "synth(10, 8)")
	first := plugintest.Bodies(drain(t, s))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	if again := plugintest.Bodies(drain(t, s)); !slices.Equal(first, again) {
		t.Fatal("reopened source gives other events")
	}
}

func TestSynthEndlessWithCountZero(t *testing.T) {
	s := newEnv(nil).OpenSource(t, "asciisynth(0, 10)")
	for i := range 5 {
		batch, err := s.Next(context.Background())
		if err != nil || len(batch) != 1000 {
			t.Fatalf("batch %d: %d events, %v", i, len(batch), err)
		}
	}
}

func TestSynthTruncatesToTheLimit(t *testing.T) {
	e := newEnv(map[string]string{"flume.event.max.size.bytes": "16"})
	evs := drain(t, e.OpenSource(t, "synth(3, 100)"))
	for _, ev := range evs {
		if len(ev.Body) != 16 {
			t.Fatalf("body of %d bytes, want 16", len(ev.Body))
		}
	}
	if n := e.Counter("synth.events_truncated"); n != 3 {
		t.Errorf("events_truncated = %d, want 3", n)
	}
}

func TestSynthArguments(t *testing.T) {
	tests := []struct{ spec, wantErr string }{
		{`synth("-1")`, "1:7: synth: argument count: want 0 (endless) or more, got -1"},
		{`synth(1, "-5")`, "1:10: synth: argument size: want a size from 0 to 16777216, got -5"},
		{"synthrndsize(1, 10, 5)", "1:21: synthrndsize: argument maxsize: 5 is less than minsize 10"},
		{"synthrndsize(1, 10)", "missing argument maxsize"},
		{"asciisynth(1, 2, 3)", "too many arguments"},
		{`synth("x")`, "argument count"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := newEnv(nil).BuildSource(t, tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("build = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
