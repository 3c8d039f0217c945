package wal

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

// TestReleasedThroughNeverCoversAChunkOnItsWay appends chunks and releases each once it is
// durable, while another goroutine asks ReleasedThrough: every seq it reports must have been
// released already. A chunk queued or being written has its seq taken (NextSeq is past it) and
// is in no list of unreleased chunks; covering it would let the commit point forget it, and
// take its commit for a duplicate.
func TestReleasedThroughNeverCoversAChunkOnItsWay(t *testing.T) {
	l, _ := testOpen(t, t.TempDir(), Options{NoSync: true})
	const n = 3000
	var releasing [n + 1]atomic.Bool // set before Release is called
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer done.Store(true)
		for seq := uint64(1); seq <= n; seq++ {
			p, err := l.Append(context.Background(), testChunk(seq, 200))
			if err != nil {
				t.Error(err)
				return
			}
			<-p.Done()
			releasing[seq].Store(true)
			if err := l.Release(seq); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	checks := 0
	for !done.Load() {
		through := l.ReleasedThrough()
		for seq := uint64(1); seq <= min(through, n); seq++ {
			if !releasing[seq].Load() {
				t.Fatalf("ReleasedThrough = %d covers seq %d, which was never released", through, seq)
			}
		}
		checks++
	}
	wg.Wait()
	if got := l.ReleasedThrough(); got != n {
		t.Fatalf("ReleasedThrough = %d once all %d chunks are released", got, n)
	}
	t.Logf("%d checks", checks)
}
