package node

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flumego/flume/commitpoint"
	"github.com/flumego/flume/master/client"

	"github.com/flumego/flume/node/localcommit"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// MasterCommits is the commit point of end-to-end delivery kept by the masters: every call goes
// to a master's node service (a follower forwards it to the leader). A call that finds no
// master, or no leader, tries the next master until its context ends, so a collector waits out
// an election instead of failing its chunks.
type MasterCommits struct {
	c *client.Client
}

var _ commitpoint.Log = (*MasterCommits)(nil)

// NewMasterCommits returns a commit log kept by the masters c dials (their node service). The
// caller owns c and closes it.
func NewMasterCommits(c *client.Client) *MasterCommits {
	return &MasterCommits{c: c}
}

// CommitRetry reports whether a commit-log call that failed with err may succeed against
// another master or later: no master reachable, no leader yet, an attempt that timed out.
// A refusal (a bad request, a caller that may not act for the agent) is final.
func CommitRetry(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Aborted, codes.ResourceExhausted:
		return true
	}
	return false
}

// CommitAttemptTimeout bounds one commit-log call against one master.
const CommitAttemptTimeout = 5 * time.Second

// call runs fn against the masters in turn until one answers or ctx ends.
func call[T any](ctx context.Context, m *MasterCommits, what string, fn func(context.Context, flumev1.NodeServiceClient) (T, error)) (T, error) {
	var res T
	err := m.c.Node(ctx, what, func(ctx context.Context, cl flumev1.NodeServiceClient) error {
		var err error
		res, err = fn(ctx, cl)
		return err
	})
	return res, err
}

// Commit implements commitpoint.Log.
func (m *MasterCommits) Commit(ctx context.Context, collector string, chunks []commitpoint.Commit) (commitpoint.Outcome, error) {
	req := localcommit.CommitRequest(collector, chunks)
	resp, err := call(ctx, m, "commit", func(ctx context.Context, cl flumev1.NodeServiceClient) (*flumev1.CommitResponse, error) {
		return cl.Commit(ctx, &flumev1.CommitRequest{Commit: req})
	})
	if err != nil {
		return commitpoint.Outcome{}, err
	}
	return localcommit.Outcome(resp.GetResult()), nil
}

// FileLengths implements commitpoint.Log.
func (m *MasterCommits) FileLengths(ctx context.Context, collector string) (map[string]int64, error) {
	resp, err := call(ctx, m, "committed file lengths", func(ctx context.Context, cl flumev1.NodeServiceClient) (*flumev1.GetFileLengthsResponse, error) {
		return cl.GetFileLengths(ctx, &flumev1.GetFileLengthsRequest{Collector: collector})
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(resp.GetFiles()))
	for _, f := range resp.GetFiles() {
		out[f.GetFile()] = f.GetLength()
	}
	return out, nil
}

// FinishFiles implements commitpoint.Log.
func (m *MasterCommits) FinishFiles(ctx context.Context, collector string, files []string) error {
	_, err := call(ctx, m, "finish files", func(ctx context.Context, cl flumev1.NodeServiceClient) (*flumev1.FinishFilesResponse, error) {
		return cl.FinishFiles(ctx, &flumev1.FinishFilesRequest{Finish: &flumev1.FinishFiles{Collector: collector, Files: files}})
	})
	return err
}

// NewEpoch implements commitpoint.Log.
func (m *MasterCommits) NewEpoch(ctx context.Context, agent string) (uint64, error) {
	resp, err := call(ctx, m, "new epoch", func(ctx context.Context, cl flumev1.NodeServiceClient) (*flumev1.NewEpochResponse, error) {
		return cl.NewEpoch(ctx, &flumev1.NewEpochRequest{Agent: agent})
	})
	return resp.GetEpoch(), err
}

// Committed implements commitpoint.Log.
func (m *MasterCommits) Committed(ctx context.Context, agent string, epoch uint64, seqs []uint64) ([]uint64, error) {
	resp, err := call(ctx, m, "committed chunks", func(ctx context.Context, cl flumev1.NodeServiceClient) (*flumev1.GetCommittedResponse, error) {
		return cl.GetCommitted(ctx, &flumev1.GetCommittedRequest{Agent: agent, Epoch: epoch, Seqs: seqs})
	})
	return resp.GetCommitted(), err
}

// Release implements commitpoint.Log.
func (m *MasterCommits) Release(ctx context.Context, agent string, epoch, through uint64) error {
	_, err := call(ctx, m, "release chunks", func(ctx context.Context, cl flumev1.NodeServiceClient) (*flumev1.ReleaseResponse, error) {
		return cl.Release(ctx, &flumev1.ReleaseRequest{Release: &flumev1.ReleaseChunks{Agent: agent, Epoch: epoch, Through: through}})
	})
	return err
}
