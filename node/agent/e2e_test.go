package agent

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/internal/testwait"
	"github.com/flumego/flume/node/agent/wal"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/position"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// newE2E builds an end-to-end sink to the targets through the registry.
func newE2E(tb testing.TB, bc *plugin.BuildContext, targets ...string) *Sink {
	tb.Helper()
	return newE2EWith(tb, bc, "batchCount=10", targets...)
}

// newE2EWith is newE2E with the keyword arguments kw.
func newE2EWith(tb testing.TB, bc *plugin.BuildContext, kw string, targets ...string) *Sink {
	tb.Helper()
	text := "agentE2EChain("
	for _, t := range targets {
		text += fmt.Sprintf("%q, ", t)
	}
	return buildSink(tb, bc, text+kw+")").(*Sink)
}

// TestE2EDeliversEveryEventOnce runs an end-to-end sink against a collector answering as the
// test says: every event is kept once, what is acked leaves the write-ahead log, and the
// chunk answered otherwise is resent, counted as delivered or dropped as its answer asks.
func TestE2EDeliversEveryEventOnce(t *testing.T) {
	const chunk2 = 2
	retryOnce := func(seq uint64, n int) flumev1.AckStatus {
		if seq == chunk2 && n == 1 {
			return flumev1.AckStatus_ACK_STATUS_RETRY
		}
		return flumev1.AckStatus_ACK_STATUS_OK
	}
	always := func(st flumev1.AckStatus) func(uint64, int) flumev1.AckStatus {
		return func(seq uint64, _ int) flumev1.AckStatus {
			if seq == chunk2 {
				return st
			}
			return flumev1.AckStatus_ACK_STATUS_OK
		}
	}
	for _, tc := range []struct {
		name     string
		script   func(uint64, int) flumev1.AckStatus
		arrivals int  // times chunk 2 reaches the collector
		kept     bool // chunk 2's events are kept
		metric   string
	}{
		{"ok", nil, 1, true, "agent.batches_acked"},
		{"retry then ok", retryOnce, 2, true, "agent.batches_resent"},
		{"duplicate counts as delivered", always(flumev1.AckStatus_ACK_STATUS_DUPLICATE), 1, false, "agent.duplicates_acked"},
		{"rejected is dropped", always(flumev1.AckStatus_ACK_STATUS_REJECTED), 1, false, "agent.batches_rejected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore()
			st.setScript(tc.script)
			c := startCollector(t, st, "127.0.0.1:0")
			bc := newBC(t, nil)
			bc.Commits = newCommits(t)
			s := newE2E(t, bc, c.addr)
			openSink(t, s)
			all := bodies("e", 0, 200)
			appendAll(t, s, all, 10)
			if err := closeSink(s, 5*time.Second); err != nil {
				t.Fatalf("close: %v", err)
			}

			arrivals, n := st.chunk(chunk2)
			if arrivals != tc.arrivals || n == 0 {
				t.Errorf("chunk %d arrived %d times with %d events, want %d times", chunk2, arrivals, n, tc.arrivals)
			}
			want := all
			if !tc.kept {
				want = append(append([]string(nil), all[:10]...), all[10+n:]...) // chunk 2 is events 10..
			}
			st.checkOnce(t, want)
			if v := metric(bc, tc.metric); v < 1 {
				t.Errorf("%s = %d, want at least 1", tc.metric, v)
			}
			if tc.name == "rejected is dropped" {
				if v := metric(bc, "agent.events_dropped"); v != int64(n) {
					t.Errorf("events_dropped = %d, want %d", v, n)
				}
			}
			if sealed, acked := metric(bc, "agent.batches_sealed"), metric(bc, "agent.batches_acked"); tc.kept && sealed != acked {
				t.Errorf("%d chunks sealed, %d acked", sealed, acked)
			}
			if u := unreleased(t, e2eDir(bc)); len(u) != 0 {
				t.Errorf("after close the write-ahead log holds %d chunks, want none", len(u))
			}
		})
	}
}

// TestE2ERestartSendsWhatTheLogHolds closes an end-to-end sink while no collector listens:
// the chunks stay in its log, and the next sink on the same log sends each of them once.
func TestE2ERestartSendsWhatTheLogHolds(t *testing.T) {
	addr := freeAddr(t)
	bc := newBC(t, map[string]string{"flume.agent.failover.backoff.initial": "20"})
	bc.Commits = newCommits(t)
	s1 := newE2E(t, bc, addr)
	openSink(t, s1)
	first := bodies("a", 0, 95)
	appendAll(t, s1, first, 10)
	_ = closeSink(s1, 300*time.Millisecond) // the collector is down: the log keeps the chunks
	if u := unreleased(t, e2eDir(bc)); len(u) != 10 {
		t.Fatalf("after a close without a collector the log holds %d chunks, want 10", len(u))
	}

	st := newStore()
	startCollector(t, st, addr)
	s2 := newE2E(t, bc, addr)
	openSink(t, s2)
	second := bodies("b", 0, 30)
	appendAll(t, s2, second, 10)
	testwait.Until(t, 3*time.Second, "every event at the collector", func() bool { return st.total() >= len(first)+len(second) })
	if err := closeSink(s2, 5*time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
	st.checkOnce(t, append(first, second...))
	if u := unreleased(t, e2eDir(bc)); len(u) != 0 {
		t.Errorf("after close the write-ahead log holds %d chunks, want none", len(u))
	}
}

// TestPositionsSurviveARestart keeps a source position with an end-to-end sink's chunks: the
// position is found again by the next sink on the log, and the chunk after it, which the
// source reads again from that position, is dropped rather than sent twice.
func TestPositionsSurviveARestart(t *testing.T) {
	addr := freeAddr(t)
	bc := newBC(t, nil)
	bc.Commits = newCommits(t)
	ctx := context.Background()
	// Chunks are sealed by their positions or by Close, never by their age: see
	// TestPositionSavedAfterTheChunkWasSealed.
	const kw = "batchCount=10, batchMillis=60000"

	s1 := newE2EWith(t, bc, kw, addr)
	openSink(t, s1)
	if p := s1.LastPosition(); p != nil {
		t.Fatalf("a new log has position %q, want none", p)
	}
	before := bodies("p", 0, 7)
	appendAll(t, s1, before, 7)
	if err := s1.SavePosition(ctx, []byte("offset=7")); err != nil {
		t.Fatal(err)
	}
	appendAll(t, s1, bodies("q", 0, 5), 5) // read past the position, not yet saved
	_ = closeSink(s1, 200*time.Millisecond)

	st := newStore()
	startCollector(t, st, addr)
	s2 := newE2EWith(t, bc, kw, addr)
	openSink(t, s2)
	if p := s2.LastPosition(); !bytes.Equal(p, []byte("offset=7")) {
		t.Fatalf("after a restart LastPosition = %q, want offset=7", p)
	}
	// The source resumes at offset 7 and reads the five events again.
	again := bodies("q", 0, 5)
	appendAll(t, s2, again, 5)
	if err := s2.SavePosition(ctx, []byte("offset=12")); err != nil {
		t.Fatal(err)
	}
	if err := closeSink(s2, 5*time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
	st.checkOnce(t, append(before, again...))

	// Every chunk is acked and gone from the log: the position lives on in the position file.
	s3 := newE2E(t, bc, addr)
	openSink(t, s3)
	defer func() { _ = closeSink(s3, time.Second) }()
	if p := s3.LastPosition(); !bytes.Equal(p, []byte("offset=12")) {
		t.Fatalf("with an empty log LastPosition = %q, want offset=12", p)
	}
}

// TestOpenFailureReleasesTheLog: an end-to-end sink whose Open fails after it opened its log
// (here on a corrupt position file) must release the log, so that the next flow of the node
// can open it.
func TestOpenFailureReleasesTheLog(t *testing.T) {
	bc := newBC(t, nil)
	bc.Commits = newCommits(t)
	s := newE2E(t, bc, freeAddr(t))
	if err := os.MkdirAll(s.opts.LogDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.opts.LogDir, position.FileName), []byte("{not json"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := s.Open(context.Background()); err == nil {
		t.Fatal("open with a corrupt position file succeeded")
	}
	_ = closeSink(s, time.Second)
	l, err := wal.Open(wal.Options{Dir: e2eDir(bc), MinFreeBytes: -1})
	if err != nil {
		t.Fatalf("after a failed open the log stays taken: %v", err)
	}
	_ = l.Close()
}

// TestPositionSavedAfterTheChunkWasSealed: the chunk of a batch may be sealed by its age
// before the source saves the position after it. The position must still be kept with that
// chunk: lost, the restarted source reads the batch again; attached to the next chunk, it
// says the events of that chunk were not read yet, and the source reads them again too.
func TestPositionSavedAfterTheChunkWasSealed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		batches int  // batches of 5 events, each sealed by its age before its position is saved
		down    bool // no collector: the chunks stay in the log
	}{
		{"one batch, delivered", 1, false},
		{"two batches, kept in the log", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore()
			addr := freeAddr(t)
			if !tc.down {
				addr = startCollector(t, st, "127.0.0.1:0").addr
			}
			bc := newBC(t, nil)
			bc.Commits = newCommits(t)
			s1 := newE2E(t, bc, addr)
			openSink(t, s1)
			want := ""
			for i := 1; i <= tc.batches; i++ {
				appendAll(t, s1, bodies("t", 5*i, 5), 5)
				testwait.Until(t, 2*time.Second, "the chunk sealed by its age", func() bool {
					return metric(bc, "agent.batches_sealed") == int64(i)
				})
				want = fmt.Sprintf("offset=%d", 5*i)
				if err := s1.SavePosition(context.Background(), []byte(want)); err != nil {
					t.Fatal(err)
				}
			}
			_ = closeSink(s1, 300*time.Millisecond)
			s2 := newE2E(t, bc, addr)
			openSink(t, s2)
			defer func() { _ = closeSink(s2, 300*time.Millisecond) }()
			if p := s2.LastPosition(); string(p) != want {
				t.Fatalf("after a restart LastPosition = %q, want %s", p, want)
			}
		})
	}
}

// TestAckedChunksStayLoggedWhileThePositionCannotBeKept: a chunk leaves the log only once a
// position at or past it is kept. While the position file cannot be written, acked chunks stay
// in the log; the next sink finds the position there, sends them again, and the commit point
// takes them for the duplicates they are.
func TestAckedChunksStayLoggedWhileThePositionCannotBeKept(t *testing.T) {
	addr := freeAddr(t)
	bc := newBC(t, nil)
	bc.Commits = newCommits(t)
	st := newStore()
	startCollector(t, st, addr)
	const kw = "batchCount=10, batchMillis=60000"
	s1 := newE2EWith(t, bc, kw, addr)
	// A directory where the position file's temporary file goes: every write fails.
	blocker := filepath.Join(s1.opts.LogDir, position.FileName+".tmp")
	if err := os.MkdirAll(blocker, 0o750); err != nil {
		t.Fatal(err)
	}
	openSink(t, s1)
	events := bodies("p", 0, 10)
	appendAll(t, s1, events, 10)
	if err := s1.SavePosition(context.Background(), []byte("offset=10")); err != nil {
		t.Fatal(err)
	}
	if err := closeSink(s1, 5*time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
	st.checkOnce(t, events)
	if u := unreleased(t, e2eDir(bc)); len(u) == 0 {
		t.Fatal("the acked chunk left the log although its position was not kept")
	}

	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	s2 := newE2EWith(t, bc, kw, addr)
	openSink(t, s2)
	if p := s2.LastPosition(); !bytes.Equal(p, []byte("offset=10")) {
		t.Fatalf("LastPosition = %q, want offset=10 from the log", p)
	}
	if err := closeSink(s2, 5*time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
	st.checkOnce(t, events)
	if u := unreleased(t, e2eDir(bc)); len(u) != 0 {
		t.Errorf("after the resend the log holds %d chunks, want none", len(u))
	}
}

// TestPositionsMoveOnAcrossRuns: every mode keeps the position of its last acked chunk, and a
// later run's positions replace an earlier run's, however chunks are numbered in each run.
func TestPositionsMoveOnAcrossRuns(t *testing.T) {
	for _, sink := range []string{"agentBEChain", "agentDFOChain", "agentE2EChain"} {
		t.Run(sink, func(t *testing.T) {
			addr := freeAddr(t)
			bc := newBC(t, nil)
			bc.Commits = newCommits(t)
			st := newStore()
			startCollector(t, st, addr)
			text := fmt.Sprintf("%s(%q, batchCount=10, batchMillis=60000)", sink, addr)
			var all []string
			for run, n := range []int{30, 10, 10} {
				s := buildSink(t, bc, text).(*Sink)
				openSink(t, s)
				if run > 0 {
					want := fmt.Sprintf("run %d", run-1)
					if p := s.LastPosition(); string(p) != want {
						t.Fatalf("run %d: LastPosition = %q, want %q", run, p, want)
					}
				}
				events := bodies(fmt.Sprintf("r%d-", run), 0, n)
				for i := 0; i < n; i += 10 {
					appendAll(t, s, events[i:i+10], 10)
					if err := s.SavePosition(context.Background(), []byte(fmt.Sprintf("run %d", run))); err != nil {
						t.Fatal(err)
					}
				}
				// Best effort and disk failover hand to a collector only what they have a
				// stream for when they close: wait for the acks.
				all = append(all, events...)
				testwait.Until(t, 5*time.Second, "every chunk acked", func() bool { return st.total() == len(all) })
				if err := closeSink(s, 5*time.Second); err != nil {
					t.Fatalf("run %d: close: %v", run, err)
				}
			}
			st.checkOnce(t, all)
		})
	}
}

// TestBestEffortWithoutADirectoryKeepsNoPositions: a best-effort sink on a node with no data
// directory and no flume.agent.logdir keeps no positions, and does not take a file named
// "position" in the working directory for its own.
func TestBestEffortWithoutADirectoryKeepsNoPositions(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile(position.FileName, []byte(`{"seq":9,"pos":"c29tZW9uZSBlbHNl"}`), 0o640); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	bc := newBC(t, nil)
	bc.DataDir = ""
	st := newStore()
	startCollector(t, st, addr)
	s := buildSink(t, bc, fmt.Sprintf("agentBEChain(%q, batchCount=10)", addr)).(*Sink)
	if s.opts.LogDir != "" {
		t.Fatalf("LogDir = %q, want none", s.opts.LogDir)
	}
	openSink(t, s)
	if p := s.LastPosition(); p != nil {
		t.Fatalf("LastPosition = %q from the working directory, want none", p)
	}
	events := bodies("be", 0, 10)
	appendAll(t, s, events, 10)
	if err := s.SavePosition(context.Background(), []byte("offset=10")); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 5*time.Second, "the chunk acked", func() bool { return st.total() == 10 })
	if err := closeSink(s, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(position.FileName); !strings.Contains(string(b), "c29tZW9uZSBlbHNl") {
		t.Fatalf("the file in the working directory was overwritten: %q", b)
	}
}
