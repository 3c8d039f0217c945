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

// TestSinksOfAFanOutCommitEachOnce: the collector sinks of one flow commit a chunk each under
// its own identity, "NAME/PLACE": neither is the other's duplicate, each refuses a second copy,
// a copy at the same place of another collector is a duplicate, and a collector's only sink
// ("NAME") keeps its records, which a sink of a fan-out respects. The records survive a
// snapshot.
func TestSinksOfAFanOutCommitEachOnce(t *testing.T) {
	s := New()
	for _, c := range []string{"c1/sink.fanout0", "c1/sink.fanout1"} {
		if r := s.Apply(commitGroup(c, chunk("a", 1, "/d/"+c, 10))).GetCommitResult(); r.GetCommitted() != 1 || r.GetDuplicate() {
			t.Fatalf("%s commits chunk 1: %v, want committed", c, r)
		}
	}
	for _, c := range []string{"c1/sink.fanout0", "c1/sink.fanout1", "c2/sink.fanout1"} {
		if r := s.Apply(commitGroup(c, chunk("a", 1, "/e/"+c, 20))).GetCommitResult(); !r.GetDuplicate() {
			t.Fatalf("%s commits a second copy of chunk 1: %v, want a duplicate", c, r)
		}
	}
	if got := s.Committed("a", 1, []uint64{1}); len(got) != 0 {
		t.Fatalf("a chunk committed by the sinks of a fan-out reads as committed for a lone sink: %v", got)
	}
	if r := s.Apply(commitGroup("c1", chunk("a", 1, "/d/f", 5))).GetCommitResult(); r.GetCommitted() != 1 {
		t.Fatalf("a lone sink commits chunk 1: %v", r)
	}
	// A chunk a lone sink committed is in: a sink of a fan-out takes its copy for a duplicate.
	if r := s.Apply(commitGroup("c9", chunk("a", 2, "/g", 5))).GetCommitResult(); r.GetCommitted() != 1 {
		t.Fatalf("a lone sink commits chunk 2: %v", r)
	}
	if r := s.Apply(commitGroup("c1/sink.fanout0", chunk("a", 2, "/d/c1/sink.fanout0", 20))).GetCommitResult(); !r.GetDuplicate() {
		t.Fatalf("a sink of a fan-out commits chunk 2, which a lone sink has: %v, want a duplicate", r)
	}
	// File lengths are the collector's, whichever of its sinks asks: a sink recovering its
	// directory may find the other's files there.
	for _, c := range []string{"c1", "c1/sink.fanout1"} {
		if got := s.FileLengths(c); len(got) != 3 || got[0].GetFile() != "/d/c1/sink.fanout0" || got[2].GetLength() != 5 {
			t.Fatalf("file lengths of %s = %v, want both sinks' and the lone sink's files", c, got)
		}
	}
	s.Apply(cmd("", func(c *flumev1.Command) {
		c.Op = &flumev1.Command_FinishFiles{FinishFiles: &flumev1.FinishFiles{Collector: "c1/sink.fanout1", Files: []string{"/d/c1/sink.fanout1"}}}
	}))
	if got := s.FileLengths("c1"); len(got) != 2 {
		t.Fatalf("file lengths of c1 after a sink finished its file = %v", got)
	}
	restored, err := Unmarshal(marshal(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(restored.ToProto(), s.ToProto()) {
		t.Fatal("snapshot of per-sink commit records does not restore equal")
	}
	if r := restored.Apply(commitGroup("c2/sink.fanout0", chunk("a", 1, "/x", 1))).GetCommitResult(); !r.GetDuplicate() {
		t.Fatalf("after a restore, a copy of chunk 1 at place sink.fanout0: %v, want a duplicate", r)
	}
}

func TestSplitCollector(t *testing.T) {
	for in, want := range map[string][2]string{
		"c1":                    {"c1", ""},
		"c1/sink.fanout1":       {"c1", "sink.fanout1"},
		"c1/sink":               {"c1", "sink"},
		"rack1/c1":              {"rack1/c1", ""},
		"rack1/c1/sink.fanout0": {"rack1/c1", "sink.fanout0"},
		"c1/sinks":              {"c1/sinks", ""},
	} {
		if p, place := SplitCollector(in); p != want[0] || place != want[1] {
			t.Errorf("SplitCollector(%q) = %q, %q; want %q, %q", in, p, place, want[0], want[1])
		}
	}
}
