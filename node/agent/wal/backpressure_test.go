package wal

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flumego/flume/internal/testwait"
)

func TestAppendWaitsAtTheCapUntilReleaseFreesSpace(t *testing.T) {
	dir := t.TempDir()
	const capBytes = 64 << 10
	l, reg := testOpen(t, dir, Options{MaxBytes: capBytes, NoSync: true})
	ctx := context.Background()
	seq := uint64(1)
	for ; ; seq++ {
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		p, err := l.Append(short, testChunk(seq, 4000))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		<-p.Done()
		if seq > 100 {
			t.Fatal("cap never reached")
		}
	}
	// The seq refused above was not taken: it can be appended again.
	type result struct {
		p   Pending
		err error
	}
	res := make(chan result, 1)
	go func() {
		p, err := l.Append(ctx, testChunk(seq, 4000))
		res <- result{p, err}
	}()
	testwait.Until(t, 2*time.Second, "append waiting", func() bool { return l.State().Waiting == 1 })
	st := l.State()
	if !st.Full || st.Reason != "cap 64 KiB reached" {
		t.Fatalf("State at the cap = %+v", st)
	}
	if st.Bytes > capBytes {
		t.Fatalf("log holds %d bytes, over its cap %d", st.Bytes, capBytes)
	}
	if v := metric(reg, "wal_full_waits"); v != 2 {
		t.Fatalf("wal_full_waits = %d, want 2", v)
	}
	if err := l.Release(seqRangeList(1, seq-1)...); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	<-r.p.Done()
	if got := seqsOf(l.Unreleased()); !slices.Equal(got, []uint64{seq}) {
		t.Fatalf("Unreleased = %v", got)
	}
	if st := l.State(); st.Full || st.Waiting != 0 {
		t.Fatalf("State after release = %+v", st)
	}
}

func TestOversizedChunkIsTakenByAnEmptyLog(t *testing.T) {
	l, _ := testOpen(t, t.TempDir(), Options{MaxBytes: 16 << 10, NoSync: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p, err := l.Append(ctx, testChunk(1, 64<<10))
	if err != nil {
		t.Fatalf("an empty log refused a chunk larger than its cap: %v", err)
	}
	<-p.Done()
	if err := l.Release(1); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, testChunk(2, 64<<10)); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestAppendWaitsWhileTheFilesystemIsLowOnSpace(t *testing.T) {
	l, reg := testOpen(t, t.TempDir(), Options{NoSync: true, MinFreeBytes: 64 << 20})
	var mu sync.Mutex
	free := int64(12 << 20)
	setFreeSpace(l, func(string) (int64, error) {
		mu.Lock()
		defer mu.Unlock()
		return free, nil
	})
	st := l.State()
	if !st.Full || st.Reason != "filesystem has 12 MiB free, below 64 MiB" {
		t.Fatalf("State = %+v", st)
	}
	errc := make(chan error, 1)
	var p Pending
	go func() {
		var err error
		p, err = l.Append(context.Background(), testChunk(1, 100))
		errc <- err
	}()
	testwait.Until(t, 2*time.Second, "append waiting", func() bool { return l.State().Waiting == 1 })
	mu.Lock()
	free = 1 << 30 // space freed by someone else: no signal, the log polls
	mu.Unlock()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if metric(reg, "wal_full_waits") != 1 {
		t.Fatalf("wal_full_waits = %d", metric(reg, "wal_full_waits"))
	}
}

func TestWriteThatFindsNoSpaceIsRetriedAndNothingIsLost(t *testing.T) {
	dir := t.TempDir()
	l, _ := testOpen(t, dir, Options{})
	l.retryEvery = 10 * time.Millisecond
	appendAll(t, l, 1, 3, 1000)
	var mu sync.Mutex
	failing := true
	fault := func() error {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			return &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}
		}
		return nil
	}
	l.faultWrite.Store(&fault)
	p, err := l.Append(context.Background(), testChunk(4, 1000))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 2*time.Second, "no space reported", func() bool {
		st := l.State()
		return st.Full && strings.HasPrefix(st.Reason, "filesystem full: ")
	})
	if isDone(p) {
		t.Fatal("chunk reported durable while its write fails")
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	<-p.Done()
	if p.Err() != nil {
		t.Fatal(p.Err())
	}
	if st := l.State(); st.Full || st.Err != nil {
		t.Fatalf("State after space came back = %+v", st)
	}
	l.Close()
	l2, reg := testOpen(t, dir, Options{})
	if got := verifyAll(t, l2); !slices.Equal(got, []uint64{1, 2, 3, 4}) {
		t.Fatalf("Unreleased = %v", got)
	}
	if v := metric(reg, "wal_truncated_records"); v != 0 {
		t.Fatalf("%d records cut: the failed write left bytes behind", v)
	}
}

func TestCloseWakesAnAppendWaitingForSpace(t *testing.T) {
	l, err := Open(Options{Dir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	setFreeSpace(l, func(string) (int64, error) { return 0, nil })
	errc := make(chan error, 1)
	go func() {
		_, err := l.Append(context.Background(), testChunk(1, 10))
		errc <- err
	}()
	testwait.Until(t, 2*time.Second, "append waiting", func() bool { return l.State().Waiting == 1 })
	l.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("waiting Append after Close = %v", err)
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{100, "100 B"}, {64 << 10, "64 KiB"}, {12 << 20, "12 MiB"}, {1 << 30, "1.0 GiB"},
		{3 << 29, "1.5 GiB"},
	}
	for _, tt := range tests {
		if got := formatBytes(tt.n); got != tt.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
