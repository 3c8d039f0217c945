package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/source/internal/record"
)

// stop stops s as the flow driver does (plugintest.Stop) and returns the bodies Next delivered
// after Close, in batches of at most the record.MaxBatch events the package promises, and the
// error that ended them.
func stop(t testing.TB, s plugin.Source) ([]string, error) {
	t.Helper()
	evs, err := plugintest.Stop(t, s, 20*time.Second, record.MaxBatch)
	return plugintest.Bodies(evs), err
}

// numbers returns "1" to "n".
func numbers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i + 1)
	}
	return out
}

func TestExecStopDeliversWhatTheCommandWrote(t *testing.T) {
	tests := []struct {
		name, cmd string
		aggregate bool
		want      []string
	}{
		// All of it fits in the queue between the stream readers and Next.
		{"queued lines", "seq 1 500", false, numbers(500)},
		// The queue fills; the stream reader holds the rest.
		{"more lines than the queue holds", "seq 1 3000", false, numbers(3000)},
		{"aggregate", "printf abc", true, []string{"abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "written")
			cmd := fmt.Sprintf("sh -c '%s; touch %s; exec sleep 30'", tt.cmd, marker)
			s := newEnv(nil).OpenSource(t, fmt.Sprintf("exec(%q, aggregate=%v)", cmd, tt.aggregate))
			plugintest.Eventually(t, 10*time.Second, func() bool {
				_, err := os.Stat(marker)
				return err == nil
			}, func() string { return "the command did not write its output" })
			got, err := stop(t, s)
			if !errors.Is(err, io.EOF) {
				t.Errorf("last Next = %v, want io.EOF", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("delivered %d events %q after the stop, want %d: %q", len(got), plugintest.Short(got), len(tt.want), plugintest.Short(tt.want))
			}
		})
	}
}

// TestExecStopIsPrompt checks that a stop does not wait for a command that keeps running or
// for output that keeps coming.
func TestExecStopIsPrompt(t *testing.T) {
	tests := []string{
		`exec("sleep 100")`,
		`execStream("yes")`,
		`exec("sh -c 'trap \"\" TERM; yes'")`, // ignores SIGTERM: killed after the grace
	}
	for _, spec := range tests {
		t.Run(spec, func(t *testing.T) {
			s := newEnv(nil).OpenSource(t, spec)
			start := time.Now()
			if _, err := stop(t, s); !errors.Is(err, io.EOF) {
				t.Errorf("last Next = %v, want io.EOF", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("stop took %v", d)
			}
		})
	}
}

func TestStdinStopDeliversTheHeldPartialLine(t *testing.T) {
	tests := []struct {
		name string
		// inFlight writes the input while a cancelled Next left its read pending, so that
		// the read completes after the stop began.
		inFlight bool
		want     []string
	}{
		{"partial line held", false, []string{"partial"}},
		{"read completed after the cancel", true, []string{"complete", "partial"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(nil)
			pr, pw := io.Pipe()
			defer pw.Close()
			e.Stdin = pr
			s := e.OpenSource(t, "stdin")
			ctx, cancel := context.WithCancel(context.Background())
			next := plugintest.GoNext(ctx, s)
			if !tt.inFlight {
				if _, err := pw.Write([]byte("complete\npartial")); err != nil {
					t.Fatal(err)
				}
				if r := next.Wait(t, 10*time.Second); r.Err != nil || !slices.Equal(r.Bodies, []string{"complete"}) {
					t.Fatalf("Next = %q, %v; want the complete line", r.Bodies, r.Err)
				}
				next = plugintest.GoNext(ctx, s)
			}
			// The Next in progress waits for a read by the helper.
			src := s.(*stdinSource)
			plugintest.Eventually(t, 10*time.Second, func() bool {
				src.mu.Lock()
				defer src.mu.Unlock()
				return src.reading
			}, func() string { return "Next did not wait for a read" })
			cancel() // the stop: the Next in progress ends
			if r := next.Wait(t, 10*time.Second); !errors.Is(r.Err, context.Canceled) {
				t.Fatalf("Next in progress at the stop = %q, %v; want context.Canceled", r.Bodies, r.Err)
			}
			if tt.inFlight {
				// The read the cancelled Next left pending takes this.
				if _, err := pw.Write([]byte("complete\npartial")); err != nil {
					t.Fatal(err)
				}
			}
			got, err := stop(t, s)
			if !errors.Is(err, io.EOF) {
				t.Errorf("last Next = %v, want io.EOF", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("delivered %q after the stop, want %q", got, tt.want)
			}
		})
	}
}

// numberedLines writes n lines "000001".."n" to a new file and returns its path and content.
func numberedLines(t *testing.T, n int) (string, string) {
	t.Helper()
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%06d\n", i)
	}
	path := filepath.Join(t.TempDir(), "in.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, b.String()
}

// checkPrefix checks that the delivered lines are the file's lines from its start, in order,
// with nothing missing; the last may be a line cut by the stop.
func checkPrefix(t *testing.T, got []string, content string) {
	t.Helper()
	// Each delivered line must be whole: the newline after the last one is in the file too.
	if joined := strings.Join(got, "\n") + "\n"; !strings.HasPrefix(content, joined) {
		t.Fatalf("delivered %d lines %q: not the file's whole lines in order", len(got), plugintest.Short(got))
	}
}

func TestTextStopDeliversWhatItRead(t *testing.T) {
	path, content := numberedLines(t, 100000) // more than one read buffer
	s := newEnv(nil).OpenSource(t, fmt.Sprintf("text(%q)", path))
	first, err := s.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := plugintest.Bodies(first)
	rest, err := stop(t, s)
	if !errors.Is(err, io.EOF) {
		t.Errorf("last Next = %v, want io.EOF", err)
	}
	if len(rest) == 0 {
		t.Fatal("nothing delivered after Close: the lines read into the buffer were lost")
	}
	got = append(got, rest...)
	checkPrefix(t, got, content)
	if len(got) >= 100000 {
		t.Errorf("delivered the whole file (%d lines) after Close; want what was read before it", len(got))
	}
}

func TestSynthStopsAtOnce(t *testing.T) {
	for _, spec := range []string{"synth(0, 10)", "asciisynth(5000, 100)", "synthrndsize(0, 1, 100)"} {
		t.Run(spec, func(t *testing.T) {
			s := newEnv(nil).OpenSource(t, spec)
			if _, err := s.Next(context.Background()); err != nil {
				t.Fatal(err)
			}
			got, err := stop(t, s)
			if len(got) != 0 || !errors.Is(err, ErrClosed) {
				t.Fatalf("Next after Close = %d events, %v; want ErrClosed", len(got), err)
			}
		})
	}
}
