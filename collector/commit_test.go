package collector_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flumego/flume/commitpoint"
	"github.com/flumego/flume/node"
	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/localcommit"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/spec"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
	"github.com/flumego/flume/wire"
)

// startCollector runs a collector flow on a node of its own, sharing commits.
func startCollector(t *testing.T, name, out string, commits commitpoint.Log) int {
	t.Helper()
	port := freePort(t)
	n := node.New(node.Config{Name: name, DataDir: t.TempDir(), Commits: commits}, builtin.Registry())
	defs, err := spec.ParseNodes(fmt.Sprintf(`%s : collectorSource(%d) | collectorSink(%q, "data-", 100, raw) ;`, name, port, out))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(defs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Stop(ctx)
	})
	plugintest.Eventually(t, 5*time.Second, func() bool { return n.Statuses()[name].State.String() == "ACTIVE" }, nil)
	return port
}

// sendChunk sends one end-to-end chunk of agentA and returns the collector's answer.
func sendChunk(t *testing.T, port int, epoch, seq uint64, ls ...string) *flumev1.AppendResponse {
	t.Helper()
	return sendEvents(t, port, &flumev1.StreamHello{Agent: "agentA", Epoch: epoch,
		Reliability: flumev1.Reliability_RELIABILITY_END_TO_END}, seq, lines(ls...))
}

// sendEvents sends one chunk on a stream of its own and returns the collector's answer.
func sendEvents(t *testing.T, port int, hello *flumev1.StreamHello, seq uint64, evs []*event.Event) *flumev1.AppendResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := wire.Dial(ctx, fmt.Sprintf("127.0.0.1:%d", port), wire.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	st, err := cl.Open(ctx, hello)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	enc, _ := wire.NewEncoder(flumev1.Compression_COMPRESSION_UNSPECIFIED)
	req := &flumev1.AppendRequest{Seq: seq}
	if err := enc.Encode(req, evs); err != nil {
		t.Fatal(err)
	}
	if err := st.Send(ctx, req); err != nil {
		t.Fatal(err)
	}
	select {
	case ack := <-st.Acks():
		return ack
	case <-ctx.Done():
		t.Fatal("no ack")
		return nil
	}
}

func readAll(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := os.ReadFile(p)
			b.Write(data)
		}
		return nil
	})
	return b.String()
}

// TestChunkCommitsOnceAcrossCollectors: an agent that fails over sends a chunk to a second
// collector after the first committed it; the second drops its copy, acks it as a duplicate,
// and its files never hold it. A stale epoch is refused.
func TestChunkCommitsOnceAcrossCollectors(t *testing.T) {
	dir := t.TempDir()
	commits, err := localcommit.Open(filepath.Join(dir, "commits"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer commits.Close()
	out1, out2 := filepath.Join(dir, "out1"), filepath.Join(dir, "out2")
	p1 := startCollector(t, "c1", out1, commits)
	p2 := startCollector(t, "c2", out2, commits)
	if _, err := commits.NewEpoch(context.Background(), "agentA"); err != nil {
		t.Fatal(err)
	}

	if ack := sendChunk(t, p1, 1, 1, "one", "two"); ack.GetStatus() != flumev1.AckStatus_ACK_STATUS_OK {
		t.Fatalf("first copy: %v", ack)
	}
	if ack := sendChunk(t, p2, 1, 1, "one", "two"); ack.GetStatus() != flumev1.AckStatus_ACK_STATUS_DUPLICATE {
		t.Fatalf("second copy at another collector: %v, want DUPLICATE", ack)
	}
	if ack := sendChunk(t, p2, 1, 2, "three"); ack.GetStatus() != flumev1.AckStatus_ACK_STATUS_OK {
		t.Fatalf("next chunk: %v", ack)
	}
	plugintest.Eventually(t, 10*time.Second, func() bool {
		return readAll(t, out1) == "one\ntwo\n" && readAll(t, out2) == "three\n"
	}, func() string { return fmt.Sprintf("out1 %q, out2 %q", readAll(t, out1), readAll(t, out2)) })

	if _, err := commits.NewEpoch(context.Background(), "agentA"); err != nil {
		t.Fatal(err)
	}
	if ack := sendChunk(t, p1, 1, 3, "zombie"); ack.GetStatus() != flumev1.AckStatus_ACK_STATUS_REJECTED || !strings.Contains(ack.GetError(), "stale") {
		t.Fatalf("chunk of an old epoch: %v, want REJECTED as stale", ack)
	}
	if strings.Contains(readAll(t, out1), "zombie") {
		t.Fatal("a stale chunk reached the files")
	}
}

// TestFullDiskRefusesAndRecovers: a collector whose disk is full answers RETRY, writes nothing
// partial, keeps running and says so in its status, and takes the chunk once space is back.
func TestFullDiskRefusesAndRecovers(t *testing.T) {
	dir := t.TempDir()
	mnt := filepath.Join(dir, "small")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
	commits, err := localcommit.Open(filepath.Join(dir, "commits"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer commits.Close()
	out := filepath.Join(mnt, "out")
	n, port := startNode(t, `c1 : collectorSource(%d) | collectorSink("`+out+`", "data-", 100, raw) ;`, commits)
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 250<<10), 0o644); err != nil && !strings.Contains(err.Error(), "no space") {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 8<<10)
	if ack := sendChunk(t, port, 1, 1, big, big); ack.GetStatus() != flumev1.AckStatus_ACK_STATUS_RETRY {
		t.Fatalf("chunk on a full disk: %v, want RETRY", ack)
	}
	st := n.Statuses()["c1"]
	if st.State.String() != "ACTIVE" || !strings.Contains(st.Note, "writes fail: disk full") ||
		!strings.Contains(st.Note, "RETRY") || !strings.Contains(st.Note, "no space left on device") {
		t.Errorf("status on a full disk: %s, note %q; want ACTIVE with a note of the full disk", st.State, st.Note)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if ack := sendChunk(t, port, 1, 1, big, big); ack.GetStatus() != flumev1.AckStatus_ACK_STATUS_OK {
		t.Fatalf("the same chunk once space is back: %v, want OK", ack)
	}
	if note := n.Statuses()["c1"].Note; note != "" {
		t.Errorf("status note %q once the disk takes writes again, want none", note)
	}
	plugintest.Eventually(t, 10*time.Second, func() bool { return readAll(t, out) == big+"\n"+big+"\n" },
		func() string { return fmt.Sprintf("output holds %d bytes", len(readAll(t, out))) })
}

// awayCommits is a commit point that does not answer commits while away is set.
type awayCommits struct {
	commitpoint.Log
	away atomic.Bool
}

func (a *awayCommits) Commit(ctx context.Context, collector string, chunks []commitpoint.Commit) (commitpoint.Outcome, error) {
	if a.away.Load() {
		return commitpoint.Outcome{}, errors.New("the commit point is away")
	}
	return a.Log.Commit(ctx, collector, chunks)
}

// TestCloseWhileTheCommitPointIsAway stops a collector whose commit point does not answer: the
// stop ends within its deadline instead of waiting for the commit point, and the chunk it
// could not commit is not in any finished file, so its agent's resend is the only copy.
func TestCloseWhileTheCommitPointIsAway(t *testing.T) {
	dir := t.TempDir()
	local, err := localcommit.Open(filepath.Join(dir, "commits"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	commits := &awayCommits{Log: local}
	if _, err := commits.NewEpoch(context.Background(), "agentA"); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	port := freePort(t)
	n := node.New(node.Config{Name: "c1", DataDir: t.TempDir(), Commits: commits}, builtin.Registry())
	defs, err := spec.ParseNodes(fmt.Sprintf(`c1 : collectorSource(%d) | collectorSink(%q, "data-", 100, raw) ;`, port, out))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(defs); err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 5*time.Second, func() bool { return n.Statuses()["c1"].State.String() == "ACTIVE" }, nil)
	commits.away.Store(true)
	sendCtx, stopSending := context.WithCancel(context.Background())
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		_ = sendNoWait(sendCtx, port, &flumev1.StreamHello{Agent: "agentA", Epoch: 1,
			Reliability: flumev1.Reliability_RELIABILITY_END_TO_END}, 1, lines("lost in the air"))
	}()
	defer func() { stopSending(); <-sent }()
	plugintest.Eventually(t, 5*time.Second, func() bool { return strings.Contains(readAll(t, out), "lost in the air") }, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_ = n.Stop(ctx)
	if d := time.Since(start); d > 6*time.Second {
		t.Fatalf("the stop took %v while the commit point was away", d)
	}
	var finished strings.Builder
	_ = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".tmp") {
			data, _ := os.ReadFile(p)
			finished.Write(data)
		}
		return nil
	})
	if strings.Contains(finished.String(), "lost in the air") {
		t.Fatal("a chunk that was never committed is in a finished file")
	}
}

// sendNoWait sends one chunk and does not wait for its answer; it returns when ctx ends.
func sendNoWait(ctx context.Context, port int, hello *flumev1.StreamHello, seq uint64, evs []*event.Event) error {
	cl, err := wire.Dial(ctx, fmt.Sprintf("127.0.0.1:%d", port), wire.ClientOptions{})
	if err != nil {
		return err
	}
	defer cl.Close()
	st, err := cl.Open(ctx, hello)
	if err != nil {
		return err
	}
	enc, _ := wire.NewEncoder(flumev1.Compression_COMPRESSION_UNSPECIFIED)
	req := &flumev1.AppendRequest{Seq: seq}
	if err := enc.Encode(req, evs); err != nil {
		return err
	}
	if err := st.Send(ctx, req); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// lines returns an event for each line.
func lines(ls ...string) []*event.Event {
	var evs []*event.Event
	for _, l := range ls {
		evs = append(evs, &event.Event{Body: []byte(l), Timestamp: time.Now().UnixNano()})
	}
	return evs
}
