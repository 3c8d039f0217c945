package master

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/flumego/flume/node/plugin/plugintest"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

func nodeClient(t *testing.T, addr string) flumev1.NodeServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return flumev1.NewNodeServiceClient(conn)
}

// TestCommitPointThroughAnyMaster drives the end-to-end commit calls through a follower, which
// forwards them, and checks that the records survive the loss of the leader.
func TestCommitPointThroughAnyMaster(t *testing.T) {
	c := newSessionCluster(t, 3)
	f := c.follower()
	nc := nodeClient(t, c.peers[f].Node)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// A follower forwards once it knows the leader; until then it answers Unavailable, and
	// clients try again (as node.MasterCommits does).
	var ep *flumev1.NewEpochResponse
	var err error
	plugintest.Eventually(t, 10*time.Second, func() bool {
		ep, err = nc.NewEpoch(ctx, &flumev1.NewEpochRequest{Agent: "agentA"})
		return status.Code(err) != codes.Unavailable
	}, func() string { return fmt.Sprintf("the follower never forwarded: %v", err) })
	if err != nil || ep.GetEpoch() != 1 {
		t.Fatalf("new epoch: %v, %v; want epoch 1", ep, err)
	}
	commit := func(collector string, seqs ...uint64) *flumev1.CommitResult {
		t.Helper()
		req := &flumev1.CommitChunks{Collector: collector}
		for _, s := range seqs {
			req.Chunks = append(req.Chunks, &flumev1.ChunkCommit{Agent: "agentA", Epoch: 1, Seq: s,
				Files: []*flumev1.FileLength{{File: "/out/a.tmp", Length: int64(s) * 100}}})
		}
		resp, err := nc.Commit(ctx, &flumev1.CommitRequest{Commit: req})
		if err != nil {
			t.Fatalf("commit %v: %v", seqs, err)
		}
		return resp.GetResult()
	}
	if r := commit("host1", 1, 2, 3); r.GetCommitted() != 3 || r.GetDuplicate() {
		t.Fatalf("first commit: %v", r)
	}
	if r := commit("host2", 4, 2); r.GetCommitted() != 1 || !r.GetDuplicate() {
		t.Fatalf("commit with chunk 2 again: %v, want 1 committed and a duplicate", r)
	}

	c.stop(c.leader())
	nc = nodeClient(t, c.peers[c.follower()].Node)
	var got *flumev1.GetCommittedResponse
	plugintest.Eventually(t, 10*time.Second, func() bool {
		got, err = nc.GetCommitted(ctx, &flumev1.GetCommittedRequest{Agent: "agentA", Epoch: 1, Seqs: []uint64{1, 2, 3, 4, 5}})
		return status.Code(err) != codes.Unavailable
	}, func() string { return fmt.Sprintf("no answer after the leader's loss: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.GetCommitted(), []uint64{1, 2, 3, 4}) {
		t.Fatalf("after leader loss, committed = %v, want [1 2 3 4]", got.GetCommitted())
	}
	lens, err := nc.GetFileLengths(ctx, &flumev1.GetFileLengthsRequest{Collector: "host1"})
	if err != nil || len(lens.GetFiles()) != 1 || lens.GetFiles()[0].GetLength() != 300 {
		t.Fatalf("file lengths of host1: %v, %v; want /out/a.tmp at 300", lens, err)
	}
	if _, err := nc.Release(ctx, &flumev1.ReleaseRequest{Release: &flumev1.ReleaseChunks{Agent: "agentA", Epoch: 1, Through: 4}}); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.FinishFiles(ctx, &flumev1.FinishFilesRequest{Finish: &flumev1.FinishFiles{Collector: "host1", Files: []string{"/out/a.tmp"}}}); err != nil {
		t.Fatal(err)
	}
	lens, err = nc.GetFileLengths(ctx, &flumev1.GetFileLengthsRequest{Collector: "host1"})
	if err != nil || len(lens.GetFiles()) != 0 {
		t.Fatalf("file lengths after finish: %v, %v; want none", lens, err)
	}
	if _, err := nc.Commit(ctx, &flumev1.CommitRequest{Commit: &flumev1.CommitChunks{}}); err == nil {
		t.Fatal("a commit without a collector was accepted")
	}
}
