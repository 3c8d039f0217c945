package master

import (
	"context"
	"crypto/rand"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/flumego/flume/internal/pki"
	"github.com/flumego/flume/internal/tlsconf"
	"github.com/flumego/flume/master/client"
	"github.com/flumego/flume/master/state"
	"github.com/flumego/flume/node/plugin/plugintest"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// secure is a cluster of masters with TLS and access control on, and the certificates of its
// clients: a CA made by internal/pki with node certificates for host1 and host2.
type secure struct {
	*cluster
	dir       string // the certificates
	bootstrap string // the bootstrap admin token's secret
}

// newSecureCluster starts n masters with mutual TLS on every port (clientAuth for the admin
// and node services) and access control, bootstrapped from a token file's secret.
func newSecureCluster(t *testing.T, n int, clientAuth tlsconf.ClientAuth) *secure {
	t.Helper()
	s := &secure{dir: t.TempDir(), bootstrap: rand.Text()}
	if _, err := (pki.Init{Dir: s.dir, Hosts: []string{"127.0.0.1"}, Nodes: []string{"host1", "host2"}}).Run(); err != nil {
		t.Fatal(err)
	}
	prov, err := tlsconf.Load(s.files("master"))
	if err != nil {
		t.Fatal(err)
	}
	s.cluster = newSessionClusterWith(t, n, func(cfg *Config) {
		cfg.TLS, cfg.ClientAuth, cfg.ACL, cfg.BootstrapSecret = prov, clientAuth, true, s.bootstrap
	})
	return s
}

// files returns the PEM files of a certificate made by pki.Init: "master", "client", "node",
// "node-host1".
func (s *secure) files(name string) tlsconf.Files {
	return tlsconf.Files{CA: filepath.Join(s.dir, "ca.pem"), Cert: filepath.Join(s.dir, name+".pem"),
		Key: filepath.Join(s.dir, name+"-key.pem")}
}

// conn dials addr over TLS with certificate cert ("" for none) and token ("" for none).
func (s *secure) conn(addr, cert, token string) *grpc.ClientConn {
	s.t.Helper()
	files := tlsconf.Files{CA: filepath.Join(s.dir, "ca.pem")}
	if cert != "" {
		files = s.files(cert)
	}
	prov, err := tlsconf.LoadClient(files)
	if err != nil {
		s.t.Fatal(err)
	}
	cl, err := client.New(client.Options{Addrs: []string{addr}, Credentials: prov.ClientCredentials(tlsconf.MasterName), Token: token})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = cl.Close() })
	cc, err := cl.Conn(addr)
	if err != nil {
		s.t.Fatal(err)
	}
	return cc
}

func (s *secure) adminAs(i int, token string) flumev1.AdminServiceClient {
	return flumev1.NewAdminServiceClient(s.conn(s.peers[i].Admin, "client", token))
}

func (s *secure) nodeAs(i int, cert, token string) flumev1.NodeServiceClient {
	return flumev1.NewNodeServiceClient(s.conn(s.peers[i].Node, cert, token))
}

// token creates a token of role through master i and returns its secret.
func (s *secure) token(i int, role flumev1.TokenRole) string {
	s.t.Helper()
	secret := rand.Text()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.adminAs(i, s.bootstrap).CreateToken(ctx, &flumev1.CreateTokenRequest{Role: role, Secret: secret, Description: "test"}); err != nil {
		s.t.Fatalf("create a %v token: %v", role, err)
	}
	return secret
}

func ctx10(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantCode fails the test unless err has code and its message holds every part of want.
func wantCode(t *testing.T, what string, err error, code codes.Code, want ...string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("%s: %v, want %v", what, err, code)
	}
	for _, w := range want {
		if !strings.Contains(status.Convert(err).Message(), w) {
			t.Fatalf("%s: %q does not say %q", what, status.Convert(err).Message(), w)
		}
	}
}

func execAs(ctx context.Context, a flumev1.AdminServiceClient, argv ...string) error {
	resp, err := a.Exec(ctx, &flumev1.ExecRequest{Argv: argv, Origin: "test"})
	if err == nil && resp.GetRecord().GetState() != flumev1.CommandState_COMMAND_STATE_SUCCEEDED {
		return status.Error(codes.FailedPrecondition, resp.GetRecord().GetMessage())
	}
	return err
}

// TestEveryAdminCallNeedsATokenOfTheRightRole asks the leader and a follower (which forwards)
// with no token, an unknown one, each role, and a revoked one: each call is refused or allowed
// as its role says, the refusal says why, and nothing refused changes the state.
func TestEveryAdminCallNeedsATokenOfTheRightRole(t *testing.T) {
	s := newSecureCluster(t, 3, tlsconf.VerifyClientCert)
	bootstrapped(t, s)
	read, operator, admin, nodeTok := s.token(0, flumev1.TokenRole_TOKEN_ROLE_READ), s.token(0, flumev1.TokenRole_TOKEN_ROLE_OPERATOR),
		s.token(0, flumev1.TokenRole_TOKEN_ROLE_ADMIN), s.token(0, flumev1.TokenRole_TOKEN_ROLE_NODE)
	for _, i := range []int{s.leader(), s.follower()} {
		ctx := ctx10(t)
		_, err := s.adminAs(i, "").GetConfigs(ctx, &flumev1.GetConfigsRequest{})
		wantCode(t, "no token", err, codes.Unauthenticated, "read configurations", "read role", "--token")
		_, err = s.adminAs(i, "WRONGWRONGWRONGWRONGWRONG").GetConfigs(ctx, &flumev1.GetConfigsRequest{})
		wantCode(t, "unknown token", err, codes.Unauthenticated, "not known")
		if _, err = s.adminAs(i, read).GetConfigs(ctx, &flumev1.GetConfigsRequest{}); err != nil {
			t.Fatalf("read token reading: %v", err)
		}
		err = execAs(ctx, s.adminAs(i, read), "config", "agentA", "null", "console")
		wantCode(t, "read token configuring", err, codes.PermissionDenied, "(read", "run config", "operator role")
		if err := execAs(ctx, s.adminAs(i, operator), "config", "agentA", "null", "console"); err != nil {
			t.Fatalf("operator configuring: %v", err)
		}
		for _, argv := range [][]string{{"purgeAll"}, {"unmapAll"}, {"removemaster", "2"}} {
			wantCode(t, "operator "+argv[0], execAs(ctx, s.adminAs(i, operator), argv...), codes.PermissionDenied, "admin role")
		}
		_, err = s.adminAs(i, operator).CreateToken(ctx, &flumev1.CreateTokenRequest{Role: flumev1.TokenRole_TOKEN_ROLE_ADMIN, Secret: rand.Text()})
		wantCode(t, "operator making an admin token", err, codes.PermissionDenied, "create tokens")
		wantCode(t, "node token on the admin service", execAs(ctx, s.adminAs(i, nodeTok), "noop"), codes.PermissionDenied, "(node")
		if err := execAs(ctx, s.adminAs(i, admin), "purgeAll"); err != nil {
			t.Fatalf("admin purging: %v", err)
		}
	}
	// Nothing refused changed the state: only the operator's config and the admin's purges
	// are in the history after the tokens were made.
	resp, err := s.adminAs(0, read).GetCommands(ctx10(t), &flumev1.GetCommandsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, r := range resp.GetRecords() {
		if r.GetArgv()[0] != "acl" && r.GetArgv()[0] != "setnodehost" {
			seen = append(seen, r.GetArgv()[0]+" by "+r.GetOrigin())
		}
	}
	want := "config by test as token:" + accessorOf(operator)
	if len(seen) != 4 || seen[0] != want || !strings.HasPrefix(seen[1], "purgeAll by test as token:"+accessorOf(admin)) {
		t.Fatalf("history %q: want the two configs and two purges, with who ran them", seen)
	}
	// A revoked token is refused at once, on every master.
	var acc string
	if r, err := s.adminAs(0, admin).ListTokens(ctx10(t), &flumev1.ListTokensRequest{}); err == nil {
		for _, tok := range r.GetTokens() {
			if tok.GetRole() == flumev1.TokenRole_TOKEN_ROLE_OPERATOR {
				acc = tok.GetAccessor()
			}
			if len(tok.GetSecretHash()) != 0 {
				t.Fatal("ListTokens shows the hash of a secret")
			}
		}
	}
	if _, err := s.adminAs(0, admin).RevokeToken(ctx10(t), &flumev1.RevokeTokenRequest{Accessor: acc}); err != nil {
		t.Fatal(err)
	}
	for i := range s.masters {
		plugintest.Eventually(t, 10*time.Second, func() bool {
			return status.Code(execAs(ctx10(t), s.adminAs(i, operator), "noop")) == codes.Unauthenticated
		}, func() string { return "the revoked token still works on master " + s.peers[i].ID })
	}
}

func accessorOf(secret string) string { return state.Accessor(secret) }

// bootstrapped waits until every master of s has applied the bootstrap token.
func bootstrapped(t *testing.T, s *secure) {
	t.Helper()
	s.leader()
	plugintest.Eventually(t, 10*time.Second, func() bool {
		for _, m := range s.masters {
			var at int64
			m.fsm.read(func(st *state.State) { at = st.ACLBootstrapped() })
			if at == 0 {
				return false
			}
		}
		return true
	}, func() string { return "the bootstrap token was not created" })
}

// TestBootstrapHappensOnceAndTheLastAdminStays: the bootstrap file's token is created once;
// BootstrapACL is refused afterwards; the last admin token cannot be revoked; a weak secret is
// refused.
func TestBootstrapHappensOnceAndTheLastAdminStays(t *testing.T) {
	s := newSecureCluster(t, 1, tlsconf.VerifyClientCert)
	bootstrapped(t, s)
	ctx := ctx10(t)
	_, err := s.adminAs(0, "").BootstrapACL(ctx, &flumev1.BootstrapACLRequest{Secret: rand.Text()})
	wantCode(t, "a second bootstrap", err, codes.FailedPrecondition, "bootstrapped already")
	_, err = s.adminAs(0, s.bootstrap).RevokeToken(ctx, &flumev1.RevokeTokenRequest{Accessor: accessorOf(s.bootstrap)})
	wantCode(t, "revoking the last admin", err, codes.FailedPrecondition, "last admin token")
	_, err = s.adminAs(0, s.bootstrap).CreateToken(ctx, &flumev1.CreateTokenRequest{Role: flumev1.TokenRole_TOKEN_ROLE_READ, Secret: "hunter2"})
	wantCode(t, "a weak secret", err, codes.InvalidArgument, "at least 20 characters")
	// A create retried with the same secret makes one token.
	secret := rand.Text()
	for range 2 {
		if _, err := s.adminAs(0, s.bootstrap).CreateToken(ctx, &flumev1.CreateTokenRequest{Role: flumev1.TokenRole_TOKEN_ROLE_READ, Secret: secret}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.adminAs(0, s.bootstrap).ListTokens(ctx, &flumev1.ListTokensRequest{})
	if err != nil || len(r.GetTokens()) != 2 {
		t.Fatalf("tokens after bootstrap and a retried create: %v, %v; want 2", r.GetTokens(), err)
	}
}

// TestANodeNameIsBoundToTheFirstIdentity: host1's certificate binds the name host1; host2's
// certificate cannot take it, even after host1 went silent; an admin unbinds it and then it
// can. A caller without a node identity gets no session at all.
func TestANodeNameIsBoundToTheFirstIdentity(t *testing.T) {
	s := newSecureCluster(t, 3, tlsconf.VerifyClientCert)
	bootstrapped(t, s)
	hello := func(i int, cert, token, name string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := s.nodeAs(i, cert, token).Session(ctx)
		if err != nil {
			return err
		}
		if err := st.Send(&flumev1.SessionRequest{Msg: &flumev1.SessionRequest_Hello{Hello: &flumev1.Hello{
			Physical: name, Host: "127.0.0.1", Instance: rand.Text()}}}); err != nil {
			return err
		}
		for {
			resp, err := st.Recv()
			if err != nil {
				return err
			}
			if nl := resp.GetNotLeader(); nl != nil {
				return status.Error(codes.Unavailable, "not leader")
			}
			if resp.GetAssignment() != nil {
				return nil
			}
		}
	}
	l := s.leader()
	if err := hello(l, "node-host1", "", "host1"); err != nil {
		t.Fatalf("host1's first session: %v", err)
	}
	wantCode(t, "host2 claiming host1", hello(l, "node-host2", "", "host1"), codes.PermissionDenied,
		"bound to cert:host1", "cert host2", "acl unbind host1")
	nodeTok := s.token(l, flumev1.TokenRole_TOKEN_ROLE_NODE)
	wantCode(t, "a node token claiming host1", hello(l, "node", nodeTok, "host1"), codes.PermissionDenied, "bound to cert:host1", "token ")
	// The node port verifies client certificates: an admin's certificate does not get in.
	wantCode(t, "a client certificate on the node port", hello(l, "client", "", "host9"), codes.Unavailable, "handshake")
	if _, err := s.adminAs(l, s.bootstrap).UnbindNode(ctx10(t), &flumev1.UnbindNodeRequest{Physical: "host1"}); err != nil {
		t.Fatal(err)
	}
	if err := hello(l, "node-host2", "", "host1"); err != nil {
		t.Fatalf("host2 after unbind: %v", err)
	}
	r, err := s.adminAs(l, s.bootstrap).ListNodeBindings(ctx10(t), &flumev1.ListNodeBindingsRequest{})
	if err != nil || len(r.GetBindings()) != 1 || r.GetBindings()[0].GetIdentity() != "cert:host2" {
		t.Fatalf("bindings %v, %v; want host1 bound to cert:host2", r.GetBindings(), err)
	}
}

// TestDataPlaneCallsActOnlyForTheCallersOwnNodes: with agentA mapped onto host1, host2 may
// not release, renumber or look up agentA's chunks, nor commit as collector host1, whether it
// asks the leader or a follower; host1 may. A node certificate that sends the headers a
// forwarding master uses is still taken for itself.
func TestDataPlaneCallsActOnlyForTheCallersOwnNodes(t *testing.T) {
	s := newSecureCluster(t, 3, tlsconf.VerifyClientCert)
	bootstrapped(t, s)
	l := s.leader()
	for _, h := range []string{"host1", "host2"} { // bind both names through the node service
		st, err := s.nodeAs(l, "node-"+h, "").Session(ctx10(t))
		if err != nil {
			t.Fatal(err)
		}
		_ = st.Send(&flumev1.SessionRequest{Msg: &flumev1.SessionRequest_Hello{Hello: &flumev1.Hello{Physical: h, Instance: h}}})
		if _, err := st.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	if err := execAs(ctx10(t), s.adminAs(l, s.bootstrap), "map", "host1", "agentA"); err != nil {
		t.Fatal(err)
	}
	release := &flumev1.ReleaseRequest{Release: &flumev1.ReleaseChunks{Agent: "agentA", Epoch: 1, Through: math.MaxUint64}}
	commit := &flumev1.CommitRequest{Commit: &flumev1.CommitChunks{Collector: "host1",
		Chunks: []*flumev1.ChunkCommit{{Agent: "agentA", Epoch: 1, Seq: 1}}}}
	for _, i := range []int{l, s.follower()} {
		ctx := ctx10(t)
		evil := s.nodeAs(i, "node-host2", "")
		_, err := evil.Release(ctx, release)
		wantCode(t, "host2 releasing agentA", err, codes.PermissionDenied, "agent agentA runs on physical node host1", "cert host2")
		_, err = evil.NewEpoch(ctx, &flumev1.NewEpochRequest{Agent: "agentA"})
		wantCode(t, "host2 renumbering agentA", err, codes.PermissionDenied, "agent agentA")
		_, err = evil.GetCommitted(ctx, &flumev1.GetCommittedRequest{Agent: "agentA", Epoch: 1, Seqs: []uint64{1}})
		wantCode(t, "host2 reading agentA's commits", err, codes.PermissionDenied, "agent agentA")
		_, err = evil.Commit(ctx, commit)
		wantCode(t, "host2 committing as collector host1", err, codes.PermissionDenied, "collector host1")
		// Forged forwarding headers from a node certificate change nothing.
		fctx := metadata.AppendToOutgoingContext(ctx, identityHeader, "cert:host1", identityRoleHeader, "4", forwardedKey, "1")
		_, err = evil.Release(fctx, release)
		if c := status.Code(err); c != codes.PermissionDenied && c != codes.Unavailable {
			t.Fatalf("host2 with forged forwarding headers: %v", err)
		}
		if _, err := s.nodeAs(i, "node-host1", "").GetCommitted(ctx, &flumev1.GetCommittedRequest{Agent: "agentA", Epoch: 1, Seqs: []uint64{1}}); err != nil {
			t.Fatalf("host1 reading its own agent's commits: %v", err)
		}
	}
	// Nothing was released: chunk 1 of agentA is not taken for committed.
	resp, err := s.nodeAs(l, "node-host1", "").GetCommitted(ctx10(t), &flumev1.GetCommittedRequest{Agent: "agentA", Epoch: 1, Seqs: []uint64{1}})
	if err != nil || len(resp.GetCommitted()) != 0 {
		t.Fatalf("agentA's chunk 1 after the refused release: committed %v, %v; want none", resp.GetCommitted(), err)
	}
	// A collector sink of a fan-out commits as "NAME/PLACE": that is host1's, not host2's.
	fan := &flumev1.CommitRequest{Commit: &flumev1.CommitChunks{Collector: "host1/sink.fanout1",
		Chunks: []*flumev1.ChunkCommit{{Agent: "agentA", Epoch: 1, Seq: 1}}}}
	_, err = s.nodeAs(l, "node-host2", "").Commit(ctx10(t), fan)
	wantCode(t, "host2 committing as a sink of collector host1", err, codes.PermissionDenied, "collector host1/sink.fanout1", "cert host2")
	if _, err := s.nodeAs(l, "node-host1", "").Commit(ctx10(t), fan); err != nil {
		t.Fatalf("host1 committing for a sink of its fan-out: %v", err)
	}
	if _, err := s.nodeAs(l, "node-host1", "").GetFileLengths(ctx10(t), &flumev1.GetFileLengthsRequest{Collector: "host1/sink.fanout1"}); err != nil {
		t.Fatalf("host1 reading the file lengths of a sink of its fan-out: %v", err)
	}
}

// TestAnonymousNodesAreRefusedWithAccessControl: with client certificates not asked for, a
// caller that presents neither a node certificate nor a node token gets nothing.
func TestAnonymousNodesAreRefusedWithAccessControl(t *testing.T) {
	s := newSecureCluster(t, 1, tlsconf.NoClientCert)
	bootstrapped(t, s)
	n := flumev1.NewNodeServiceClient(s.conn(s.peers[0].Node, "", ""))
	_, err := n.Release(ctx10(t), &flumev1.ReleaseRequest{Release: &flumev1.ReleaseChunks{Agent: "a", Epoch: 1, Through: 9}})
	wantCode(t, "anonymous release", err, codes.Unauthenticated, "needs a node identity")
	st, err := n.Session(ctx10(t))
	if err == nil {
		_ = st.Send(&flumev1.SessionRequest{Msg: &flumev1.SessionRequest_Hello{Hello: &flumev1.Hello{Physical: "fake", Instance: "x"}}})
		_, err = st.Recv()
	}
	wantCode(t, "anonymous session", err, codes.Unauthenticated, "node identity")
	var bound bool
	s.masters[0].fsm.read(func(st *state.State) { _, bound = st.Binding("fake") })
	if bound {
		t.Fatal("an anonymous session wrote a binding")
	}
}
