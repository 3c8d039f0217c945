package localcommit

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/flumego/flume/commitpoint"
)

func commit(t *testing.T, l *Log, seq uint64, length int64) (int, bool) {
	t.Helper()
	out, err := l.Commit(context.Background(), "host1", []commitpoint.Commit{{Agent: "a", Epoch: 1, Seq: seq,
		Files: []commitpoint.FileLength{{File: "/out/f.tmp", Length: length}}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Committed, out.Duplicate
}

func TestCommitsSurviveReopenAndATornTail(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 3; seq++ {
		commit(t, l, seq, int64(seq)*10)
	}
	if n, dup := commit(t, l, 2, 99); n != 0 || !dup {
		t.Fatalf("chunk 2 again: committed %d, duplicate %v; want a duplicate", n, dup)
	}
	_ = l.Close()
	// A crash in the middle of the next write leaves half a record.
	f, err := os.OpenFile(filepath.Join(dir, "log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write([]byte{40, 0, 0, 0, 1, 2, 3, 4, 5})
	_ = f.Close()

	l, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.TornBytes() != 9 {
		t.Fatalf("cut %d bytes of torn tail, want 9", l.TornBytes())
	}
	got, _ := l.Committed(context.Background(), "a", 1, []uint64{1, 2, 3, 4})
	if !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("after reopen committed = %v, want [1 2 3]", got)
	}
	lens, _ := l.FileLengths(context.Background(), "host1")
	if lens["/out/f.tmp"] != 30 {
		t.Fatalf("file length %d after reopen, want 30", lens["/out/f.tmp"])
	}
	if n, _ := commit(t, l, 4, 40); n != 1 {
		t.Fatal("no commit after the torn tail was cut")
	}
}

func TestCompactionKeepsTheState(t *testing.T) {
	old := compactAt
	compactAt = 200
	t.Cleanup(func() { compactAt = old })
	dir := t.TempDir()
	l, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 50; seq++ {
		commit(t, l, seq, int64(seq))
	}
	ep, err := l.NewEpoch(context.Background(), "a")
	if err != nil || ep != 1 {
		t.Fatalf("epoch %d, %v", ep, err)
	}
	_ = l.Close()
	if fi, err := os.Stat(filepath.Join(dir, "log")); err != nil || fi.Size() > 400 {
		t.Fatalf("log not compacted: %v %v", fi, err)
	}
	l, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got, _ := l.Committed(context.Background(), "a", 1, []uint64{1, 25, 50, 51})
	if !slices.Equal(got, []uint64{1, 25, 50}) {
		t.Fatalf("after compaction and reopen committed = %v", got)
	}
	if ep, _ := l.NewEpoch(context.Background(), "a"); ep != 2 {
		t.Fatalf("next epoch %d, want 2", ep)
	}
}
