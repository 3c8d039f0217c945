package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/flumego/flume/node/localcommit"
	"github.com/flumego/flume/node/plugin"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// MasterCommits is the commit point of end-to-end delivery kept by the masters: every call goes
// to a master's node service (a follower forwards it to the leader). A call that finds no
// master, or no leader, tries the next master until its context ends, so a collector waits out
// an election instead of failing its chunks.
type MasterCommits struct {
	masters []string

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
	good  int // the index of the master that answered last
}

var _ plugin.CommitLog = (*MasterCommits)(nil)

// NewMasterCommits returns a commit log kept by the masters at the given node service
// addresses. Close releases its connections.
func NewMasterCommits(masters []string) *MasterCommits {
	return &MasterCommits{masters: masters, conns: map[string]*grpc.ClientConn{}}
}

// Close closes the connections.
func (m *MasterCommits) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for addr, c := range m.conns {
		_ = c.Close()
		delete(m.conns, addr)
	}
	return nil
}

func (m *MasterCommits) client(i int) (flumev1.NodeServiceClient, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	addr := m.masters[i%len(m.masters)]
	c, ok := m.conns[addr]
	if !ok {
		var err error
		if c, err = grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
			return nil, fmt.Errorf("master %s: %w", addr, err)
		}
		m.conns[addr] = c
	}
	return flumev1.NewNodeServiceClient(c), nil
}

// retryableCode reports whether another master, or the same one later, may answer.
func retryableCode(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Aborted, codes.ResourceExhausted:
		return true
	}
	return false
}

// call runs fn against the masters in turn until one answers or ctx ends.
func call[T any](ctx context.Context, m *MasterCommits, what string, fn func(context.Context, flumev1.NodeServiceClient) (T, error)) (T, error) {
	var zero T
	if len(m.masters) == 0 {
		return zero, errors.New(what + ": no master configured")
	}
	m.mu.Lock()
	start := m.good
	m.mu.Unlock()
	backoff := 50 * time.Millisecond
	var last error
	for attempt := 0; ; attempt++ {
		i := start + attempt
		cl, err := m.client(i)
		if err != nil {
			return zero, err
		}
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		res, err := fn(actx, cl)
		cancel()
		if err == nil {
			m.mu.Lock()
			m.good = i % len(m.masters)
			m.mu.Unlock()
			return res, nil
		}
		last = err
		if !retryableCode(err) || ctx.Err() != nil {
			break
		}
		if (attempt+1)%len(m.masters) == 0 {
			// Every master tried: wait for an election or a restart.
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
		}
	}
	if ctx.Err() != nil && status.Code(last) != codes.InvalidArgument {
		return zero, fmt.Errorf("%s: no master answered: %w (last: %v)", what, ctx.Err(), status.Convert(last).Message())
	}
	return zero, fmt.Errorf("%s: %s", what, status.Convert(last).Message())
}

// Commit implements plugin.CommitLog.
func (m *MasterCommits) Commit(ctx context.Context, collector string, chunks []plugin.ChunkCommit) (plugin.CommitOutcome, error) {
	req := localcommit.CommitRequest(collector, chunks)
	resp, err := call(ctx, m, "commit", func(ctx context.Context, cl flumev1.NodeServiceClient) (*flumev1.CommitResponse, error) {
		return cl.Commit(ctx, &flumev1.CommitRequest{Commit: req})
	})
	if err != nil {
		return plugin.CommitOutcome{}, err
	}
	return localcommit.Outcome(resp.GetResult()), nil
}

// FileLengths implements plugin.CommitLog.
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

// FinishFiles implements plugin.CommitLog.
func (m *MasterCommits) FinishFiles(ctx context.Context, collector string, files []string) error {
	_, err := call(ctx, m, "finish files", func(ctx context.Context, cl flumev1.NodeServiceClient) (*flumev1.FinishFilesResponse, error) {
		return cl.FinishFiles(ctx, &flumev1.FinishFilesRequest{Finish: &flumev1.FinishFiles{Collector: collector, Files: files}})
	})
	return err
}

// NewEpoch implements plugin.CommitLog.
func (m *MasterCommits) NewEpoch(ctx context.Context, agent string) (uint64, error) {
	resp, err := call(ctx, m, "new epoch", func(ctx context.Context, cl flumev1.NodeServiceClient) (*flumev1.NewEpochResponse, error) {
		return cl.NewEpoch(ctx, &flumev1.NewEpochRequest{Agent: agent})
	})
	return resp.GetEpoch(), err
}

// Committed implements plugin.CommitLog.
func (m *MasterCommits) Committed(ctx context.Context, agent string, epoch uint64, seqs []uint64) ([]uint64, error) {
	resp, err := call(ctx, m, "committed chunks", func(ctx context.Context, cl flumev1.NodeServiceClient) (*flumev1.GetCommittedResponse, error) {
		return cl.GetCommitted(ctx, &flumev1.GetCommittedRequest{Agent: agent, Epoch: epoch, Seqs: seqs})
	})
	return resp.GetCommitted(), err
}

// Release implements plugin.CommitLog.
func (m *MasterCommits) Release(ctx context.Context, agent string, epoch, through uint64) error {
	_, err := call(ctx, m, "release chunks", func(ctx context.Context, cl flumev1.NodeServiceClient) (*flumev1.ReleaseResponse, error) {
		return cl.Release(ctx, &flumev1.ReleaseRequest{Release: &flumev1.ReleaseChunks{Agent: agent, Epoch: epoch, Through: through}})
	})
	return err
}
