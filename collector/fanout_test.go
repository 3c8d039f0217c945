package collector_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/localcommit"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// fanOutFlow is a collector whose flow writes every batch to two collector sinks.
const fanOutFlow = `c1 : collectorSource(%%d) | [ collectorSink(%q, "data-", 600000, raw), collectorSink(%q, "data-", 600000, raw) ] ;`

// chunkLines returns the events of chunk seq, and their lines.
func chunkLines(seq uint64) []*event.Event {
	return lines(fmt.Sprintf("chunk %d line 1", seq), fmt.Sprintf("chunk %d line 2", seq))
}

// wantEachOnce fails unless dir's finalized files hold the lines of chunks 1 to last, each
// once, and nothing else.
func wantEachOnce(t *testing.T, dir string, last uint64) {
	t.Helper()
	seen, tmp := countLines(t, dir)
	if tmp != 0 {
		t.Errorf("%s: %d files not finalized", dir, tmp)
	}
	want := map[string]int{}
	for seq := uint64(1); seq <= last; seq++ {
		for _, e := range chunkLines(seq) {
			want[string(e.Body)] = 1
		}
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("%s holds %v, want each line of chunks 1-%d once", dir, seen, last)
	}
}

// TestFanOutWritesEveryChunkToEachSink: a collector whose flow fans out to two collector sinks
// writes every chunk to both, each committing under its own identity; a copy of a chunk, sent
// again before or after the collector restarts, is a duplicate at both and lands in neither.
func TestFanOutWritesEveryChunkToEachSink(t *testing.T) {
	dir := t.TempDir()
	commits, err := localcommit.Open(filepath.Join(dir, "commits"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer commits.Close()
	out1, out2 := filepath.Join(dir, "out1"), filepath.Join(dir, "out2")
	flow := fmt.Sprintf(fanOutFlow, out1, out2)
	hello := &flumev1.StreamHello{Agent: "agentA", Epoch: 1, Reliability: flumev1.Reliability_RELIABILITY_END_TO_END}
	if _, err := commits.NewEpoch(context.Background(), "agentA"); err != nil {
		t.Fatal(err)
	}

	n, port := startNode(t, flow, commits)
	for seq := uint64(1); seq <= 2; seq++ {
		if ack := sendEvents(t, port, hello, seq, chunkLines(seq)); ack.GetStatus() != flumev1.AckStatus_ACK_STATUS_OK {
			t.Fatalf("chunk %d: %v, want OK", seq, ack)
		}
	}
	if ack := sendEvents(t, port, hello, 2, chunkLines(2)); ack.GetStatus() != flumev1.AckStatus_ACK_STATUS_DUPLICATE {
		t.Fatalf("a copy of chunk 2: %v, want DUPLICATE", ack)
	}
	stopNode(t, n)

	n, port = startNode(t, flow, commits)
	if ack := sendEvents(t, port, hello, 1, chunkLines(1)); ack.GetStatus() != flumev1.AckStatus_ACK_STATUS_DUPLICATE {
		t.Fatalf("a copy of chunk 1 after a restart: %v, want DUPLICATE", ack)
	}
	if ack := sendEvents(t, port, hello, 3, chunkLines(3)); ack.GetStatus() != flumev1.AckStatus_ACK_STATUS_OK {
		t.Fatalf("chunk 3 after a restart: %v, want OK", ack)
	}
	stopNode(t, n)
	wantEachOnce(t, out1, 3)
	wantEachOnce(t, out2, 3)
	for _, id := range []string{"c1/sink.fanout0", "c1/sink.fanout1"} {
		if files, err := commits.FileLengths(context.Background(), id); err != nil || len(files) != 0 {
			t.Errorf("unfinished files of %s: %v, %v; want none after a clean stop", id, files, err)
		}
	}
}

// TestFanOutAfterACrashBetweenItsCommits: the collector crashes after one sink of its fan-out
// committed a chunk and before the other did. After the restart the chunk is cut from the
// second sink's file only; its agent sends it again, the first sink drops its copy as a
// duplicate, the second commits it, and both outputs hold every line once.
func TestFanOutAfterACrashBetweenItsCommits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir := t.TempDir()
	commitDir, data := filepath.Join(dir, "commits"), filepath.Join(dir, "data")
	out1, out2 := filepath.Join(dir, "out1"), filepath.Join(dir, "out2")
	flow := fmt.Sprintf(fanOutFlow, out1, out2)
	hello := &flumev1.StreamHello{Agent: "agentA", Epoch: 1, Reliability: flumev1.Reliability_RELIABILITY_END_TO_END}

	c := startChild(t, flow, commitDir, data, childHold+"=c1/sink.fanout1:3")
	for seq := uint64(1); seq <= 2; seq++ {
		if ack := sendEvents(t, c.port, hello, seq, chunkLines(seq)); ack.GetStatus() != flumev1.AckStatus_ACK_STATUS_OK {
			t.Fatalf("chunk %d: %v, want OK", seq, ack)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	sent := make(chan struct{})
	go func() { defer close(sent); _ = sendNoWait(ctx, c.port, hello, 3, chunkLines(3)) }()
	c.expect(t, "held")
	c.kill()
	cancel()
	<-sent

	commits, err := localcommit.Open(commitDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer commits.Close()
	n, port := startNode(t, fmt.Sprintf(fanOutFlow, out1, out2), commits)
	if ack := sendEvents(t, port, hello, 3, chunkLines(3)); ack.GetStatus() != flumev1.AckStatus_ACK_STATUS_DUPLICATE {
		t.Fatalf("chunk 3 again after the crash: %v, want DUPLICATE (the first sink had it)", ack)
	}
	if ack := sendEvents(t, port, hello, 4, chunkLines(4)); ack.GetStatus() != flumev1.AckStatus_ACK_STATUS_OK {
		t.Fatalf("chunk 4: %v, want OK", ack)
	}
	stopNode(t, n)
	wantEachOnce(t, out1, 4)
	wantEachOnce(t, out2, 4)
}
