package wal

import (
	"bytes"
	"os"
	"slices"
	"testing"
)

// fixture writes chunks 1..n of size bytes each into a single-segment log in a new directory
// and returns the directory, the segment's path and the end offset of every record.
func fixture(t *testing.T, n uint64, size int) (dir, seg string, ends []int64) {
	t.Helper()
	dir = t.TempDir()
	l, err := Open(Options{Dir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for s := uint64(1); s <= n; s++ {
		appendAll(t, l, s, s, size)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files := segFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("fixture has %d segments", len(files))
	}
	seg = files[0]
	off := int64(segHeaderSize)
	for range n {
		off += chunkRecordSize(chunkSizeFor(size))
		ends = append(ends, off)
	}
	st, err := os.Stat(seg)
	if err != nil || st.Size() != off {
		t.Fatalf("segment size %v, computed %d (%v)", st.Size(), off, err)
	}
	return dir, seg, ends
}

// chunkSizeFor is the data size chunkData makes for a request of n bytes.
func chunkSizeFor(n int) int { return max(n, 16) }

// mutateSeg copies dir and applies fn to the bytes of the named segment in the copy.
func mutateSeg(t *testing.T, dir, seg string, fn func([]byte) []byte) string {
	t.Helper()
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	cp := copyDir(t, dir)
	name := seg[len(dir):]
	if err := os.WriteFile(cp+name, fn(bytes.Clone(b)), 0o640); err != nil {
		t.Fatal(err)
	}
	return cp
}

func TestRecoveryTruncatesATornTailAtEveryOffset(t *testing.T) {
	const n = 8
	dir, seg, ends := fixture(t, n, 150)
	for cut := ends[n-4]; cut <= ends[n-1]; cut++ {
		d := mutateSeg(t, dir, seg, func(b []byte) []byte { return b[:cut] })
		l, reg := testOpen(t, d, Options{NoSync: true})
		whole := 0 // records that end at or before the cut
		for whole < n && ends[whole] <= cut {
			whole++
		}
		got := verifyAll(t, l)
		if !slices.Equal(got, seqRangeList(1, uint64(whole))) {
			t.Fatalf("cut at %d: Unreleased = %v, want 1..%d", cut, got, whole)
		}
		wantRecs, wantBytes := int64(0), cut-ends[whole-1]
		if wantBytes > 0 {
			wantRecs = 1
		}
		r, b := metric(reg, "wal_truncated_records"), metric(reg, "wal_truncated_bytes")
		if r != wantRecs || b != wantBytes {
			t.Fatalf("cut at %d: truncated %d records %d bytes, want %d and %d",
				cut, r, b, wantRecs, wantBytes)
		}
		if next := l.NextSeq(); next < uint64(whole)+1 || next > uint64(whole)+2 {
			t.Fatalf("cut at %d: NextSeq = %d", cut, next)
		}
		// What is appended after the cut is read back whole: the torn bytes are gone.
		next := l.NextSeq()
		appendAll(t, l, next, next, 150)
		l.Close()
		l2, reg2 := testOpen(t, d, Options{NoSync: true})
		if got := verifyAll(t, l2); !slices.Equal(got, append(seqRangeList(1, uint64(whole)), next)) {
			t.Fatalf("cut at %d, then append %d: Unreleased = %v", cut, next, got)
		}
		if r := metric(reg2, "wal_truncated_records"); r != 0 {
			t.Fatalf("cut at %d: second recovery cut %d records", cut, r)
		}
		l2.Close()
	}
}

func TestRecoveryNeverDeliversAFlippedByte(t *testing.T) {
	const n = 8
	dir, seg, ends := fixture(t, n, 100)
	first := ends[n-4] // start of record n-2
	for off := first; off < ends[n-1]; off++ {
		d := mutateSeg(t, dir, seg, func(b []byte) []byte {
			b[off] ^= 1 << (off % 8)
			return b
		})
		l, reg := testOpen(t, d, Options{NoSync: true})
		rec := 0 // index of the damaged record
		for ends[rec] <= off {
			rec++
		}
		start := ends[rec-1]
		got := verifyAll(t, l) // every chunk returned is genuine
		var want []uint64
		if off-start < 20 {
			// A damaged header ends the last segment: it and all after it are cut.
			want = seqRangeList(1, uint64(rec))
		} else {
			// A damaged payload (or record checksum) costs that record alone.
			want = slices.DeleteFunc(seqRangeList(1, n), func(s uint64) bool { return s == uint64(rec+1) })
		}
		if !slices.Equal(got, want) {
			t.Fatalf("flip at %d (record %d, +%d): Unreleased = %v, want %v",
				off, rec+1, off-start, got, want)
		}
		if metric(reg, "wal_truncated_records") == 0 {
			t.Fatalf("flip at %d: nothing counted", off)
		}
		if next := l.NextSeq(); next != n+1 && off-start >= 20 {
			t.Fatalf("flip at %d: NextSeq = %d, want %d: the damaged chunk's seq must not be reused",
				off, next, n+1)
		}
		l.Close()
	}
}

func TestRecoveryCutsGarbageAfterTheLastRecord(t *testing.T) {
	tests := []struct {
		name    string
		garbage []byte
	}{
		{"one byte", []byte{7}},
		{"zeros of a header", make([]byte, recHeaderSize)},
		{"zero pages", make([]byte, 8192)},
		{"random", bytes.Repeat([]byte("garbage!"), 300)},
		{"a copy of a record header", nil}, // filled in below
	}
	dir, seg, ends := fixture(t, 5, 200)
	b, _ := os.ReadFile(seg)
	tests[len(tests)-1].garbage = bytes.Clone(b[ends[0] : ends[0]+recHeaderSize+10])
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mutateSeg(t, dir, seg, func(b []byte) []byte { return append(b, tt.garbage...) })
			l, reg := testOpen(t, d, Options{NoSync: true})
			if got := verifyAll(t, l); !slices.Equal(got, seqRangeList(1, 5)) {
				t.Fatalf("Unreleased = %v", got)
			}
			if b := metric(reg, "wal_truncated_bytes"); b != int64(len(tt.garbage)) {
				t.Fatalf("truncated %d bytes, want %d", b, len(tt.garbage))
			}
			st, _ := os.Stat(d + seg[len(dir):])
			if st.Size() != ends[4] {
				t.Fatalf("segment is %d bytes after recovery, want %d", st.Size(), ends[4])
			}
		})
	}
}

func TestRecoveryDamageInAnOlderSegmentSkipsToItsEnd(t *testing.T) {
	dir := t.TempDir()
	l, _ := testOpen(t, dir, Options{NoSync: true, SegmentBytes: 2 << 10})
	for s := uint64(1); s <= 12; s++ {
		appendAll(t, l, s, s, 500) // 4 chunks per segment
	}
	l.Close()
	files := segFiles(t, dir)
	if len(files) != 3 {
		t.Fatalf("%d segments, want 3", len(files))
	}
	// Damage the header of chunk 2 in the first segment.
	off := segHeaderSize + chunkRecordSize(500) + 3
	d := mutateSeg(t, dir, files[0], func(b []byte) []byte {
		b[off] ^= 0xff
		return b
	})
	l2, reg := testOpen(t, d, Options{NoSync: true, SegmentBytes: 2 << 10})
	if got := verifyAll(t, l2); !slices.Equal(got, append([]uint64{1}, seqRangeList(5, 12)...)) {
		t.Fatalf("Unreleased = %v, want 1 and 5..12", got)
	}
	r, b := metric(reg, "wal_truncated_records"), metric(reg, "wal_truncated_bytes")
	if r != 1 || b != 3*chunkRecordSize(500) {
		t.Fatalf("counted %d records %d bytes", r, b)
	}
	if next := l2.NextSeq(); next != 13 {
		t.Fatalf("NextSeq = %d, want 13", next)
	}
	// The older segment is skipped, not cut: its file keeps its size.
	if st, _ := os.Stat(d + files[0][len(dir):]); st.Size() != segHeaderSize+4*chunkRecordSize(500) {
		t.Fatalf("older segment resized to %d", st.Size())
	}
}

func TestRecoveryRewritesALastSegmentCreatedJustBeforeACrash(t *testing.T) {
	tests := []struct {
		name   string
		header []byte
	}{
		{"empty", nil},
		{"zeroed", make([]byte, segHeaderSize)},
		{"half a header", appendSegHeader(nil, 9)[:12]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _, _ := fixture(t, 3, 100)
			d := copyDir(t, dir)
			if err := os.WriteFile(d+"/"+segName(9), tt.header, 0o640); err != nil {
				t.Fatal(err)
			}
			l, _ := testOpen(t, d, Options{NoSync: true})
			if got := verifyAll(t, l); !slices.Equal(got, seqRangeList(1, 3)) {
				t.Fatalf("Unreleased = %v", got)
			}
			if next := l.NextSeq(); next != 9 {
				t.Fatalf("NextSeq = %d, want 9 (the new segment's base)", next)
			}
			appendAll(t, l, 9, 9, 100)
			l.Close()
			l2, _ := testOpen(t, d, Options{NoSync: true})
			if got := verifyAll(t, l2); !slices.Equal(got, []uint64{1, 2, 3, 9}) {
				t.Fatalf("after append and reopen: %v", got)
			}
		})
	}
}

func TestRecoveryRefusesARenamedSegment(t *testing.T) {
	dir, seg, _ := fixture(t, 2, 100)
	d := copyDir(t, dir)
	if err := os.Rename(d+seg[len(dir):], d+"/"+segName(5)); err != nil {
		t.Fatal(err)
	}
	l, err := Open(Options{Dir: d, NoSync: true})
	if err == nil {
		l.Close()
		t.Fatal("Open accepted a segment whose header disagrees with its name")
	}
}

func TestOpenDeletesSegmentsLeftFullyReleasedAndCarriesTheirReleases(t *testing.T) {
	// As a crash can leave them: segment 1 holds chunks 1 and 2; segment 3, the last, holds
	// chunk 3, the release of chunk 1 and the release of chunk 3.
	dir := t.TempDir()
	c1, c2, c3 := testChunk(1, 100), testChunk(2, 100), testChunk(3, 100)
	seg1 := appendChunkRecord(appendChunkRecord(appendSegHeader(nil, 1), &c1), &c2)
	seg3 := appendChunkRecord(appendSegHeader(nil, 3), &c3)
	seg3 = appendReleaseRecord(seg3, []seqRange{{1, 1}})
	seg3 = appendReleaseRecord(seg3, []seqRange{{3, 3}})
	for name, b := range map[string][]byte{segName(1): seg1, segName(3): seg3} {
		if err := os.WriteFile(dir+"/"+name, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	l, _ := testOpen(t, dir, Options{})
	if got := verifyAll(t, l); !slices.Equal(got, []uint64{2}) {
		t.Fatalf("Unreleased = %v, want [2]", got)
	}
	want := []string{dir + "/" + segName(1), dir + "/" + segName(4)}
	if got := segFiles(t, dir); !slices.Equal(got, want) {
		t.Fatalf("segments %v, want %v", got, want)
	}
	l.Close()
	l2, _ := testOpen(t, dir, Options{})
	if got := verifyAll(t, l2); !slices.Equal(got, []uint64{2}) {
		t.Fatalf("after reopen Unreleased = %v, want [2]: the release of 1 was lost", got)
	}
	if next := l2.NextSeq(); next != 4 {
		t.Fatalf("NextSeq = %d, want 4", next)
	}
}
