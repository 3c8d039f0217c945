package wal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/flumego/flume/internal/testwait"
)

func TestDurableChunksSurviveReopenInSeqOrder(t *testing.T) {
	dir := t.TempDir()
	l, reg := testOpen(t, dir, Options{})
	if got := l.NextSeq(); got != 1 {
		t.Fatalf("NextSeq of a new log = %d, want 1", got)
	}
	appendAll(t, l, 1, 50, 3000)
	if got := verifyAll(t, l); !slices.Equal(got, seqRangeList(1, 50)) {
		t.Fatalf("Unreleased = %v", got)
	}
	if metric(reg, "wal_appends") != 50 || metric(reg, "wal_fsyncs") == 0 {
		t.Fatalf("appends %d fsyncs %d", metric(reg, "wal_appends"), metric(reg, "wal_fsyncs"))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l2, reg2 := testOpen(t, dir, Options{})
	if got := verifyAll(t, l2); !slices.Equal(got, seqRangeList(1, 50)) {
		t.Fatalf("after reopen Unreleased = %v", got)
	}
	if got := l2.NextSeq(); got != 51 {
		t.Fatalf("NextSeq after reopen = %d, want 51", got)
	}
	if v := metric(reg2, "wal_truncated_records"); v != 0 {
		t.Fatalf("clean reopen truncated %d records", v)
	}
	st := l2.State()
	if st.Unreleased != 50 || st.Segments != 1 || st.Full ||
		st.Bytes != metric(reg2, "wal_bytes_on_disk") {
		t.Fatalf("State = %+v, bytes gauge %d", st, metric(reg2, "wal_bytes_on_disk"))
	}
}

func TestReleasedChunksStayReleasedAfterRestart(t *testing.T) {
	dir := t.TempDir()
	l, reg := testOpen(t, dir, Options{})
	appendAll(t, l, 1, 10, 500)
	if err := l.Release(2, 4, 6, 8, 10, 4, 99); err != nil { // 4 twice, 99 unknown
		t.Fatal(err)
	}
	if got := seqsOf(l.Unreleased()); !slices.Equal(got, []uint64{1, 3, 5, 7, 9}) {
		t.Fatalf("Unreleased = %v", got)
	}
	if _, err := l.Read(4); !errors.Is(err, ErrReleased) {
		t.Fatalf("Read(4) = %v, want ErrReleased", err)
	}
	if _, err := l.Read(11); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Read(11) = %v, want ErrNotFound", err)
	}
	if v := metric(reg, "wal_released"); v != 5 {
		t.Fatalf("wal_released = %d, want 5", v)
	}
	l.Close()

	l2, _ := testOpen(t, dir, Options{})
	if got := verifyAll(t, l2); !slices.Equal(got, []uint64{1, 3, 5, 7, 9}) {
		t.Fatalf("after restart Unreleased = %v", got)
	}
}

func TestChunkReleasedInTheSameGroupAsItsAppend(t *testing.T) {
	dir := t.TempDir()
	l, _ := testOpen(t, dir, Options{NoSync: true})
	ctx := context.Background()
	// Stall the writer on chunk 1 so that chunk 2 and its release land in the next group.
	unstall := stallWriter(t, l)
	p, err := l.Append(ctx, testChunk(1, 100))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 2*time.Second, "writer busy with chunk 1", func() bool { return queueLen(l) == 0 })
	p2, _ := l.Append(ctx, testChunk(2, 100))
	errc := make(chan error, 1)
	go func() { errc <- l.Release(2) }()
	testwait.Until(t, 2*time.Second, "release queued", func() bool { return queueLen(l) == 2 })
	unstall()
	<-p.Done()
	<-p2.Done()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := seqsOf(l.Unreleased()); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("Unreleased = %v, want [1]", got)
	}
	l.Close()
	l2, _ := testOpen(t, dir, Options{})
	if got := verifyAll(t, l2); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("after restart Unreleased = %v, want [1]", got)
	}
}

func TestFullyReleasedSegmentsAreDeleted(t *testing.T) {
	dir := t.TempDir()
	l, reg := testOpen(t, dir, Options{SegmentBytes: 8 << 10, NoSync: true})
	for s := uint64(1); s <= 100; s++ {
		appendAll(t, l, s, s, 1000) // ~1 KiB records, 8 per segment
	}
	if n := len(segFiles(t, dir)); n < 10 {
		t.Fatalf("%d segments, want >= 10", n)
	}
	if err := l.Release(seqRangeList(1, 100)...); err != nil {
		t.Fatal(err)
	}
	st := l.State()
	if st.Segments != 1 || st.Unreleased != 0 || st.Bytes > 1024 {
		t.Fatalf("after releasing everything: %+v", st)
	}
	if n := len(segFiles(t, dir)); n != 1 {
		t.Fatalf("%d segment files left, want 1", n)
	}
	if metric(reg, "wal_segments") != 1 || metric(reg, "wal_bytes_on_disk") != st.Bytes {
		t.Fatalf("gauges: segments %d bytes %d",
			metric(reg, "wal_segments"), metric(reg, "wal_bytes_on_disk"))
	}
	l.Close()
	l2, _ := testOpen(t, dir, Options{SegmentBytes: 8 << 10})
	if got := l2.Unreleased(); len(got) != 0 {
		t.Fatalf("after restart Unreleased = %v", seqsOf(got))
	}
	if got := l2.NextSeq(); got != 101 {
		t.Fatalf("NextSeq after everything was released and deleted = %d, want 101", got)
	}
}

func TestReleaseRecordsOfADeletedSegmentAreCarriedForward(t *testing.T) {
	dir := t.TempDir()
	// Each segment holds two 3 KiB chunks, then rotates.
	l, _ := testOpen(t, dir, Options{SegmentBytes: 6 << 10, NoSync: true})
	appendAll(t, l, 1, 2, 3000)          // segment A: 1, 2
	appendAll(t, l, 3, 3, 3000)          // segment B: 3
	if err := l.Release(2); err != nil { // the release of 2 lives in B
		t.Fatal(err)
	}
	appendAll(t, l, 4, 4, 3000)             // B: 3, 4
	appendAll(t, l, 5, 5, 3000)             // C: 5
	if err := l.Release(3, 4); err != nil { // B is fully released and goes
		t.Fatal(err)
	}
	files := segFiles(t, dir)
	if slices.Contains(files, filepath.Join(dir, segName(3))) {
		t.Fatalf("segment B still on disk: %v", files)
	}
	if !slices.Contains(files, filepath.Join(dir, segName(1))) {
		t.Fatalf("segment A deleted while chunk 1 is unreleased: %v", files)
	}
	l.Close()
	l2, _ := testOpen(t, dir, Options{SegmentBytes: 6 << 10})
	if got := verifyAll(t, l2); !slices.Equal(got, []uint64{1, 5}) {
		t.Fatalf("after restart Unreleased = %v, want [1 5]: a release was lost with its segment", got)
	}
}

func TestActiveSegmentIsReplacedOnceFullyReleased(t *testing.T) {
	dir := t.TempDir()
	l, _ := testOpen(t, dir, Options{NoSync: true})
	appendAll(t, l, 1, 3, 1000)
	if err := l.Release(1, 2, 3); err != nil {
		t.Fatal(err)
	}
	files := segFiles(t, dir)
	if len(files) != 1 || files[0] != filepath.Join(dir, segName(4)) {
		t.Fatalf("segments %v, want only %s", files, segName(4))
	}
	appendAll(t, l, 4, 4, 1000)
	l.Close()
	l2, _ := testOpen(t, dir, Options{})
	if got := verifyAll(t, l2); !slices.Equal(got, []uint64{4}) {
		t.Fatalf("Unreleased = %v", got)
	}
}

func TestGroupCommitSyncsFarLessOftenThanItAppends(t *testing.T) {
	l, reg := testOpen(t, t.TempDir(), Options{})
	ctx := context.Background()
	const n = 2000
	chunks := make([]Chunk, n)
	for i := range chunks {
		chunks[i] = testChunk(uint64(i+1), 4000)
	}
	ps := make([]Pending, 0, n)
	for _, c := range chunks {
		p, err := l.Append(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		<-p.Done()
		if p.Err() != nil {
			t.Fatal(p.Err())
		}
	}
	appends, fsyncs := metric(reg, "wal_appends"), metric(reg, "wal_fsyncs")
	t.Logf("%d appends, %d fsyncs", appends, fsyncs)
	if fsyncs == 0 || fsyncs > appends/10 {
		t.Fatalf("%d fsyncs for %d appends: no group commit", fsyncs, appends)
	}
}

func TestAppendDoesNotWaitForTheSyncOfEarlierChunks(t *testing.T) {
	l, _ := testOpen(t, t.TempDir(), Options{NoSync: true})
	unstall := stallWriter(t, l)
	ctx := context.Background()
	p1, err := l.Append(ctx, testChunk(1, 100))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 2*time.Second, "writer busy with chunk 1", func() bool { return queueLen(l) == 0 })
	p2, err := l.Append(ctx, testChunk(2, 100)) // must not block on chunk 1's write
	if err != nil {
		t.Fatal(err)
	}
	if isDone(p1) || isDone(p2) {
		t.Fatal("pending done before its write")
	}
	unstall()
	<-p1.Done()
	<-p2.Done()
	if p1.Err() != nil || p2.Err() != nil {
		t.Fatal(p1.Err(), p2.Err())
	}
}

func TestFailedWriteStopsTheLog(t *testing.T) {
	l, _ := testOpen(t, t.TempDir(), Options{NoSync: true})
	fault := func() error { return errInjected }
	l.faultWrite.Store(&fault)
	p, err := l.Append(context.Background(), testChunk(1, 100))
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if !errors.Is(p.Err(), errInjected) {
		t.Fatalf("Pending.Err = %v", p.Err())
	}
	if _, err := l.Append(context.Background(), testChunk(2, 100)); !errors.Is(err, errInjected) {
		t.Fatalf("Append after failure = %v", err)
	}
	if st := l.State(); !errors.Is(st.Err, errInjected) {
		t.Fatalf("State.Err = %v", st.Err)
	}
	if err := l.Close(); !errors.Is(err, errInjected) {
		t.Fatalf("Close = %v", err)
	}
}

func TestAppendRefusals(t *testing.T) {
	l, _ := testOpen(t, t.TempDir(), Options{NoSync: true})
	ctx := context.Background()
	appendAll(t, l, 5, 5, 10)
	tests := []struct {
		name string
		c    Chunk
		want error
	}{
		{"seq repeated", testChunk(5, 10), ErrOutOfOrder},
		{"seq going back", testChunk(4, 10), ErrOutOfOrder},
		{"too large", Chunk{Seq: 6, Data: make([]byte, maxPayload)}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := l.Append(ctx, tt.c); !errors.Is(err, tt.want) {
				t.Fatalf("Append = %v, want %v", err, tt.want)
			}
		})
	}
	if got := l.NextSeq(); got != 6 {
		t.Fatalf("NextSeq = %d after refusals, want 6", got)
	}
}

func TestCloseDrainsTheQueueAndIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var ps []Pending
	for s := uint64(1); s <= 20; s++ {
		p, err := l.Append(context.Background(), testChunk(s, 2000))
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if !isDone(p) || p.Err() != nil {
			t.Fatalf("pending after Close: done %v err %v", isDone(p), p.Err())
		}
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := l.Append(context.Background(), testChunk(21, 10)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v", err)
	}
	if err := l.Release(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Release after Close = %v", err)
	}
	if err := l.Sync(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close = %v", err)
	}
	l2, _ := testOpen(t, dir, Options{})
	if got := verifyAll(t, l2); len(got) != 20 {
		t.Fatalf("after Close and reopen: %v", got)
	}
}

func TestSyncWaitsForEverythingAppended(t *testing.T) {
	l, _ := testOpen(t, t.TempDir(), Options{})
	var ps []Pending
	for s := uint64(1); s <= 10; s++ {
		p, _ := l.Append(context.Background(), testChunk(s, 1000))
		ps = append(ps, p)
	}
	if err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, p := range ps {
		if !isDone(p) {
			t.Fatalf("chunk %d not durable after Sync", i+1)
		}
	}
	if got := len(l.Unreleased()); got != 10 {
		t.Fatalf("Unreleased has %d after Sync", got)
	}
}

func TestMetaIsPersisted(t *testing.T) {
	dir := t.TempDir()
	l, _ := testOpen(t, dir, Options{NoSync: true})
	if m := l.Meta(); m != (Meta{}) {
		t.Fatalf("Meta of a new log = %+v", m)
	}
	want := Meta{Agent: "agentA", Epoch: 7}
	if err := l.SetMeta(want); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l2, _ := testOpen(t, dir, Options{NoSync: true})
	if m := l2.Meta(); m != want {
		t.Fatalf("Meta after reopen = %+v, want %+v", m, want)
	}
	if _, err := os.Stat(filepath.Join(dir, metaTemp)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary meta file left behind: %v", err)
	}
}

func TestOpenRefusesUnknownFormats(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		bytes func() []byte
	}{
		{"segment version 2", segName(1), func() []byte {
			h := appendSegHeader(nil, 1)
			h[8] = 2
			return h
		}},
		{"meta version 9", metaFile, func() []byte {
			return []byte(`{"version":9,"agent":"a","epoch":1}`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tt.file), tt.bytes(), 0o640); err != nil {
				t.Fatal(err)
			}
			l, err := Open(Options{Dir: dir})
			if !errors.Is(err, ErrVersion) {
				if l != nil {
					l.Close()
				}
				t.Fatalf("Open = %v, want ErrVersion", err)
			}
		})
	}
}

func TestSecondOpenOfADirectoryIsRefused(t *testing.T) {
	dir := t.TempDir()
	testOpen(t, dir, Options{NoSync: true})
	l, err := Open(Options{Dir: dir})
	if !errors.Is(err, ErrInUse) {
		if l != nil {
			l.Close()
		}
		t.Fatalf("second Open = %v, want ErrInUse", err)
	}
}
