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

	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/source/internal/record"
)

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
	s := newEnv(fastPoll).OpenSource(t, tailSpec(path, ""))
	first, err := s.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := plugintest.Bodies(first)
	evs, err := plugintest.Stop(t, s, 20*time.Second, record.MaxBatch)
	rest := plugintest.Bodies(evs)
	if !errors.Is(err, io.EOF) {
		t.Errorf("last Next = %v, want io.EOF", err)
	}
	if len(rest) == 0 {
		t.Fatal("nothing delivered after Close: the lines read into the buffer were lost")
	}
	got = append(got, rest...)
	// Each delivered line must be whole: the newline after the last one is in the file too.
	if joined := strings.Join(got, "\n") + "\n"; !strings.HasPrefix(content, joined) {
		t.Fatalf("delivered %d lines %q: not the file's whole lines in order", len(got), plugintest.Short(got))
	}
	if len(got) >= lines {
		t.Errorf("delivered the whole file (%d lines); want what was read before the stop", len(got))
	}
}
