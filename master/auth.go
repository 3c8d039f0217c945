package master

import (
	"context"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/flumego/flume/internal/tlsconf"
	"github.com/flumego/flume/master/client"
	"github.com/flumego/flume/master/state"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// Who may call what (docs/security.md).
//
// A caller is identified by the token it presents ("authorization: Bearer SECRET") or, on a
// mutual-TLS port, by its client certificate: "token:ACCESSOR" or "cert:COMMON-NAME". With
// access control on (Config.ACL), every admin call needs a token whose role covers it (read <
// operator < admin), and every node call a node identity: a token of the node role or a node
// certificate. A physical node's name is bound to the first identity that runs a session under
// it; another identity cannot take it. Data-plane calls (commits, epochs, releases) may only
// act for logical nodes mapped onto a physical node bound to the caller.
//
// A master that forwards a call to the leader passes the caller's token on as is, so the
// leader checks it itself; a caller known by its certificate is passed on in the identity
// headers, which the leader believes only from a peer that presents a master certificate.

// identityHeader and identityRoleHeader carry a certificate identity a master forwards.
const (
	identityHeader     = "flume-identity"
	identityRoleHeader = "flume-identity-role"
)

// anonymous is the identity of a caller that presents neither a token nor a certificate.
const anonymous = "anonymous"

// identity is who the masters take a caller for.
type identity struct {
	name  string            // "token:ACCESSOR", "cert:COMMON-NAME" or anonymous
	role  flumev1.TokenRole // the token's role; node for a node certificate
	desc  string            // the token's description, for messages
	token string            // the secret presented, passed on when the call is forwarded
}

func (id identity) anonymous() bool { return id.name == anonymous }

// String describes the identity for messages: `token 1a2b3c4d5e6f (operator, "ci")`.
func (id identity) String() string {
	kind, name, _ := strings.Cut(id.name, ":")
	s := kind + " " + name
	if id.anonymous() {
		return "an anonymous caller"
	}
	if id.role != flumev1.TokenRole_TOKEN_ROLE_UNSPECIFIED {
		s += " (" + state.RoleName(id.role)
		if id.desc != "" {
			s += ", " + strconv.Quote(id.desc)
		}
		s += ")"
	}
	return s
}

type identityKey struct{}

// callerOf returns the identity the interceptors found for the call.
func callerOf(ctx context.Context) identity {
	if id, ok := ctx.Value(identityKey{}).(identity); ok {
		return id
	}
	return identity{name: anonymous}
}

// authenticate finds who is calling: by token, by a certificate identity forwarded by another
// master, or by client certificate. An unknown token is an error when access control is on; a
// caller without either is anonymous.
func (m *Master) authenticate(ctx context.Context) (identity, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	cert := tlsconf.PeerCertificate(ctx)
	fromMaster := cert != nil && tlsconf.HasRole(cert, tlsconf.MasterName)
	if secret, ok := bearerToken(md); ok {
		var t *flumev1.Token
		var found bool
		var bootstrapped int64
		m.fsm.read(func(st *state.State) {
			t, found = st.TokenBySecret(secret)
			bootstrapped = st.ACLBootstrapped()
		})
		if found {
			return identity{name: "token:" + t.GetAccessor(), role: t.GetRole(), desc: t.GetDescription(), token: secret}, nil
		}
		if m.cfg.ACL && bootstrapped == 0 {
			// No token exists yet: the ensemble is starting and its leader has not created the
			// bootstrap token. Unavailable, so that clients wait for it as for an election.
			return identity{}, status.Error(codes.Unavailable,
				"access control has no token yet: the masters create the bootstrap token (flume.acl.bootstrap.token.file) once they have a leader, or run flumectl acl bootstrap")
		}
		if m.cfg.ACL {
			if id, ok := m.askLeader(ctx, secret); ok {
				return id, nil
			}
			return identity{}, status.Error(codes.Unauthenticated,
				"the token presented is not known to the masters: mistyped, or revoked")
		}
	}
	if fromMaster {
		// Another master forwarding a call: its caller rides in the identity headers, or was
		// anonymous.
		if v := md.Get(identityHeader); len(v) == 1 && strings.HasPrefix(v[0], "cert:") {
			id := identity{name: v[0]}
			if r := md.Get(identityRoleHeader); len(r) == 1 {
				n, _ := strconv.Atoi(r[0])
				id.role = flumev1.TokenRole(n)
			}
			return id, nil
		}
		return identity{name: anonymous}, nil
	}
	if cert != nil {
		id := identity{name: "cert:" + cert.Subject.CommonName}
		if tlsconf.HasRole(cert, tlsconf.NodeName) {
			id.role = flumev1.TokenRole_TOKEN_ROLE_NODE
		}
		return id, nil
	}
	return identity{name: anonymous}, nil
}

// askLeader asks the leader who a token this follower does not know is: a token created an
// instant ago may not have reached this master yet. It answers false on the leader, for a
// forwarded call, and when the leader does not know the token either or cannot be asked.
func (m *Master) askLeader(ctx context.Context, secret string) (identity, bool) {
	if m.store.IsLeader() || forwarded(ctx) {
		return identity{}, false
	}
	conn, err := m.leaderConn()
	if err != nil {
		return identity{}, false
	}
	octx := metadata.AppendToOutgoingContext(ctx, forwardedKey, "1", client.TokenHeader, "Bearer "+secret)
	resp, err := flumev1.NewAdminServiceClient(conn).WhoAmI(octx, &flumev1.WhoAmIRequest{})
	if err != nil || !strings.HasPrefix(resp.GetIdentity(), "token:") {
		return identity{}, false
	}
	return identity{name: resp.GetIdentity(), role: resp.GetRole(), token: secret}, true
}

// bearerToken returns the token of an "authorization: Bearer TOKEN" header.
func bearerToken(md metadata.MD) (string, bool) {
	v := md.Get(client.TokenHeader)
	if len(v) != 1 {
		return "", false
	}
	tok, ok := strings.CutPrefix(v[0], "Bearer ")
	tok = strings.TrimSpace(tok)
	return tok, ok && tok != ""
}

// forwardContext returns the context of a call forwarded to the leader: marked as forwarded, and
// carrying the caller: its token as it came, or its certificate identity.
func forwardContext(ctx context.Context) context.Context {
	id := callerOf(ctx)
	kv := []string{forwardedKey, "1"}
	switch {
	case id.token != "":
		kv = append(kv, client.TokenHeader, "Bearer "+id.token)
	case strings.HasPrefix(id.name, "cert:"):
		kv = append(kv, identityHeader, id.name, identityRoleHeader, strconv.Itoa(int(id.role)))
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// covers reports whether role have may do what role need may, on the admin service.
func covers(have, need flumev1.TokenRole) bool {
	if have == flumev1.TokenRole_TOKEN_ROLE_NODE || have == flumev1.TokenRole_TOKEN_ROLE_UNSPECIFIED {
		return false
	}
	return have >= need
}

// adminRoles is the role each admin method needs with access control on, and what it does in
// the user's words; methods not listed need none (Exec checks its command's role itself,
// BootstrapACL works once, WhoAmI answers anyone).
var adminRoles = map[string]struct {
	role flumev1.TokenRole
	what string
}{
	flumev1.AdminService_GetCommands_FullMethodName:      {flumev1.TokenRole_TOKEN_ROLE_READ, "read the command history"},
	flumev1.AdminService_GetNodeStatuses_FullMethodName:  {flumev1.TokenRole_TOKEN_ROLE_READ, "read node statuses"},
	flumev1.AdminService_GetConfigs_FullMethodName:       {flumev1.TokenRole_TOKEN_ROLE_READ, "read configurations"},
	flumev1.AdminService_GetMappings_FullMethodName:      {flumev1.TokenRole_TOKEN_ROLE_READ, "read mappings"},
	flumev1.AdminService_GetMembers_FullMethodName:       {flumev1.TokenRole_TOKEN_ROLE_READ, "read the members of the ensemble"},
	flumev1.AdminService_CreateToken_FullMethodName:      {flumev1.TokenRole_TOKEN_ROLE_ADMIN, "create tokens"},
	flumev1.AdminService_ListTokens_FullMethodName:       {flumev1.TokenRole_TOKEN_ROLE_ADMIN, "list tokens"},
	flumev1.AdminService_RevokeToken_FullMethodName:      {flumev1.TokenRole_TOKEN_ROLE_ADMIN, "revoke tokens"},
	flumev1.AdminService_ListNodeBindings_FullMethodName: {flumev1.TokenRole_TOKEN_ROLE_ADMIN, "list node bindings"},
	flumev1.AdminService_UnbindNode_FullMethodName:       {flumev1.TokenRole_TOKEN_ROLE_ADMIN, "unbind node names"},
}

// authorize checks that the caller may do what needs role need; what names it in the error.
func (m *Master) authorize(ctx context.Context, id identity, need flumev1.TokenRole, what string) error {
	if !m.cfg.ACL || need == flumev1.TokenRole_TOKEN_ROLE_UNSPECIFIED {
		return nil
	}
	if id.role == flumev1.TokenRole_TOKEN_ROLE_UNSPECIFIED || !strings.HasPrefix(id.name, "token:") {
		m.refuse(ctx, "no token", what)
		return status.Errorf(codes.Unauthenticated,
			"access control is on: to %s, give a token with the %s role (--token, FLUME_TOKEN or ~/.flume/token)",
			what, state.RoleName(need))
	}
	if !covers(id.role, need) {
		m.refuse(ctx, "role "+state.RoleName(id.role)+" "+id.name, what)
		return status.Errorf(codes.PermissionDenied, "%s may not %s: that needs the %s role", id, what, state.RoleName(need))
	}
	return nil
}

// refuse logs a refused call once per peer and kind.
func (m *Master) refuse(ctx context.Context, kind, what string) {
	addr := "unknown"
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		addr = p.Addr.String()
	}
	host := addr
	if i := strings.LastIndexByte(addr, ':'); i > 0 {
		host = addr[:i]
	}
	m.refused.Refuse(kind+" "+host, "call refused", "why", kind, "call", what, "peer", addr)
}

// adminInterceptors authenticate every admin call and check the role its method needs.
func (m *Master) adminInterceptors() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			id, err := m.authenticate(ctx)
			if err != nil {
				m.refuse(ctx, "unknown token", info.FullMethod)
				return nil, err
			}
			need := adminRoles[info.FullMethod]
			if err := m.authorize(ctx, id, need.role, need.what); err != nil {
				return nil, err
			}
			return h(context.WithValue(ctx, identityKey{}, id), req)
		}),
	}
}

// nodeInterceptors authenticate every node call: with access control on, the caller must be a
// node (a node token or a node certificate) or a master forwarding a node's call.
func (m *Master) nodeInterceptors() []grpc.ServerOption {
	check := func(ctx context.Context, method string) (context.Context, error) {
		id, err := m.authenticate(ctx)
		if err != nil {
			m.refuse(ctx, "unknown token", method)
			return nil, err
		}
		if m.cfg.ACL && id.role != flumev1.TokenRole_TOKEN_ROLE_NODE {
			m.refuse(ctx, "not a node "+id.name, method)
			if id.anonymous() {
				return nil, status.Errorf(codes.Unauthenticated,
					"%s needs a node identity: a node token (flume.acl.token.file) or a node certificate (flume.tls.cert)", methodName(method))
			}
			return nil, status.Errorf(codes.PermissionDenied, "%s is not a node: %s needs a node token or a node certificate", id, methodName(method))
		}
		return context.WithValue(ctx, identityKey{}, id), nil
	}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			ctx, err := check(ctx, info.FullMethod)
			if err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			ctx, err := check(ss.Context(), info.FullMethod)
			if err != nil {
				return err
			}
			return h(srv, &identifiedStream{ServerStream: ss, ctx: ctx})
		}),
	}
}

// identifiedStream is a server stream whose context carries its caller.
type identifiedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identifiedStream) Context() context.Context { return s.ctx }

// methodName returns the method of a full gRPC method name: "/flume.v1.NodeService/Commit"
// gives "Commit".
func methodName(full string) string {
	return full[strings.LastIndexByte(full, '/')+1:]
}

// checkBinding says why identity id may not run physical node name: the name is bound to
// another identity. st is read under the state's lock.
func checkBinding(st *state.State, name string, id identity) error {
	bound, ok := st.Binding(name)
	if !ok || bound == id.name {
		return nil
	}
	return status.Errorf(codes.PermissionDenied,
		"physical node %s is bound to %s; %s may not run it (an admin frees the name with: flumectl acl unbind %s)",
		name, bound, id, name)
}

// checkOwner says why the caller may not act for logical node logical (an agent's chunks) or,
// with physical set, for the collector on physical node logical: it must run on a physical
// node bound to the caller. A collector sink of a fan-out commits as "NAME/PLACE"
// (state.SplitCollector): it acts for physical node NAME. With access control off, only a bound
// node is protected.
func (m *Master) checkOwner(ctx context.Context, logical string, physical bool) error {
	id := callerOf(ctx)
	var owner, phys string
	m.fsm.read(func(st *state.State) {
		phys = logical
		if !physical {
			phys, _ = st.PhysicalOf(logical)
		} else if _, bound := st.Binding(logical); !bound {
			phys, _ = state.SplitCollector(logical)
		}
		if phys != "" {
			owner, _ = st.Binding(phys)
		}
	})
	if owner == id.name && owner != "" || owner == "" && !m.cfg.ACL {
		return nil
	}
	what := "agent " + logical
	if physical {
		what = "collector " + logical
	}
	m.refuse(ctx, "not the owner "+id.name, what)
	if phys == "" {
		return status.Errorf(codes.PermissionDenied, "%s is not mapped to any physical node: %s may not act for it", what, id)
	}
	if owner == "" {
		owner = "no identity yet"
	}
	return status.Errorf(codes.PermissionDenied, "%s runs on physical node %s, bound to %s: %s may not act for it", what, phys, owner, id)
}

// errACLOff refuses the calls that manage tokens when access control is off.
func (m *Master) errACLOff(what string) error {
	if m.cfg.ACL {
		return nil
	}
	return status.Errorf(codes.FailedPrecondition, "%s: access control is off on this master (set flume.acl.enabled=true)", what)
}
