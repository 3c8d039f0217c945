package master

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/flumego/flume/master/state"
	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/node/plugin/plugintest"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
	"github.com/flumego/flume/raftstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cluster is n masters in this process, on loopback listeners.
type cluster struct {
	t       *testing.T
	peers   []Peer
	dirs    []string
	masters []*Master // nil while stopped
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func newCluster(t *testing.T, n int) *cluster {
	c := &cluster{t: t, masters: make([]*Master, n)}
	var raftLis, adminLis []net.Listener
	for i := range n {
		r, a := listen(t), listen(t)
		raftLis, adminLis = append(raftLis, r), append(adminLis, a)
		c.peers = append(c.peers, Peer{ID: fmt.Sprint(i), Raft: r.Addr().String(), Admin: a.Addr().String()})
		c.dirs = append(c.dirs, t.TempDir())
	}
	for i := range n {
		c.start(i, raftLis[i], adminLis[i])
	}
	t.Cleanup(func() {
		for i := range c.masters {
			c.stop(i)
		}
	})
	return c
}

func (c *cluster) start(i int, raftLis, adminLis net.Listener) {
	c.t.Helper()
	if raftLis == nil {
		raftLis = listenOn(c.t, c.peers[i].Raft)
		adminLis = listenOn(c.t, c.peers[i].Admin)
	}
	m, err := Open(Config{
		ID: c.peers[i].ID, Peers: c.peers, DataDir: c.dirs[i],
		RaftListener: raftLis, AdminListener: adminLis, Registry: builtin.Registry(),
		Raft: raftstore.Config{HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
			LeaderLeaseTimeout: 300 * time.Millisecond, CommitTimeout: 10 * time.Millisecond},
	})
	if err != nil {
		c.t.Fatalf("open master %d: %v", i, err)
	}
	c.masters[i] = m
}

func listenOn(t *testing.T, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	plugintest.Eventually(t, 5*time.Second, func() bool {
		var err error
		l, err = net.Listen("tcp", addr)
		return err == nil
	}, func() string { return "cannot listen again on " + addr })
	return l
}

func (c *cluster) stop(i int) {
	if c.masters[i] != nil {
		_ = c.masters[i].Close()
		c.masters[i] = nil
	}
}

// leader waits for a leader among the running masters and returns its index.
func (c *cluster) leader() int {
	c.t.Helper()
	idx := -1
	plugintest.Eventually(c.t, 5*time.Second, func() bool {
		for i, m := range c.masters {
			if m != nil && m.store.IsLeader() {
				idx = i
				return true
			}
		}
		return false
	}, func() string { return "no leader elected" })
	return idx
}

func (c *cluster) follower() int {
	l := c.leader()
	for i, m := range c.masters {
		if m != nil && i != l {
			return i
		}
	}
	c.t.Fatal("no follower running")
	return -1
}

// admin returns an AdminService client of master i.
func (c *cluster) admin(i int) flumev1.AdminServiceClient {
	c.t.Helper()
	conn, err := grpc.NewClient(c.peers[i].Admin, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = conn.Close() })
	return flumev1.NewAdminServiceClient(conn)
}

func exec(t *testing.T, cl flumev1.AdminServiceClient, argv ...string) *flumev1.CommandRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cl.Exec(ctx, &flumev1.ExecRequest{Argv: argv, Origin: "test"})
	if err != nil {
		t.Fatalf("exec %v: %v", argv, err)
	}
	if resp.GetRecord().GetState() != flumev1.CommandState_COMMAND_STATE_SUCCEEDED {
		t.Fatalf("exec %v: %v", argv, resp.GetRecord())
	}
	return resp.GetRecord()
}

func stateBytes(t *testing.T, m *Master) []byte {
	t.Helper()
	var b []byte
	var err error
	m.fsm.read(func(st *state.State) { b, err = st.Marshal() })
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnsembleForwardsCommandsAndSurvivesLeaderLoss(t *testing.T) {
	c := newCluster(t, 3)
	f := c.follower()
	admin := c.admin(f)
	exec(t, admin, "config", "agentA", `tail("/var/log/app.log")`, "console")
	exec(t, admin, "map", "host1", "agentA")
	exec(t, admin, "multiconfig", "col1 : autoCollectorSource | null ; agentB : null | autoE2EChain ;")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfgs, err := admin.GetConfigs(ctx, &flumev1.GetConfigsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs.GetSubmitted()) != 3 || cfgs.GetSubmitted()[0].GetConfig().GetSource() != `tail("/var/log/app.log")` {
		t.Fatalf("configs seen through a follower: %v", cfgs.GetSubmitted())
	}

	// A bad spec is refused with its place, and nothing changes.
	_, err = admin.Exec(ctx, &flumev1.ExecRequest{Argv: []string{"config", "agentA", "null", `consol`}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `sink:1:1: unknown sink "consol"; did you mean "console"?`) {
		t.Fatalf("bad spec: %v", err)
	}
	// Mapping a logical node that runs elsewhere fails, recorded in the history.
	resp, err := admin.Exec(ctx, &flumev1.ExecRequest{Argv: []string{"map", "host2", "agentA"}})
	if err != nil || resp.GetRecord().GetState() != flumev1.CommandState_COMMAND_STATE_FAILED {
		t.Fatalf("map elsewhere: %v, %v", resp, err)
	}

	old := c.leader()
	before := stateBytes(t, c.masters[old])
	c.stop(old)
	start := time.Now()
	nl := c.leader()
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("new leader after %v, want within 3 s", el)
	}
	survivor := c.admin(nl)
	exec(t, survivor, "map", "host9", "col1")
	hist, err := survivor.GetCommands(ctx, &flumev1.GetCommandsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range hist.GetRecords() {
		lines = append(lines, fmt.Sprintf("%d %s %v", r.GetId(), strings.Join(r.GetArgv(), " "), r.GetState()))
	}
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "1 config agentA") || !strings.HasPrefix(lines[4], "5 map host9 col1") {
		t.Fatalf("history after the leader's loss:\n%s", strings.Join(lines, "\n"))
	}

	// The old leader comes back from its data dir and catches up.
	c.start(old, nil, nil)
	plugintest.Eventually(t, 10*time.Second, func() bool {
		return bytes.Equal(stateBytes(t, c.masters[old]), stateBytes(t, c.masters[nl]))
	}, func() string { return "restarted master did not catch up" })
	if bytes.Equal(before, stateBytes(t, c.masters[old])) {
		t.Fatal("restarted master state did not move past what it had")
	}
}

func TestExecWithoutMajorityFailsClearlyAndChangesNothing(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	exec(t, c.admin(l), "config", "a", "null", "null")
	for i := range c.masters {
		if i != l {
			c.stop(i)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := c.masters[l].Exec(ctx, []string{"config", "b", "null", "null"}, "test")
	if err == nil {
		t.Fatal("a master without a majority accepted a command")
	}
	var cfgs []string
	c.masters[l].fsm.read(func(st *state.State) {
		for _, sc := range st.Configs() {
			cfgs = append(cfgs, sc.GetConfig().GetNode())
		}
	})
	if strings.Join(cfgs, ",") != "a" {
		t.Fatalf("configs after a refused command: %v", cfgs)
	}
}

// TestRetriedExecIsAppliedOnce: a client that lost the answer and retries with the same request
// id, through another master, gets the first outcome; nothing is applied twice.
func TestRetriedExecIsAppliedOnce(t *testing.T) {
	c := newCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := &flumev1.ExecRequest{Argv: []string{"config", "a", "null", "null"}, RequestId: "retry-me"}
	first, err := c.admin(c.follower()).Exec(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.admin(c.leader()).Exec(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.GetRecord().GetId() != first.GetRecord().GetId() {
		t.Fatalf("retry applied again: first id %d, retry id %d", first.GetRecord().GetId(), again.GetRecord().GetId())
	}
	var version uint64
	c.masters[c.leader()].fsm.read(func(st *state.State) { version = st.ConfigVersion() })
	if version != 1 {
		t.Fatalf("config version %d after one request retried, want 1", version)
	}
}

// TestForwardedRequestsAreNotForwardedAgain: a follower that receives a request another master
// forwarded answers Unavailable at once instead of passing it on.
func TestForwardedRequestsAreNotForwardedAgain(t *testing.T) {
	c := newCluster(t, 3)
	f := c.follower()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.admin(f).Exec(forwardContext(ctx), &flumev1.ExecRequest{Argv: []string{"noop"}})
	if status.Code(err) != codes.Unavailable || time.Since(start) > 2*time.Second {
		t.Fatalf("forwarded request to a follower: %v after %v; want Unavailable at once", err, time.Since(start))
	}
	if _, err := c.admin(f).GetConfigs(forwardContext(ctx), &flumev1.GetConfigsRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("forwarded read to a follower: %v; want Unavailable", err)
	}
	// Unmarked, the same follower forwards as usual.
	exec(t, c.admin(f), "noop")
}
