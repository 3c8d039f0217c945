package tail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// stop stops s as the flow driver does: the ctx of Next ends, and Next must hand it back at
// once without an event; then Close, and Next until it returns an error. It returns the bodies
// Next delivered after Close and that error.
func stop(t *testing.T, s *Source) ([]string, error) {
	t.Helper()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if batch, err := s.Next(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with its ctx done = %d events, %v; want context.Canceled and no event", len(batch), err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []string
	for {
		batch, err := s.Next(ctx)
		if err != nil {
			return got, err
		}
		if len(batch) == 0 || len(batch) > 1000 {
			t.Fatalf("Next after Close returned a batch of %d events", len(batch))
		}
		got = append(got, bodies(batch)...)
	}
}

// TestTailStopsWhileTheFileHasData checks that a stop does not wait for tail to read a large
// file to its end, and that the lines read before the stop are delivered, in order.
func TestTailStopsWhileTheFileHasData(t *testing.T) {
	const lines = 100000 // several read buffers
	var b strings.Builder
	for i := 1; i <= lines; i++ {
		fmt.Fprintf(&b, "%06d\n", i)
	}
	content := b.String()
	path := logPath(t)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newEnv(fastPoll).open(t, tailSpec(path, ""))
	first, err := s.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := bodies(first)
	rest, err := stop(t, s)
	if !errors.Is(err, io.EOF) {
		t.Errorf("last Next = %v, want io.EOF", err)
	}
	if len(rest) == 0 {
		t.Fatal("nothing delivered after Close: the lines read into the buffer were lost")
	}
	got = append(got, rest...)
	// Each delivered line must be whole: the newline after the last one is in the file too.
	if joined := strings.Join(got, "\n") + "\n"; !strings.HasPrefix(content, joined) {
		t.Fatalf("delivered %d lines %q: not the file's whole lines in order", len(got), short(got))
	}
	if len(got) >= lines {
		t.Errorf("delivered the whole file (%d lines); want what was read before the stop", len(got))
	}
}
