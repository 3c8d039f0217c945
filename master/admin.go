package master

import (
	"context"
	"errors"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/flumego/flume/master/command"
	"github.com/flumego/flume/master/state"
	"github.com/flumego/flume/node/spec"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
	"github.com/flumego/flume/raftstore"
)

// adminServer serves AdminService. Reads of the replicated state are answered by the leader
// after a consistent read, so an admin never sees a state older than a command it saw succeed;
// a follower forwards them.
type adminServer struct {
	flumev1.UnimplementedAdminServiceServer
	m *Master
}

// Exec carries out a command.
func (a *adminServer) Exec(ctx context.Context, req *flumev1.ExecRequest) (*flumev1.ExecResponse, error) {
	name := "run an empty command"
	need := flumev1.TokenRole_TOKEN_ROLE_OPERATOR
	if argv := req.GetArgv(); len(argv) > 0 {
		name, need = "run "+command.ClipName(argv[0]), command.Role(argv[0])
	}
	id := callerOf(ctx)
	if err := a.m.authorize(ctx, id, need, name); err != nil {
		return nil, err
	}
	if !forwarded(ctx) { // a forwarding master said who asked already
		req = proto.CloneOf(req)
		req.Origin = originOf(req.GetOrigin(), id)
	}
	rec, err := a.m.ExecRequest(ctx, req)
	if err != nil {
		return nil, toStatus(err)
	}
	return &flumev1.ExecResponse{Record: rec}, nil
}

// consistent runs fn on the state once this master knows it is the leader and up to date; on
// a follower it returns a NotLeader status that the caller forwards or retries.
func (a *adminServer) consistent(ctx context.Context, fn func(st *state.State)) error {
	if err := a.m.store.ConsistentRead(ctx); err != nil {
		return toStatus(err)
	}
	a.m.fsm.read(fn)
	return nil
}

// forward sends a read to the leader when this master is not it.
func forward[Req, Resp any](ctx context.Context, a *adminServer, req Req,
	local func(context.Context, Req) (Resp, error),
	remote func(flumev1.AdminServiceClient, context.Context, Req, ...grpc.CallOption) (Resp, error)) (Resp, error) {
	if a.m.store.IsLeader() {
		return local(ctx, req)
	}
	var zero Resp
	if forwarded(ctx) { // never forward twice: see forwardedKey
		return zero, toStatus(&raftstore.NotLeaderError{})
	}
	conn, err := a.m.leaderConn()
	if err != nil {
		return zero, toStatus(err)
	}
	return remote(flumev1.NewAdminServiceClient(conn), forwardContext(ctx), req)
}

// GetCommands returns one command record or the history.
func (a *adminServer) GetCommands(ctx context.Context, req *flumev1.GetCommandsRequest) (*flumev1.GetCommandsResponse, error) {
	return forward(ctx, a, req, func(ctx context.Context, req *flumev1.GetCommandsRequest) (*flumev1.GetCommandsResponse, error) {
		resp := &flumev1.GetCommandsResponse{}
		var found bool
		err := a.consistent(ctx, func(st *state.State) {
			if req.GetId() == 0 {
				resp.Records, found = st.History(), true
				return
			}
			var rec *flumev1.CommandRecord
			if rec, found = st.Command(req.GetId()); found {
				resp.Records = append(resp.Records, rec)
			}
		})
		if err == nil && !found {
			err = status.Errorf(codes.NotFound, "no command %d in the history", req.GetId())
		}
		return resp, err
	}, flumev1.AdminServiceClient.GetCommands)
}

// GetConfigs returns the configurations, submitted and translated.
func (a *adminServer) GetConfigs(ctx context.Context, req *flumev1.GetConfigsRequest) (*flumev1.GetConfigsResponse, error) {
	return forward(ctx, a, req, func(ctx context.Context, _ *flumev1.GetConfigsRequest) (*flumev1.GetConfigsResponse, error) {
		resp := &flumev1.GetConfigsResponse{}
		err := a.consistent(ctx, func(st *state.State) {
			resp.Submitted, resp.Translated = st.Configs(), st.AllTranslated()
		})
		return resp, err
	}, flumev1.AdminServiceClient.GetConfigs)
}

// GetMappings returns the mappings, of one physical node or all.
func (a *adminServer) GetMappings(ctx context.Context, req *flumev1.GetMappingsRequest) (*flumev1.GetMappingsResponse, error) {
	return forward(ctx, a, req, func(ctx context.Context, req *flumev1.GetMappingsRequest) (*flumev1.GetMappingsResponse, error) {
		resp := &flumev1.GetMappingsResponse{}
		err := a.consistent(ctx, func(st *state.State) {
			for _, mp := range st.Mappings() {
				if req.GetPhysical() == "" || mp.GetPhysical() == req.GetPhysical() {
					resp.Mappings = append(resp.Mappings, mp)
				}
			}
		})
		return resp, err
	}, flumev1.AdminServiceClient.GetMappings)
}

// GetNodeStatuses returns the leader's table of logical node statuses, joined with the
// mappings.
func (a *adminServer) GetNodeStatuses(ctx context.Context, req *flumev1.GetNodeStatusesRequest) (*flumev1.GetNodeStatusesResponse, error) {
	return forward(ctx, a, req, func(ctx context.Context, req *flumev1.GetNodeStatusesRequest) (*flumev1.GetNodeStatusesResponse, error) {
		resp := &flumev1.GetNodeStatusesResponse{}
		err := a.consistent(ctx, func(st *state.State) { resp.Statuses = a.m.sess.statuses(st, req.GetMetrics()) })
		return resp, err
	}, flumev1.AdminServiceClient.GetNodeStatuses)
}

// GetMembers describes the ensemble as this master sees it; it is answered locally, so an
// operator can ask any master, even one cut off from the others.
func (a *adminServer) GetMembers(_ context.Context, _ *flumev1.GetMembersRequest) (*flumev1.GetMembersResponse, error) {
	ms, err := a.m.store.Members()
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &flumev1.GetMembersResponse{Term: ms.Term, LastIndex: ms.LastIndex, AnsweredBy: a.m.cfg.ID}
	for _, s := range ms.Members {
		mem := &flumev1.Member{Id: s.ID, RaftAddress: s.Addr, Leader: s.Leader, Voter: s.Suffrage == raftstore.Voter}
		if p, ok := a.m.peer(s.ID); ok {
			mem.AdminAddress = p.Admin
		}
		resp.Members = append(resp.Members, mem)
	}
	return resp, nil
}

// The gRPC status codes of the admin service, in one table: clients map back by code.
func toStatus(err error) error {
	if _, ok := status.FromError(err); ok && err != nil && status.Code(err) != codes.Unknown {
		return err
	}
	var nl *raftstore.NotLeaderError
	var se *spec.Error
	switch {
	case errors.Is(err, command.ErrUsage), errors.As(err, &se):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.As(err, &nl), errors.Is(err, errUnreachable):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// fromStatus maps a forwarded call's status back to the errors Exec retries on.
func fromStatus(err error) error {
	switch status.Code(err) {
	case codes.Unavailable:
		return errors.Join(errUnreachable, err)
	case codes.InvalidArgument:
		return errors.Join(command.ErrUsage, err)
	}
	return err
}
