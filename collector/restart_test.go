package collector_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/flumego/flume/collector"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/format"
	"github.com/flumego/flume/node/localcommit"
	"github.com/flumego/flume/node/plugin/plugintest"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// TestCrashKeepsWhatWasAckedPerHop: a best-effort and a disk-failover agent forget a chunk once
// the collector acks it. The collector, whose commit point is slow, acks them, and is killed at
// once, as a crash would. Its restart cuts its unfinished files to their committed lengths, and
// every line it acked is still there, once.
func TestCrashKeepsWhatWasAckedPerHop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir := t.TempDir()
	commitDir, data, out := filepath.Join(dir, "commits"), filepath.Join(dir, "data"), filepath.Join(dir, "out")
	flow := `c1 : collectorSource(%d) | collectorSink("` + out + `", "data-", 600000, raw) ;`
	c := startChild(t, flow, commitDir, data, childSlow+"=300")
	want := map[string]int{}
	for _, agent := range []struct {
		name string
		r    flumev1.Reliability
	}{
		{"agentDFO", flumev1.Reliability_RELIABILITY_DISK_FAILOVER},
		{"agentBE", flumev1.Reliability_RELIABILITY_BEST_EFFORT},
	} {
		var evs []*event.Event
		for i := range 50 {
			l := fmt.Sprintf("%s line %d", agent.name, i)
			evs = append(evs, lines(l)...)
			want[l] = 1
		}
		hello := &flumev1.StreamHello{Agent: agent.name, Epoch: 1, Reliability: agent.r}
		if ack := sendEvents(t, c.port, hello, 1, evs); ack.GetStatus() != flumev1.AckStatus_ACK_STATUS_OK {
			t.Fatalf("%s's chunk: %v, want OK", agent.name, ack)
		}
	}
	c.kill()

	commits, err := localcommit.Open(commitDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer commits.Close()
	n, _ := startNode(t, flow, commits)
	stopNode(t, n)
	seen, tmp := countLines(t, out)
	if fmt.Sprint(seen) != fmt.Sprint(want) || tmp != 0 {
		t.Fatalf("after the crash the output holds %v (%d files unfinished), want every acked line once: %v", seen, tmp, want)
	}
}

// TestBatchWithoutChunkReturnsOnceCommitted: a collector sink fed by a source of its own (no
// agent chunk) returns from Append only once the batch is committed, so that a source that
// moves its checkpoint after Append never loses a line to a restart.
func TestBatchWithoutChunkReturnsOnceCommitted(t *testing.T) {
	dir := t.TempDir()
	commits, err := localcommit.Open(filepath.Join(dir, "commits"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer commits.Close()
	env := plugintest.NewEnv(nil, format.Register, collector.Register)
	env.BuildContext.Commits, env.BuildContext.PhysicalNode = commits, "c1"
	out := filepath.Join(dir, "out")
	s := env.OpenSink(t, fmt.Sprintf(`collectorSink(%q, "data-", 600000, raw)`, out))
	for i := range 3 {
		if err := s.Append(context.Background(), lines(fmt.Sprintf("line %d", i))); err != nil {
			t.Fatal(err)
		}
		files, err := commits.FileLengths(context.Background(), "c1")
		if err != nil {
			t.Fatal(err)
		}
		var committed int64
		for _, n := range files {
			committed += n
		}
		if want := int64(len("line 0\n") * (i + 1)); committed != want {
			t.Fatalf("after Append %d returned, %d bytes are committed, want %d", i, committed, want)
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
