package master

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/flumego/flume/master/command"
	"github.com/flumego/flume/master/state"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
	"github.com/flumego/flume/raftstore"
)

// The data-plane calls of NodeService: the end-to-end commit point (DESIGN.md §6.1). Writes
// go through raft on the leader; reads that decide an ack are consistent reads. A follower
// forwards each call to the leader once.

// apply stamps cmd with the time and applies it through raft on this master, the leader; it
// returns the command's record (nil for a skipped ignorable command).
func (m *Master) apply(ctx context.Context, cmd *flumev1.Command) (*flumev1.CommandRecord, error) {
	cmd.Time = m.cfg.Now().UnixNano()
	b, err := proto.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	res, err := m.store.Apply(ctx, b)
	if err != nil {
		return nil, err
	}
	rec, _ := res.(*flumev1.CommandRecord)
	return rec, nil
}

// applyData applies a data-plane command on the leader and returns its record.
func (m *Master) applyData(ctx context.Context, cmd *flumev1.Command) (*flumev1.CommandRecord, error) {
	rec, err := m.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	if rec.GetState() == flumev1.CommandState_COMMAND_STATE_FAILED {
		return nil, fmt.Errorf("%w: %s", command.ErrUsage, rec.GetMessage())
	}
	return rec, nil
}

// forwardNode runs local on the leader, or sends the call to the leader's node service.
func forwardNode[Req, Resp any](ctx context.Context, s *sessions, req Req,
	local func(context.Context, Req) (Resp, error),
	remote func(flumev1.NodeServiceClient, context.Context, Req, ...grpc.CallOption) (Resp, error)) (Resp, error) {
	var zero Resp
	if s.m.store.IsLeader() {
		resp, err := local(ctx, req)
		if err != nil {
			return zero, toStatus(err)
		}
		return resp, nil
	}
	if forwarded(ctx) {
		return zero, toStatus(&raftstore.NotLeaderError{})
	}
	conn, err := s.m.leaderNodeConn()
	if err != nil {
		return zero, toStatus(err)
	}
	return remote(flumev1.NewNodeServiceClient(conn), forwardContext(ctx), req)
}

// leaderNodeConn returns a connection to the leader's node service.
func (m *Master) leaderNodeConn() (*grpc.ClientConn, error) {
	id, _ := m.store.Leader()
	if id == "" {
		return nil, &raftstore.NotLeaderError{}
	}
	p, ok := m.peer(id)
	if !ok || p.Node == "" {
		return nil, fmt.Errorf("leader %s has no node service address: %w", id, errUnreachable)
	}
	return m.conn(p.Node)
}

// conn returns a cached client connection to another master.
func (m *Master) conn(addr string) (*grpc.ClientConn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.conns[addr]; ok {
		return c, nil
	}
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(m.peerCreds))
	if err != nil {
		return nil, fmt.Errorf("dial master at %s: %v: %w", addr, err, errUnreachable)
	}
	m.conns[addr] = c
	return c, nil
}

// Commit records chunks a collector wrote as committed.
func (s *sessions) Commit(ctx context.Context, req *flumev1.CommitRequest) (*flumev1.CommitResponse, error) {
	return forwardNode(ctx, s, req, func(ctx context.Context, req *flumev1.CommitRequest) (*flumev1.CommitResponse, error) {
		if err := s.m.checkOwner(ctx, req.GetCommit().GetCollector(), true); err != nil {
			return nil, err
		}
		rec, err := s.m.applyData(ctx, &flumev1.Command{Origin: "collector " + req.GetCommit().GetCollector(),
			Op: &flumev1.Command_CommitChunks{CommitChunks: req.GetCommit()}})
		if err != nil {
			return nil, err
		}
		return &flumev1.CommitResponse{Result: rec.GetCommitResult()}, nil
	}, flumev1.NodeServiceClient.Commit)
}

// FinishFiles forgets the committed lengths of finished files.
func (s *sessions) FinishFiles(ctx context.Context, req *flumev1.FinishFilesRequest) (*flumev1.FinishFilesResponse, error) {
	return forwardNode(ctx, s, req, func(ctx context.Context, req *flumev1.FinishFilesRequest) (*flumev1.FinishFilesResponse, error) {
		if err := s.m.checkOwner(ctx, req.GetFinish().GetCollector(), true); err != nil {
			return nil, err
		}
		_, err := s.m.applyData(ctx, &flumev1.Command{Origin: "collector " + req.GetFinish().GetCollector(),
			Op: &flumev1.Command_FinishFiles{FinishFiles: req.GetFinish()}})
		return &flumev1.FinishFilesResponse{}, err
	}, flumev1.NodeServiceClient.FinishFiles)
}

// NewEpoch gives an agent a new epoch.
func (s *sessions) NewEpoch(ctx context.Context, req *flumev1.NewEpochRequest) (*flumev1.NewEpochResponse, error) {
	return forwardNode(ctx, s, req, func(ctx context.Context, req *flumev1.NewEpochRequest) (*flumev1.NewEpochResponse, error) {
		if err := s.m.checkOwner(ctx, req.GetAgent(), false); err != nil {
			return nil, err
		}
		rec, err := s.m.applyData(ctx, &flumev1.Command{Origin: "agent " + req.GetAgent(),
			Op: &flumev1.Command_NewEpoch{NewEpoch: &flumev1.NewEpoch{Agent: req.GetAgent()}}})
		if err != nil {
			return nil, err
		}
		return &flumev1.NewEpochResponse{Epoch: rec.GetEpoch()}, nil
	}, flumev1.NodeServiceClient.NewEpoch)
}

// Release forgets commit records an agent released.
func (s *sessions) Release(ctx context.Context, req *flumev1.ReleaseRequest) (*flumev1.ReleaseResponse, error) {
	return forwardNode(ctx, s, req, func(ctx context.Context, req *flumev1.ReleaseRequest) (*flumev1.ReleaseResponse, error) {
		if err := s.m.checkOwner(ctx, req.GetRelease().GetAgent(), false); err != nil {
			return nil, err
		}
		_, err := s.m.applyData(ctx, &flumev1.Command{Origin: "agent " + req.GetRelease().GetAgent(),
			Op: &flumev1.Command_ReleaseChunks{ReleaseChunks: req.GetRelease()}})
		return &flumev1.ReleaseResponse{}, err
	}, flumev1.NodeServiceClient.Release)
}

// GetFileLengths returns a collector's committed file lengths, by a consistent read.
func (s *sessions) GetFileLengths(ctx context.Context, req *flumev1.GetFileLengthsRequest) (*flumev1.GetFileLengthsResponse, error) {
	return forwardNode(ctx, s, req, func(ctx context.Context, req *flumev1.GetFileLengthsRequest) (*flumev1.GetFileLengthsResponse, error) {
		if err := s.m.checkOwner(ctx, req.GetCollector(), true); err != nil {
			return nil, err
		}
		resp := &flumev1.GetFileLengthsResponse{}
		err := s.consistent(ctx, func(st *state.State) { resp.Files = st.FileLengths(req.GetCollector()) })
		return resp, err
	}, flumev1.NodeServiceClient.GetFileLengths)
}

// GetCommitted says which chunks are committed, by a consistent read.
func (s *sessions) GetCommitted(ctx context.Context, req *flumev1.GetCommittedRequest) (*flumev1.GetCommittedResponse, error) {
	return forwardNode(ctx, s, req, func(ctx context.Context, req *flumev1.GetCommittedRequest) (*flumev1.GetCommittedResponse, error) {
		if err := s.m.checkOwner(ctx, req.GetAgent(), false); err != nil {
			return nil, err
		}
		resp := &flumev1.GetCommittedResponse{}
		err := s.consistent(ctx, func(st *state.State) {
			resp.Committed = st.Committed(req.GetAgent(), req.GetEpoch(), req.GetSeqs())
		})
		return resp, err
	}, flumev1.NodeServiceClient.GetCommitted)
}

func (s *sessions) consistent(ctx context.Context, fn func(st *state.State)) error {
	if err := s.m.store.ConsistentRead(ctx); err != nil {
		return err
	}
	s.m.fsm.read(fn)
	return nil
}
