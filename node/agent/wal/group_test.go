package wal

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flumego/flume/internal/testwait"
)

// headChunk is chunk seq of n bytes (chunkData) handed in as a Head of head bytes and the rest
// as Data, so that only the two joined are genuine.
func headChunk(seq uint64, head, n int) Chunk {
	c := testChunk(seq, n)
	c.Head, c.Data = c.Data[:head:head], c.Data[head:]
	return c
}

// flipByte inverts the byte at off of the file at path.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestChunkHeadIsWrittenBeforeItsDataAndReadBackJoined(t *testing.T) {
	dir := t.TempDir()
	l, _ := testOpen(t, dir, Options{})
	chunks := []Chunk{
		testChunk(1, 3000),
		headChunk(2, 700, 3000),   // Head and Data both written from where they lie
		headChunk(3, 20, 3000),    // a short Head, copied among the small parts
		headChunk(4, 2000, 2000),  // Head alone
		headChunk(5, 16, 16),      // Head alone, short
		headChunk(6, 1500, 90000), // a large Data behind its Head
	}
	ctx := context.Background()
	var ps []Pending
	for _, c := range chunks {
		p, err := l.Append(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		if <-p.Done(); p.Err() != nil {
			t.Fatal(p.Err())
		}
	}
	check := func(l *Log, when string) {
		t.Helper()
		refs := l.Unreleased()
		if got := seqsOf(refs); !slices.Equal(got, seqRangeList(1, 6)) {
			t.Fatalf("%s: Unreleased = %v", when, got)
		}
		for i, c := range chunks {
			if want := len(c.Head) + len(c.Data); refs[i].Size != want {
				t.Fatalf("%s: chunk %d has Size %d, want %d", when, c.Seq, refs[i].Size, want)
			}
			got, err := l.Read(c.Seq)
			if err != nil {
				t.Fatalf("%s: Read(%d): %v", when, c.Seq, err)
			}
			if got.Head != nil || !bytes.Equal(got.Data, append(slices.Clone(c.Head), c.Data...)) {
				t.Fatalf("%s: chunk %d read back as Head %d bytes, Data %d bytes, not Head+Data",
					when, c.Seq, len(got.Head), len(got.Data))
			}
		}
		verifyAll(t, l)
	}
	check(l, "written")

	// The records lie back to back in the one segment, each Head right before its Data.
	seg := segFiles(t, dir)[0]
	var want []byte
	want = appendSegHeader(want, 1)
	offs := map[uint64]int64{}
	for _, c := range chunks {
		offs[c.Seq] = int64(len(want))
		want = appendChunkRecord(want, &c)
	}
	if b, err := os.ReadFile(seg); err != nil || !bytes.Equal(b, want) {
		t.Fatalf("segment is not the records of the chunks back to back (%v)", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l2, reg := testOpen(t, dir, Options{})
	check(l2, "reopened")
	if v := metric(reg, "wal_truncated_records"); v != 0 {
		t.Fatalf("clean reopen truncated %d records", v)
	}

	// A flipped byte in the Head or in the Data of chunk 2 fails its checksum: Read refuses the
	// chunk, and recovery skips it.
	c2 := chunks[1]
	for _, tt := range []struct {
		name string
		off  int64
	}{
		{"head", offs[2] + chunkHeadSize + int64(len(c2.Head))/2},
		{"data", offs[2] + chunkHeadSize + int64(len(c2.Head)) + int64(len(c2.Data))/2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			flipByte(t, seg, tt.off)
			if _, err := l2.Read(2); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Read(2) after a flipped byte = %v, want ErrCorrupt", err)
			}
			cp := copyDir(t, dir)
			flipByte(t, seg, tt.off)
			if c, err := l2.Read(2); err != nil || !checkData(2, c.Data) {
				t.Fatalf("Read(2) after the byte is restored = %v", err)
			}

			l3, reg := testOpen(t, cp, Options{NoSync: true})
			if got := verifyAll(t, l3); !slices.Equal(got, []uint64{1, 3, 4, 5, 6}) {
				t.Fatalf("after recovery Unreleased = %v", got)
			}
			if v := metric(reg, "wal_truncated_records"); v != 1 {
				t.Fatalf("recovery cut %d records, want 1", v)
			}
			if _, err := l3.Read(2); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Read(2) after recovery = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestChunkHeadCountsInEverySize(t *testing.T) {
	l, _ := testOpen(t, t.TempDir(), Options{NoSync: true, MaxQueueBytes: 5000})
	ctx := context.Background()
	big := make([]byte, maxPayload/2)
	if _, err := l.Append(ctx, Chunk{Seq: 1, Head: big, Data: big}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append of a Head and Data too large together = %v, want ErrTooLarge", err)
	}

	unstall := stallWriter(t, l)
	c1 := headChunk(1, 3000, 4000)
	p1, err := l.Append(ctx, c1)
	if err != nil {
		t.Fatal(err)
	}
	queued := func() (bytes, recs int64) {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.queueBytes, l.queuedRecs
	}
	if b, r := queued(); b != 4000 || r != chunkRecordSize(4000) {
		t.Fatalf("queued %d data bytes, %d record bytes; want 4000, %d", b, r, chunkRecordSize(4000))
	}
	// 4000 queued and 1600 more pass MaxQueueBytes: Append waits, though Data alone would fit.
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := l.Append(wctx, headChunk(2, 1500, 1600)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Append beyond MaxQueueBytes = %v, want it to wait", err)
	}
	unstall()
	if <-p1.Done(); p1.Err() != nil {
		t.Fatal(p1.Err())
	}
	if b, r := queued(); b != 0 || r != 0 {
		t.Fatalf("after the write %d data bytes, %d record bytes still queued", b, r)
	}
	if o := p1.(*op); o.chunk.Head != nil || o.chunk.Data != nil {
		t.Fatal("the log holds on to a written chunk's Head or Data")
	}
	if refs := l.Unreleased(); len(refs) != 1 || refs[0].Size != 4000 {
		t.Fatalf("Unreleased = %+v, want chunk 1 of 4000 bytes", refs)
	}
}

func TestGroupBeyondTheIovecLimitIsOneWrite(t *testing.T) {
	dir := t.TempDir()
	l, reg := testOpen(t, dir, Options{})
	// The writer stalls on chunk 1 while the rest queue up; they go in the next group.
	stall := make(chan struct{})
	var mu sync.Mutex
	var groups []int // parts of each group written
	fault := func() error {
		<-stall
		mu.Lock()
		groups = append(groups, len(l.grp.parts))
		mu.Unlock()
		return nil
	}
	l.faultWrite.Store(&fault)
	var once sync.Once
	unstall := func() { once.Do(func() { close(stall) }) }
	t.Cleanup(unstall)

	ctx := context.Background()
	chunks := []Chunk{testChunk(1, 100)}
	for s := uint64(2); s <= 900; s++ {
		// Three parts a chunk (header, Head, Data), of sizes that make pwritev stop at all
		// sorts of places; every tenth Head is short and copied among the small parts.
		head := 64 + int(s%97)
		if s%10 == 0 {
			head = int(s % 40)
		}
		chunks = append(chunks, headChunk(s, head, head+64+int(s*37%500)))
	}
	var ps []Pending
	for i, c := range chunks {
		p, err := l.Append(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
		if i == 0 {
			testwait.Until(t, 2*time.Second, "writer busy with chunk 1", func() bool { return queueLen(l) == 0 })
		}
	}
	syncs := metric(reg, "wal_fsyncs")
	unstall()
	for _, p := range ps {
		if <-p.Done(); p.Err() != nil {
			t.Fatal(p.Err())
		}
	}
	mu.Lock()
	got := slices.Clone(groups)
	mu.Unlock()
	if len(got) != 2 || got[1] <= 2*iovMax {
		t.Fatalf("groups written of %v parts; want chunk 1, then one group of more than %d parts",
			got, 2*iovMax)
	}
	if n := metric(reg, "wal_fsyncs") - syncs; n != 2 {
		t.Fatalf("%d fsyncs for two groups", n)
	}

	want := appendSegHeader(nil, 1)
	for _, c := range chunks {
		want = appendChunkRecord(want, &c)
	}
	if b, err := os.ReadFile(segFiles(t, dir)[0]); err != nil || !bytes.Equal(b, want) {
		t.Fatalf("segment of %d bytes is not the %d bytes of the records back to back (%v)",
			len(b), len(want), err)
	}
	if got := verifyAll(t, l); !slices.Equal(got, seqRangeList(1, 900)) {
		t.Fatalf("Unreleased = %v", got)
	}
	l.Close()
	l2, _ := testOpen(t, dir, Options{})
	if got := verifyAll(t, l2); !slices.Equal(got, seqRangeList(1, 900)) {
		t.Fatalf("after reopen Unreleased = %v", got)
	}
}

// TestWriterKeepsNoGroupSizedBuffer appends 200 chunks of 180 KB in groups of several MiB: the
// writer must write them from where they lie, allocating next to nothing, and keep no buffer
// of more than a few KiB, nor any chunk's bytes, once the groups are written.
func TestWriterKeepsNoGroupSizedBuffer(t *testing.T) {
	const n, size = 200, 180 << 10
	l, _ := testOpen(t, t.TempDir(),
		Options{NoSync: true, MinFreeBytes: -1, MaxQueueBytes: 2 * n * size})
	data := chunkData(1, size) // shared by every chunk: the log only reads Data
	ctx := context.Background()
	unstall := stallWriter(t, l)
	ps := make([]Pending, 0, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for s := uint64(1); s <= n; s++ {
		p, err := l.Append(ctx, Chunk{Seq: s, Count: 1000, Head: data[:100], Data: data[100:]})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	unstall()
	for _, p := range ps {
		if <-p.Done(); p.Err() != nil {
			t.Fatal(p.Err())
		}
	}
	runtime.ReadMemStats(&after)
	// A group holds up to maxBatchBytes (8 MiB) of records; copying them would allocate that
	// much at least. What the log allocates per chunk (its op, index entry, iovec) is far less.
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("appending %d chunks of %d bytes allocated %d bytes", n, size, alloc)
	if alloc > 1<<20 {
		t.Fatalf("appending %d chunks of %d bytes allocated %d bytes", n, size, alloc)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	g := &l.grp
	if cap(g.first) > groupBlock || cap(g.block) > groupBlock || cap(g.parts) > keptParts {
		t.Fatalf("writer keeps a block of %d bytes, its first of %d, and %d parts",
			cap(g.block), cap(g.first), cap(g.parts))
	}
	for i, p := range g.parts[:cap(g.parts)] {
		if p != nil {
			t.Fatalf("writer keeps part %d (%d bytes) after the group", i, len(p))
		}
	}
	if g.size != 0 || len(g.parts) != 0 {
		t.Fatalf("group not reset: %d bytes in %d parts", g.size, len(g.parts))
	}
}

// fakeFile takes pwritev calls into a byte slice, writing at most max bytes a call.
type fakeFile struct {
	b     []byte
	max   int
	calls int
	fail  int // the call that fails with errInjected; 0: none
}

func (f *fakeFile) pwritev(iov [][]byte, off int64) (int, error) {
	f.calls++
	if len(iov) > iovMax {
		return 0, errors.New("more than iovMax buffers")
	}
	if f.calls == f.fail {
		return 0, errInjected
	}
	n := 0
	for _, b := range iov {
		k := min(len(b), f.max-n)
		if end := int(off) + n + k; end > len(f.b) {
			f.b = append(f.b, make([]byte, end-len(f.b))...)
		}
		copy(f.b[int(off)+n:], b[:k])
		if n += k; n == f.max {
			break
		}
	}
	return n, nil
}

func TestWritePartsGoesOnAfterShortWritesAndAtTheIovecLimit(t *testing.T) {
	var parts [][]byte
	var want []byte
	for i := range 3000 {
		p := chunkData(uint64(i), i%50)
		if i%7 == 0 {
			p = nil // empty parts are skipped over
		}
		parts = append(parts, p)
		want = append(want, p...)
	}
	orig := slices.Clone(parts)
	for _, max := range []int{1, 7, 100, 4096, 1 << 30} {
		f := &fakeFile{b: make([]byte, 5), max: max}
		n, err := writeParts(parts, 5, f.pwritev)
		if err != nil || n != int64(len(want)) || !bytes.Equal(f.b[5:], want) {
			t.Fatalf("max %d: wrote %d of %d bytes (%v), equal %v",
				max, n, len(want), err, bytes.Equal(f.b[5:], want))
		}
		if max == 1<<30 && f.calls != 3 {
			t.Fatalf("%d calls for %d parts", f.calls, len(parts))
		}
		if !slices.EqualFunc(parts, orig, func(a, b []byte) bool {
			return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
		}) {
			t.Fatalf("max %d: writeParts changed its parts", max)
		}
	}

	f := &fakeFile{max: 1000, fail: 3}
	if n, err := writeParts(parts, 0, f.pwritev); !errors.Is(err, errInjected) || n != 2000 {
		t.Fatalf("failing write = %d, %v; want 2000 bytes, then the error", n, err)
	}
	stuck := func([][]byte, int64) (int, error) { return 0, nil }
	if _, err := writeParts(parts, 0, stuck); !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("write that makes no progress = %v, want io.ErrShortWrite", err)
	}
	if n, err := writeParts(nil, 0, stuck); n != 0 || err != nil {
		t.Fatalf("write of nothing = %d, %v", n, err)
	}
}

func TestGroupPacksSmallPartsAndReferencesChunkBytes(t *testing.T) {
	var g group
	big := chunkData(1, 5000)
	c := Chunk{Seq: 7, Head: big[:10], Data: big[10:]}
	g.addChunk(&c)
	g.addRelease([]seqRange{{1, 3}})
	g.addChunk(&c)
	// header+Head copy, Data, release+header+Head copy, Data
	if len(g.parts) != 4 || &g.parts[1][0] != &big[10] || &g.parts[3][0] != &big[10] {
		t.Fatalf("parts of %v bytes", lens(g.parts))
	}
	want := appendChunkRecord(nil, &c)
	want = appendReleaseRecord(want, []seqRange{{1, 3}})
	want = appendChunkRecord(want, &c)
	if got := bytes.Join(g.parts, nil); !bytes.Equal(got, want) || g.size != int64(len(want)) {
		t.Fatalf("group of %d bytes (size %d) differs from the records (%d bytes)",
			len(got), g.size, len(want))
	}

	// Small parts beyond the first block go on in new blocks; earlier parts stay intact.
	g.reset()
	want = want[:0]
	for s := uint64(1); s <= 1000; s++ {
		c := testChunk(s, 40)
		g.addChunk(&c)
		want = appendChunkRecord(want, &c)
		if s%100 == 0 {
			g.addRelease(toRanges(nil, seqRangeList(1, s)))
			want = appendReleaseRecord(want, toRanges(nil, seqRangeList(1, s)))
		}
	}
	if got := bytes.Join(g.parts, nil); !bytes.Equal(got, want) {
		t.Fatalf("group of %d bytes differs from the records (%d bytes)", len(got), len(want))
	}
	if len(g.parts) > 20 {
		t.Fatalf("%d parts for records of small parts only", len(g.parts))
	}
	g.reset()
	if cap(g.first) != groupBlock || cap(g.block) != groupBlock || len(g.parts) != 0 || g.size != 0 {
		t.Fatalf("after reset: first block %d, block %d, %d parts, size %d",
			cap(g.first), cap(g.block), len(g.parts), g.size)
	}
}

func lens(parts [][]byte) []int {
	out := make([]int, len(parts))
	for i, p := range parts {
		out[i] = len(p)
	}
	return out
}
