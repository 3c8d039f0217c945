package wal

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/flumego/flume/node/metrics"
)

// testOpen opens a log in dir with opts (Dir filled in) and closes it at the end of the test.
func testOpen(t testing.TB, dir string, opts Options) (*Log, *metrics.Registry) {
	t.Helper()
	reg := metrics.NewRegistry()
	opts.Dir = dir
	opts.Metrics = reg
	l, err := Open(opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { l.Close() })
	return l, reg
}

// metric reads a counter or gauge of reg.
func metric(reg *metrics.Registry, name string) int64 {
	v, _ := reg.Get(name)
	return v
}

// chunkData returns the data of chunk seq: n bytes that carry their own seq, length and
// checksum, so checkData can tell a genuine chunk from anything else.
func chunkData(seq uint64, n int) []byte {
	n = max(n, 16)
	b := make([]byte, n)
	binary.LittleEndian.PutUint64(b, seq)
	binary.LittleEndian.PutUint32(b[8:], uint32(n))
	r := rand.New(rand.NewPCG(seq, uint64(n)))
	for i := 16; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	binary.LittleEndian.PutUint32(b[12:], crc32.Checksum(b[16:], castagnoli))
	return b
}

// checkData reports whether data is the genuine data of chunk seq.
func checkData(seq uint64, data []byte) bool {
	if len(data) < 16 || binary.LittleEndian.Uint64(data) != seq ||
		binary.LittleEndian.Uint32(data[8:]) != uint32(len(data)) {
		return false
	}
	return binary.LittleEndian.Uint32(data[12:]) == crc32.Checksum(data[16:], castagnoli)
}

func testChunk(seq uint64, n int) Chunk {
	return Chunk{Seq: seq, Count: uint32(seq % 1000), Created: int64(seq) * 1e9,
		Data: chunkData(seq, n)}
}

// appendAll appends chunks first..last of n bytes each and waits until they are durable.
func appendAll(t testing.TB, l *Log, first, last uint64, n int) {
	t.Helper()
	ctx := context.Background()
	var ps []Pending
	for s := first; s <= last; s++ {
		p, err := l.Append(ctx, testChunk(s, n))
		if err != nil {
			t.Fatalf("Append(%d): %v", s, err)
		}
		ps = append(ps, p)
	}
	for i, p := range ps {
		<-p.Done()
		if err := p.Err(); err != nil {
			t.Fatalf("chunk %d: %v", first+uint64(i), err)
		}
	}
}

// seqsOf lists the seqs of refs.
func seqsOf(refs []ChunkRef) []uint64 {
	out := make([]uint64, len(refs))
	for i, r := range refs {
		out[i] = r.Seq
	}
	return out
}

func seqRangeList(first, last uint64) []uint64 {
	var out []uint64
	for s := first; s <= last; s++ {
		out = append(out, s)
	}
	return out
}

// verifyAll reads back every unreleased chunk and checks it is genuine and matches its ref.
func verifyAll(t testing.TB, l *Log) []uint64 {
	t.Helper()
	refs := l.Unreleased()
	for _, r := range refs {
		c, err := l.Read(r.Seq)
		if err != nil {
			t.Fatalf("Read(%d): %v", r.Seq, err)
		}
		if !checkData(r.Seq, c.Data) || c.Seq != r.Seq || c.Count != r.Count ||
			c.Created != r.Created || len(c.Data) != r.Size {
			t.Fatalf("chunk %d read back wrong: seq %d count %d created %d size %d (ref %+v)",
				r.Seq, c.Seq, c.Count, c.Created, len(c.Data), r)
		}
	}
	if !slices.IsSorted(seqsOf(refs)) {
		t.Fatalf("Unreleased not in seq order: %v", seqsOf(refs))
	}
	return seqsOf(refs)
}

// segFiles lists the segment files of dir, oldest first.
func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// setFreeSpace replaces the free space probe of l.
func setFreeSpace(l *Log, fn func(string) (int64, error)) {
	l.mu.Lock()
	l.freeSpace = fn
	l.mu.Unlock()
}

// isDone reports whether p has completed.
func isDone(p Pending) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}

var errInjected = errors.New("injected")

// stallWriter makes the writer of l block before each segment write until unstall is called;
// unstall also runs at cleanup, so a failing test does not leave Close hanging.
func stallWriter(t testing.TB, l *Log) (unstall func()) {
	stall := make(chan struct{})
	var once sync.Once
	unstall = func() { once.Do(func() { close(stall) }) }
	fault := func() error { <-stall; return nil }
	l.faultWrite.Store(&fault)
	t.Cleanup(unstall)
	return unstall
}

// queueLen returns the number of ops waiting for the writer.
func queueLen(l *Log) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}
