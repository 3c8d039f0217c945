package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/colinmarc/hdfs/v2"
	"go.uber.org/goleak"

	"github.com/flumego/flume/cmd/internal/cli"
	"github.com/flumego/flume/internal/testwait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe to read while the command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServesUntilCancelledAndPrintsTheAddress(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-dir", t.TempDir(), "-datanodes", "2"},
			cli.Streams{Out: &out, Err: &errOut})
	}()
	var addr string
	testwait.Until(t, 10*time.Second, "the address line", func() bool {
		addr, _, _ = strings.Cut(out.String(), "\n")
		return strings.Contains(out.String(), "\n")
	})
	cl, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{addr}, User: "flume"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.MkdirAll("/ok", 0o755); err != nil {
		t.Fatalf("mkdir on %s: %v", addr, err)
	}
	_ = cl.Close()
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit status %d: %s", code, errOut.String())
	}
}

func TestRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-dir", "x", "-addr", "nohost"},
		{"-dir", "x", "-datanodes", "0"},
		{"-dir", "x", "-soft-lease", "2h", "-hard-lease", "1h"},
	} {
		var errOut syncBuffer
		if code := run(context.Background(), args, cli.Streams{Out: &errOut, Err: &errOut}); code != 2 {
			t.Errorf("%v: exit status %d, want 2 (%s)", args, code, errOut.String())
		}
	}
}
