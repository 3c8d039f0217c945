package master

import (
	"context"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flumego/flume/master/state"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// The admin calls that manage access control: the bootstrap token, tokens, node name bindings.
// Writes are commands through raft on the leader (a follower forwards the call); they are kept
// in the command history without any secret.

// applyACL applies an access-control command on the leader as the caller, and maps a refusal
// of the state to FailedPrecondition.
func (a *adminServer) applyACL(ctx context.Context, argv []string, op *flumev1.Command) (*flumev1.CommandRecord, error) {
	op.Argv, op.Origin = argv, originOf("flumectl", callerOf(ctx))
	rec, err := a.m.apply(ctx, op)
	if err != nil {
		return nil, toStatus(err)
	}
	if rec.GetState() == flumev1.CommandState_COMMAND_STATE_FAILED {
		return nil, status.Error(codes.FailedPrecondition, rec.GetMessage())
	}
	return rec, nil
}

// originOf is the origin a command is recorded with: what the client said, and who it is.
func originOf(origin string, id identity) string {
	if id.anonymous() {
		return origin
	}
	return origin + " as " + id.name
}

// newToken returns the command that creates a token with secret, or why secret cannot be one.
func newToken(secret string, role flumev1.TokenRole, desc, by string, bootstrap bool) (*flumev1.Command, error) {
	if err := state.CheckSecret(secret); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if len(desc) > maxHelloField {
		return nil, status.Errorf(codes.InvalidArgument, "a token's description is longer than %d bytes", maxHelloField)
	}
	return &flumev1.Command{Op: &flumev1.Command_CreateToken{CreateToken: &flumev1.CreateToken{Bootstrap: bootstrap,
		Token: &flumev1.Token{Accessor: state.Accessor(secret), SecretHash: state.HashSecret(secret), Role: role,
			Description: desc, CreatedBy: by}}}}, nil
}

// BootstrapACL creates the first admin token, once.
func (a *adminServer) BootstrapACL(ctx context.Context, req *flumev1.BootstrapACLRequest) (*flumev1.BootstrapACLResponse, error) {
	if err := a.m.errACLOff("acl bootstrap"); err != nil {
		return nil, err
	}
	return forward(ctx, a, req, func(ctx context.Context, req *flumev1.BootstrapACLRequest) (*flumev1.BootstrapACLResponse, error) {
		cmd, err := newToken(req.GetSecret(), flumev1.TokenRole_TOKEN_ROLE_ADMIN, req.GetDescription(), "bootstrap", true)
		if err != nil {
			return nil, err
		}
		if _, err := a.applyACL(ctx, []string{"acl", "bootstrap"}, cmd); err != nil {
			return nil, err
		}
		return &flumev1.BootstrapACLResponse{Accessor: cmd.GetCreateToken().GetToken().GetAccessor()}, nil
	}, flumev1.AdminServiceClient.BootstrapACL)
}

// CreateToken creates a token.
func (a *adminServer) CreateToken(ctx context.Context, req *flumev1.CreateTokenRequest) (*flumev1.CreateTokenResponse, error) {
	if err := a.m.errACLOff("acl create"); err != nil {
		return nil, err
	}
	return forward(ctx, a, req, func(ctx context.Context, req *flumev1.CreateTokenRequest) (*flumev1.CreateTokenResponse, error) {
		if req.GetRole() < flumev1.TokenRole_TOKEN_ROLE_READ || req.GetRole() > flumev1.TokenRole_TOKEN_ROLE_NODE {
			return nil, status.Error(codes.InvalidArgument, "a token needs a role: read, operator, admin or node")
		}
		cmd, err := newToken(req.GetSecret(), req.GetRole(), req.GetDescription(), callerOf(ctx).name, false)
		if err != nil {
			return nil, err
		}
		argv := []string{"acl", "create", state.RoleName(req.GetRole())}
		if req.GetDescription() != "" {
			argv = append(argv, req.GetDescription())
		}
		if _, err := a.applyACL(ctx, argv, cmd); err != nil {
			return nil, err
		}
		return &flumev1.CreateTokenResponse{Accessor: cmd.GetCreateToken().GetToken().GetAccessor()}, nil
	}, flumev1.AdminServiceClient.CreateToken)
}

// ListTokens lists the tokens without their hashes.
func (a *adminServer) ListTokens(ctx context.Context, req *flumev1.ListTokensRequest) (*flumev1.ListTokensResponse, error) {
	return forward(ctx, a, req, func(ctx context.Context, _ *flumev1.ListTokensRequest) (*flumev1.ListTokensResponse, error) {
		resp := &flumev1.ListTokensResponse{}
		err := a.consistent(ctx, func(st *state.State) { resp.Tokens = st.Tokens() })
		return resp, err
	}, flumev1.AdminServiceClient.ListTokens)
}

// RevokeToken removes a token.
func (a *adminServer) RevokeToken(ctx context.Context, req *flumev1.RevokeTokenRequest) (*flumev1.RevokeTokenResponse, error) {
	if err := a.m.errACLOff("acl revoke"); err != nil {
		return nil, err
	}
	return forward(ctx, a, req, func(ctx context.Context, req *flumev1.RevokeTokenRequest) (*flumev1.RevokeTokenResponse, error) {
		acc := strings.TrimSpace(req.GetAccessor())
		_, err := a.applyACL(ctx, []string{"acl", "revoke", acc},
			&flumev1.Command{Op: &flumev1.Command_RevokeToken{RevokeToken: &flumev1.RevokeToken{Accessor: acc}}})
		if err != nil {
			return nil, err
		}
		return &flumev1.RevokeTokenResponse{}, nil
	}, flumev1.AdminServiceClient.RevokeToken)
}

// ListNodeBindings lists the node name bindings.
func (a *adminServer) ListNodeBindings(ctx context.Context, req *flumev1.ListNodeBindingsRequest) (*flumev1.ListNodeBindingsResponse, error) {
	return forward(ctx, a, req, func(ctx context.Context, _ *flumev1.ListNodeBindingsRequest) (*flumev1.ListNodeBindingsResponse, error) {
		resp := &flumev1.ListNodeBindingsResponse{}
		err := a.consistent(ctx, func(st *state.State) { resp.Bindings = st.Bindings() })
		return resp, err
	}, flumev1.AdminServiceClient.ListNodeBindings)
}

// UnbindNode frees a physical node's name.
func (a *adminServer) UnbindNode(ctx context.Context, req *flumev1.UnbindNodeRequest) (*flumev1.UnbindNodeResponse, error) {
	return forward(ctx, a, req, func(ctx context.Context, req *flumev1.UnbindNodeRequest) (*flumev1.UnbindNodeResponse, error) {
		p := req.GetPhysical()
		_, err := a.applyACL(ctx, []string{"acl", "unbind", p},
			&flumev1.Command{Op: &flumev1.Command_UnbindNode{UnbindNode: &flumev1.UnbindNode{Physical: p}}})
		if err != nil {
			return nil, err
		}
		return &flumev1.UnbindNodeResponse{}, nil
	}, flumev1.AdminServiceClient.UnbindNode)
}

// WhoAmI says who the masters take the caller for; answered locally.
func (a *adminServer) WhoAmI(ctx context.Context, _ *flumev1.WhoAmIRequest) (*flumev1.WhoAmIResponse, error) {
	id := callerOf(ctx)
	return &flumev1.WhoAmIResponse{Identity: id.name, Role: id.role, AclEnabled: a.m.cfg.ACL}, nil
}

// bootstrapFromFile creates the first admin token from the secret of
// flume.acl.bootstrap.token.file, on the leader, unless the ensemble was bootstrapped already.
// It is called each time this master becomes leader; whichever master leads first does it.
func (m *Master) bootstrapFromFile(ctx context.Context) {
	if !m.cfg.ACL || m.cfg.BootstrapSecret == "" {
		return
	}
	if err := m.store.ConsistentRead(ctx); err != nil {
		return // not leading after all; the next leader tries
	}
	var done int64
	m.fsm.read(func(st *state.State) { done = st.ACLBootstrapped() })
	if done != 0 {
		m.log.Debug("access control bootstrapped already; the bootstrap token file is not used again")
		return
	}
	cmd, err := newToken(m.cfg.BootstrapSecret, flumev1.TokenRole_TOKEN_ROLE_ADMIN, "bootstrap token (from file)", "bootstrap", true)
	if err != nil {
		m.log.Error("bootstrap token file refused", "err", status.Convert(err).Message())
		return
	}
	cmd.Argv, cmd.Origin = []string{"acl", "bootstrap"}, "master "+m.cfg.ID
	rec, err := m.apply(ctx, cmd)
	switch {
	case err != nil:
		m.log.Warn("access control not bootstrapped yet", "err", err)
	case rec.GetState() == flumev1.CommandState_COMMAND_STATE_FAILED:
		m.log.Info("access control not bootstrapped from file", "reason", rec.GetMessage())
	default:
		m.log.Info("access control bootstrapped: admin token created", "accessor", cmd.GetCreateToken().GetToken().GetAccessor())
	}
}
