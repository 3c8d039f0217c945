package state

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

func commitGroup(collector string, chunks ...*flumev1.ChunkCommit) *flumev1.Command {
	return cmd("", func(c *flumev1.Command) {
		c.Op = &flumev1.Command_CommitChunks{CommitChunks: &flumev1.CommitChunks{Collector: collector, Chunks: chunks}}
	})
}

func chunk(agent string, seq uint64, file string, length int64) *flumev1.ChunkCommit {
	return &flumev1.ChunkCommit{Agent: agent, Epoch: 1, Seq: seq, Files: []*flumev1.FileLength{{File: file, Length: length}}}
}

// TestCommitStopsAtTheFirstDuplicate checks the commit point: a chunk commits once, whoever
// asks; a group stops at a chunk committed already, so the collector can drop its copy and
// everything after it, which is then the tail of its files.
func TestCommitStopsAtTheFirstDuplicate(t *testing.T) {
	s := New()
	rec := s.Apply(commitGroup("c1", chunk("a", 1, "/d/f1", 100), chunk("a", 2, "/d/f1", 200)))
	if rec.GetId() != 0 || rec.GetCommitResult().GetCommitted() != 2 || rec.GetCommitResult().GetDuplicate() {
		t.Fatalf("first commit: %v", rec)
	}
	if len(s.History()) != 0 {
		t.Fatalf("commits went into the command history: %v", s.History())
	}
	// c2 got chunk 2 again after a failover, and chunk 3 after it.
	rec = s.Apply(commitGroup("c2", chunk("a", 3, "/e/g", 50), chunk("a", 2, "/e/g", 90), chunk("a", 4, "/e/g", 130)))
	if got := rec.GetCommitResult(); got.GetCommitted() != 1 || !got.GetDuplicate() {
		t.Fatalf("commit with a duplicate in the middle: got %v, want 1 committed then a duplicate", got)
	}
	if got := s.Committed("a", 1, []uint64{1, 2, 3, 4}); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("committed = %v, want [1 2 3]: chunk 4 came after the duplicate", got)
	}
	if got := s.FileLengths("c2"); len(got) != 1 || got[0].GetLength() != 50 {
		t.Fatalf("c2 file lengths = %v, want /e/g at 50: the duplicate's bytes are not committed", got)
	}
	// Another epoch numbers chunks anew.
	if got := s.Committed("a", 2, []uint64{1}); len(got) != 0 {
		t.Fatalf("epoch 2 sees epoch 1's commits: %v", got)
	}
}

func TestReleaseKeepsDuplicatesKnownAndEpochsForget(t *testing.T) {
	s := New()
	for seq := uint64(1); seq <= 5; seq++ {
		s.Apply(commitGroup("c1", chunk("a", seq, "/d/f", int64(seq*10))))
	}
	s.Apply(cmd("", func(c *flumev1.Command) {
		c.Op = &flumev1.Command_ReleaseChunks{ReleaseChunks: &flumev1.ReleaseChunks{Agent: "a", Epoch: 1, Through: 3}}
	}))
	if got := s.Committed("a", 1, []uint64{1, 3, 5, 6}); !slices.Equal(got, []uint64{1, 3, 5}) {
		t.Fatalf("after release through 3: committed = %v, want [1 3 5]", got)
	}
	if rec := s.Apply(commitGroup("c2", chunk("a", 2, "/x", 1))); !rec.GetCommitResult().GetDuplicate() {
		t.Fatalf("a late copy of a released chunk committed again: %v", rec)
	}
	var epochs []uint64
	for range 3 {
		rec := s.Apply(cmd("", func(c *flumev1.Command) {
			c.Op = &flumev1.Command_NewEpoch{NewEpoch: &flumev1.NewEpoch{Agent: "a"}}
		}))
		epochs = append(epochs, rec.GetEpoch())
	}
	if !slices.Equal(epochs, []uint64{1, 2, 3}) || s.Epoch("a") != 3 {
		t.Fatalf("epochs given = %v (current %d), want 1 2 3", epochs, s.Epoch("a"))
	}
	if got := s.Committed("a", 1, []uint64{5}); len(got) != 0 {
		t.Fatalf("records of epoch 1 survive two new epochs: %v", got)
	}
	restored, err := Unmarshal(marshal(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(restored.ToProto(), s.ToProto()) {
		t.Fatal("snapshot of commit records does not restore equal")
	}
}

func TestBadDataCommandsFailWithoutChange(t *testing.T) {
	s := New()
	before := marshal(t, s)
	for name, c := range map[string]*flumev1.Command{
		"no collector": commitGroup("", chunk("a", 1, "/f", 1)),
		"seq zero":     commitGroup("c", chunk("a", 0, "/f", 1)),
	} {
		if rec := s.Apply(c); rec.GetState() != flumev1.CommandState_COMMAND_STATE_FAILED || rec.GetMessage() == "" {
			t.Errorf("%s: %v, want FAILED with a reason", name, rec)
		}
	}
	if string(marshal(t, s)) != string(before) {
		t.Fatal("a failed data command changed the state")
	}
}

// TestRetriedCommitIsNotADuplicate: a collector that lost the answer to its commit asks again
// with the same files and lengths and is told it committed; a second copy of the chunk (other
// lengths, or another collector) is a duplicate.
func TestRetriedCommitIsNotADuplicate(t *testing.T) {
	s := New()
	first := commitGroup("c1", chunk("a", 1, "/d/f", 100), chunk("a", 2, "/d/f", 200))
	if r := s.Apply(proto.CloneOf(first)).GetCommitResult(); r.GetCommitted() != 2 {
		t.Fatalf("first commit: %v", r)
	}
	if r := s.Apply(proto.CloneOf(first)).GetCommitResult(); r.GetCommitted() != 2 || r.GetDuplicate() {
		t.Fatalf("the same commit again: %v, want both committed", r)
	}
	if r := s.Apply(commitGroup("c1", chunk("a", 2, "/d/f", 300))).GetCommitResult(); !r.GetDuplicate() {
		t.Fatalf("a second copy of chunk 2 in the same file: %v, want a duplicate", r)
	}
	if r := s.Apply(commitGroup("c2", chunk("a", 2, "/d/f", 200))).GetCommitResult(); !r.GetDuplicate() {
		t.Fatalf("chunk 2 from another collector: %v, want a duplicate", r)
	}
}

// TestChunksOfAnOldEpochAreRefused: once an agent has a new epoch, a chunk of an older one is
// stale: a copy of the agent that lost its log, still running, cannot commit.
func TestChunksOfAnOldEpochAreRefused(t *testing.T) {
	s := New()
	for range 2 {
		s.Apply(cmd("", func(c *flumev1.Command) {
			c.Op = &flumev1.Command_NewEpoch{NewEpoch: &flumev1.NewEpoch{Agent: "a"}}
		}))
	}
	old := chunk("a", 5, "/d/f", 10) // epoch 1
	cur := &flumev1.ChunkCommit{Agent: "a", Epoch: 2, Seq: 1, Files: []*flumev1.FileLength{{File: "/d/f", Length: 5}}}
	r := s.Apply(commitGroup("c1", cur, old)).GetCommitResult()
	if r.GetCommitted() != 1 || !r.GetStale() || r.GetDuplicate() {
		t.Fatalf("commit of a current then a stale chunk: %v, want 1 committed then stale", r)
	}
}
