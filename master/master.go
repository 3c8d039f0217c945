package master

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/flumego/flume/internal/refusal"
	"github.com/flumego/flume/internal/tlsconf"
	"github.com/flumego/flume/master/command"
	"github.com/flumego/flume/master/ensemble"
	"github.com/flumego/flume/master/state"
	"github.com/flumego/flume/node/plugin"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
	"github.com/flumego/flume/raftstore"
)

// Peer is one master of the ensemble, with the addresses of its services.
type Peer = ensemble.Peer

// Config configures one master.
type Config struct {
	// ID is this master's server id; it must be one of Peers.
	ID    string
	Peers []Peer
	// DataDir holds the raft log and snapshots.
	DataDir string
	// Join starts a master without state that waits to be added to a running ensemble
	// (addmaster) instead of bootstrapping one.
	Join bool
	// RaftListener and AdminListener, when set, are used instead of binding the peer's
	// addresses (tests use 127.0.0.1:0).
	RaftListener, AdminListener net.Listener
	// NodeListener, when set, serves node sessions instead of binding the peer's Node address.
	NodeListener net.Listener
	// HeartbeatPeriod is how often nodes report (flume.config.heartbeat.period, 1 s by default)
	// and HeartbeatMissedMax how many reports a node may miss before its logical nodes are LOST
	// (flume.config.heartbeat.missed.max, 5 by default).
	HeartbeatPeriod    time.Duration
	HeartbeatMissedMax int
	// Registry checks the specs of submitted configurations.
	Registry *plugin.Registry
	// Raft tunes the raft timings; zero values take raftstore's defaults.
	Raft raftstore.Config
	// Logger receives the master's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock commands are stamped with; time.Now by default.
	Now func() time.Time

	// TLS, when set, secures every listener and every connection to another master: the
	// admin and node services ask clients for a certificate as ClientAuth says, the raft port
	// always does and takes only master certificates. Nil: plaintext.
	TLS        *tlsconf.Provider
	ClientAuth tlsconf.ClientAuth
	// ACL turns access control on (flume.acl.enabled): tokens for admins, node identities
	// for nodes. See auth.go.
	ACL bool
	// BootstrapSecret is the secret of the first admin token (flume.acl.bootstrap.token.file),
	// created once by whichever master leads first.
	BootstrapSecret string
}

// Master is one running master.
type Master struct {
	cfg   Config
	log   *slog.Logger
	self  Peer
	fsm   *fsm
	store *raftstore.Store
	admin *grpc.Server
	lis   net.Listener
	nodes *grpc.Server // nil when this master serves no node sessions
	nlis  net.Listener
	sess  *sessions
	// refused logs refused calls and handshakes once per peer and kind.
	refused *refusal.Log
	// peerCreds secure the connections to other masters.
	peerCreds     credentials.TransportCredentials
	stopBootstrap context.CancelFunc
	bootstrapDone chan struct{}

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn // admin connections to peers, for forwarding
}

// Open starts a master: its raft member and its admin service.
func Open(cfg Config) (*Master, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HeartbeatPeriod <= 0 {
		cfg.HeartbeatPeriod = time.Second
	}
	if cfg.HeartbeatMissedMax <= 0 {
		cfg.HeartbeatMissedMax = 5
	}
	if cfg.Registry == nil {
		return nil, errors.New("master: no component registry to check configurations with")
	}
	m := &Master{cfg: cfg, log: cfg.Logger.With("master", cfg.ID), fsm: newFSM(), conns: map[string]*grpc.ClientConn{}}
	m.refused = refusal.New(m.log, 0)
	m.peerCreds = insecure.NewCredentials()
	if cfg.TLS != nil {
		m.peerCreds = cfg.TLS.ClientCredentials(tlsconf.MasterName)
	}
	var servers []raftstore.Server
	for _, p := range cfg.Peers {
		servers = append(servers, raftstore.Server{ID: p.ID, Addr: p.Raft})
		if p.ID == cfg.ID {
			m.self = p
		}
	}
	if m.self.ID == "" {
		return nil, fmt.Errorf("master: server id %q is not one of the %d masters listed", cfg.ID, len(cfg.Peers))
	}
	rc := cfg.Raft
	rc.ID, rc.Servers, rc.DataDir, rc.Listener, rc.Logger = cfg.ID, servers, cfg.DataDir, cfg.RaftListener, m.log
	rc.Join = cfg.Join
	if cfg.TLS != nil {
		rc.TLS = cfg.TLS.ServerConfig(tlsconf.VerifyClientCert, tlsconf.MasterName)
		rc.ClientTLS = cfg.TLS.ClientConfig(tlsconf.MasterName)
	}
	store, err := raftstore.Open(rc, m.fsm)
	if err != nil {
		return nil, fmt.Errorf("master %s: %w", cfg.ID, err)
	}
	m.store = store
	m.lis = cfg.AdminListener
	if m.lis == nil {
		if m.lis, err = net.Listen("tcp", m.self.Admin); err != nil {
			_ = store.Close()
			return nil, fmt.Errorf("master %s: listen for admins on %s: %w", cfg.ID, m.self.Admin, err)
		}
	}
	if err := m.serveNodes(); err != nil {
		_ = m.lis.Close()
		_ = store.Close()
		return nil, err
	}
	m.admin = grpc.NewServer(append(m.serverOptions(), m.adminInterceptors()...)...)
	flumev1.RegisterAdminServiceServer(m.admin, &adminServer{m: m})
	go func() { _ = m.admin.Serve(m.lis) }()
	m.watchBootstrap()
	return m, nil
}

// serverOptions are the options of the admin and node services: TLS when configured, and
// the roles a client certificate must carry (roles), none for the admin service.
func (m *Master) serverOptions(roles ...string) []grpc.ServerOption {
	opts := []grpc.ServerOption{grpc.WaitForHandlers(true)}
	if m.cfg.TLS != nil {
		opts = append(opts, grpc.Creds(m.cfg.TLS.ServerCredentials(m.cfg.ClientAuth, m.refused, roles...)))
	}
	return opts
}

// watchBootstrap creates the bootstrap admin token each time this master becomes leader, until
// the ensemble is bootstrapped.
func (m *Master) watchBootstrap() {
	ctx, cancel := context.WithCancel(context.Background())
	m.stopBootstrap, m.bootstrapDone = cancel, make(chan struct{})
	go func() {
		defer close(m.bootstrapDone)
		if !m.cfg.ACL || m.cfg.BootstrapSecret == "" {
			return
		}
		for ev := range m.store.WatchLeader(ctx) {
			if ev.Self {
				actx, cancel := context.WithTimeout(ctx, 10*time.Second)
				m.bootstrapFromFile(actx)
				cancel()
			}
		}
	}()
}

// serveNodes starts the node service, when this master has a node address or listener.
func (m *Master) serveNodes() error {
	m.sess = newSessions(m)
	m.nlis = m.cfg.NodeListener
	if m.nlis == nil {
		if m.self.Node == "" {
			return nil
		}
		var err error
		if m.nlis, err = net.Listen("tcp", m.self.Node); err != nil {
			return fmt.Errorf("master %s: listen for nodes on %s: %w", m.cfg.ID, m.self.Node, err)
		}
	}
	opts := m.serverOptions(tlsconf.NodeName, tlsconf.MasterName)
	m.nodes = grpc.NewServer(append(opts, m.nodeInterceptors()...)...)
	flumev1.RegisterNodeServiceServer(m.nodes, m.sess)
	m.sess.start()
	go func() { _ = m.nodes.Serve(m.nlis) }()
	return nil
}

// Close stops the master: its services, then its raft member.
func (m *Master) Close() error {
	m.stopBootstrap()
	<-m.bootstrapDone
	m.admin.Stop()
	if m.nodes != nil {
		m.nodes.Stop()
	}
	m.sess.close()
	m.mu.Lock()
	for _, c := range m.conns {
		_ = c.Close()
	}
	clear(m.conns)
	m.mu.Unlock()
	return m.store.Close()
}

// AdminAddr returns the address the admin service listens on.
func (m *Master) AdminAddr() string { return m.lis.Addr().String() }

// NodeAddr returns the address the node service listens on, empty when it serves none.
func (m *Master) NodeAddr() string {
	if m.nlis == nil {
		return ""
	}
	return m.nlis.Addr().String()
}

// Store returns the master's raft member.
func (m *Master) Store() *raftstore.Store { return m.store }

// Exec carries out a command line. The command is checked here, then applied through the
// leader: on a follower it is forwarded. During an election it is retried until ctx ends.
func (m *Master) Exec(ctx context.Context, argv []string, origin string) (*flumev1.CommandRecord, error) {
	return m.ExecRequest(ctx, &flumev1.ExecRequest{Argv: argv, Origin: origin})
}

// ExecRequest is Exec with the client's request id: a request retried with the same id after
// its answer was lost is not applied twice. An empty id gets a fresh one, kept across the
// retries Exec makes itself.
func (m *Master) ExecRequest(ctx context.Context, req *flumev1.ExecRequest) (*flumev1.CommandRecord, error) {
	argv := req.GetArgv()
	cmd, err := command.Parse(argv, m.cfg.Registry)
	if err != nil {
		return nil, err
	}
	cmd.Origin, cmd.RequestId = req.GetOrigin(), req.GetRequestId()
	if cmd.RequestId == "" {
		cmd.RequestId = command.NewRequestID()
	}
	if argv[0] == "noop" && len(argv) == 2 {
		// Classic noop waited delayMillis before completing (to test clients' waits).
		ms, _ := strconv.ParseInt(argv[1], 10, 64)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-ctx.Done():
			return nil, fmt.Errorf("noop: %w", ctx.Err())
		}
	}
	for {
		rec, err := m.execOnce(ctx, cmd)
		if err == nil || !retryable(err) || forwarded(ctx) { // the sender retries a forwarded request
			return rec, err
		}
		select {
		case <-ctx.Done():
			if errors.Is(err, errUnreachable) {
				return nil, fmt.Errorf("%s: the leader could not be reached in time: %w", argv[0], err)
			}
			return nil, fmt.Errorf("%s: no leader elected in time: %w", argv[0], err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// retryable reports errors that another try may not meet: no leader yet, a leader that just
// lost its leadership, a leader that cannot be reached.
func retryable(err error) bool {
	return errors.Is(err, raftstore.ErrNotLeader) || errors.Is(err, errUnreachable)
}

var errUnreachable = errors.New("leader unreachable")

func (m *Master) execOnce(ctx context.Context, cmd *flumev1.Command) (*flumev1.CommandRecord, error) {
	if m.store.IsLeader() {
		if id := cmd.GetRemoveMaster().GetId(); id != "" {
			// Out of the raft configuration first: the directory entry goes only once the
			// master no longer votes.
			if err := m.store.RemoveServer(ctx, id); err != nil {
				return nil, fmt.Errorf("remove master %s: %w", id, err)
			}
		}
		rec, err := m.apply(ctx, proto.CloneOf(cmd))
		if err != nil {
			return nil, err
		}
		if rec.GetState() == flumev1.CommandState_COMMAND_STATE_SUCCEEDED {
			switch argv := cmd.GetArgv(); argv[0] {
			case "purge":
				m.sess.purge(argv[1:2])
			case "purgeAll":
				var names []string
				m.fsm.read(func(st *state.State) { names = m.sess.listed(st) })
				m.sess.purge(names)
			case "addmaster":
				// The directory knows the new master's addresses first, so whoever leads
				// once it votes can forward to it.
				a := cmd.GetAddMaster().GetMaster()
				if err := m.store.AddVoter(ctx, a.GetId(), a.GetRaft()); err != nil {
					return nil, fmt.Errorf("master %s recorded, but not added as a voter (run addmaster again): %w", a.GetId(), err)
				}
			}
		}
		return rec, nil
	}
	if forwarded(ctx) {
		// Forwarded once already: this master's idea of the leader is as stale as the sender's.
		// Send the request back rather than on, so two masters never pass it to and fro.
		return nil, &raftstore.NotLeaderError{}
	}
	conn, err := m.leaderConn()
	if err != nil {
		return nil, err
	}
	resp, err := flumev1.NewAdminServiceClient(conn).Exec(forwardContext(ctx), &flumev1.ExecRequest{Argv: cmd.GetArgv(),
		Origin: cmd.GetOrigin(), RequestId: cmd.GetRequestId()})
	if err != nil {
		return nil, fromStatus(err)
	}
	return resp.GetRecord(), nil
}

// leaderConn returns a connection to the leader's admin service.
func (m *Master) leaderConn() (*grpc.ClientConn, error) {
	id, _ := m.store.Leader()
	if id == "" {
		return nil, &raftstore.NotLeaderError{}
	}
	p, ok := m.peer(id)
	if !ok || p.Admin == "" {
		return nil, fmt.Errorf("leader %s has no admin address: %w", id, errUnreachable)
	}
	return m.conn(p.Admin)
}

// nodeAddrs returns the node service addresses of every master: the configured ones not
// removed, and the ones that joined. st is read under the state's lock.
func (m *Master) nodeAddrs(st *state.State) []string {
	joined, removed := st.Masters()
	var out []string
	seen := map[string]bool{}
	for _, p := range m.cfg.Peers {
		if !slices.Contains(removed, p.ID) && p.Node != "" && !seen[p.ID] {
			if i := slices.IndexFunc(joined, func(j *flumev1.MasterAddress) bool { return j.GetId() == p.ID }); i >= 0 {
				continue // joined again with new addresses: listed below
			}
			seen[p.ID] = true
			out = append(out, p.Node)
		}
	}
	for _, j := range joined {
		if j.GetNode() != "" {
			out = append(out, j.GetNode())
		}
	}
	return out
}

// peer returns the addresses of master id: from the configured list, or from the replicated
// directory of masters that joined at run time.
func (m *Master) peer(id string) (Peer, bool) {
	var found Peer
	var ok bool
	m.fsm.read(func(st *state.State) {
		joined, removed := st.Masters()
		for _, j := range joined {
			if j.GetId() == id {
				found, ok = Peer{ID: id, Raft: j.GetRaft(), Admin: j.GetAdmin(), Node: j.GetNode()}, true
				return
			}
		}
		if slices.Contains(removed, id) {
			return
		}
		for _, p := range m.cfg.Peers {
			if p.ID == id {
				found, ok = p, true
			}
		}
	})
	return found, ok
}

// forwardedKey marks, in gRPC metadata, a request a master forwarded to the one it believes is
// the leader. Such a request is never forwarded again.
const forwardedKey = "flume-forwarded"

func forwarded(ctx context.Context) bool {
	md, ok := metadata.FromIncomingContext(ctx)
	return ok && len(md.Get(forwardedKey)) > 0
}
