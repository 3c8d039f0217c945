package master

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/flumego/flume/master/client"
	"github.com/flumego/flume/node"
	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/node/flow"
	"github.com/flumego/flume/node/plugin/plugintest"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
	"github.com/flumego/flume/raftstore"
)

// testPeriod is the heartbeat period of the session tests; the LOST window is 5 of them.
const testPeriod = 50 * time.Millisecond

// endless is a flow that moves events until stopped, about 50 batches a second.
const endless = `{ delay(20) => null }`

// newSessionCluster starts n masters that serve node sessions.
func newSessionCluster(t *testing.T, n int) *cluster {
	return newSessionClusterWith(t, n, nil)
}

// newSessionClusterWith starts n masters that serve node sessions, each configured by mod
// (may be nil) before it opens.
func newSessionClusterWith(t *testing.T, n int, mod func(cfg *Config)) *cluster {
	c := &cluster{t: t, masters: make([]*Master, n)}
	var raftLis, adminLis, nodeLis = listeners(t, n), listeners(t, n), listeners(t, n)
	for i := range n {
		c.peers = append(c.peers, Peer{ID: fmt.Sprint(i), Raft: raftLis[i].Addr().String(),
			Admin: adminLis[i].Addr().String(), Node: nodeLis[i].Addr().String()})
		c.dirs = append(c.dirs, t.TempDir())
	}
	for i := range n {
		cfg := Config{
			ID: c.peers[i].ID, Peers: c.peers, DataDir: c.dirs[i],
			RaftListener: raftLis[i], AdminListener: adminLis[i], NodeListener: nodeLis[i],
			Registry: builtin.Registry(), HeartbeatPeriod: testPeriod, HeartbeatMissedMax: 5,
			Raft: raftstore.Config{HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
				LeaderLeaseTimeout: 300 * time.Millisecond, CommitTimeout: 10 * time.Millisecond},
		}
		if mod != nil {
			mod(&cfg)
		}
		m, err := Open(cfg)
		if err != nil {
			t.Fatalf("open master %d: %v", i, err)
		}
		c.masters[i] = m
	}
	t.Cleanup(func() {
		for i := range c.masters {
			c.stop(i)
		}
	})
	return c
}

func listeners(t *testing.T, n int) []net.Listener {
	out := make([]net.Listener, n)
	for i := range out {
		out[i] = listen(t)
	}
	return out
}

// runNode starts a physical node with a session to the given masters; it is stopped at the
// end of the test, or earlier by the returned function.
func runNode(t *testing.T, name string, masters ...string) (*node.Node, *node.Session, func()) {
	t.Helper()
	n := node.New(node.Config{Name: name, DataDir: t.TempDir(), Props: map[string]string{"flume.node.close.timeout": "2000"}},
		builtin.Registry())
	cl, err := client.New(client.Options{Addrs: masters})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	s := node.NewSession(n, node.SessionConfig{Client: cl, Host: name + ".example",
		HeartbeatPeriod: testPeriod, Backoff: 20 * time.Millisecond, BackoffCeiling: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = s.Run(ctx)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			stopCtx, c := context.WithTimeout(context.Background(), 5*time.Second)
			defer c()
			_ = n.Stop(stopCtx)
		})
	}
	t.Cleanup(stop)
	return n, s, stop
}

// statusOf returns the master's status of logical node name, nil when it has none.
func statusOf(t *testing.T, admin flumev1.AdminServiceClient, name string) *flumev1.NodeStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := admin.GetNodeStatuses(ctx, &flumev1.GetNodeStatusesRequest{})
	if err != nil {
		return nil // an election: the caller polls again
	}
	for _, st := range resp.GetStatuses() {
		if st.GetLogical() == name {
			return st
		}
	}
	return nil
}

func waitStatus(t *testing.T, admin flumev1.AdminServiceClient, name string, ok func(*flumev1.NodeStatus) bool) *flumev1.NodeStatus {
	t.Helper()
	var st *flumev1.NodeStatus
	plugintest.Eventually(t, 10*time.Second, func() bool {
		st = statusOf(t, admin, name)
		return st != nil && ok(st)
	}, func() string { return fmt.Sprintf("status of %s: %v", name, st) })
	return st
}

func isState(s flumev1.LogicalNodeState, v uint64) func(*flumev1.NodeStatus) bool {
	return func(st *flumev1.NodeStatus) bool { return st.GetState() == s && st.GetVersion() == v }
}

func events(n *node.Node, name string) int64 { return n.Statuses()[name].Events }

func TestNodeSessionRunsWhatTheMastersAssign(t *testing.T) {
	c := newSessionCluster(t, 3)
	f := c.follower()
	admin := c.admin(f)
	n, s, _ := runNode(t, "host1", c.peers[f].Node)

	// Sent from the follower to the leader, the node gets its own logical node, which idles.
	plugintest.Eventually(t, 10*time.Second, func() bool { return s.Leader() == c.peers[c.leader()].Node },
		func() string { return "node session with " + s.Leader() })
	st := waitStatus(t, admin, "host1", isState(flumev1.LogicalNodeState_LOGICAL_NODE_STATE_IDLE, 0))
	if st.GetPhysical() != "host1" || st.GetHost() != "host1.example" {
		t.Fatalf("status of the node's own logical node: %v", st)
	}

	rec := exec(t, admin, "config", "agentA", "asciisynth(0, 10)", endless)
	exec(t, admin, "map", "host1", "agentA")
	v1 := versionOf(t, admin, "agentA")
	waitStatus(t, admin, "agentA", isState(flumev1.LogicalNodeState_LOGICAL_NODE_STATE_ACTIVE, v1))
	plugintest.Eventually(t, 5*time.Second, func() bool { return events(n, "agentA") > 0 },
		func() string { return fmt.Sprintf("agentA moved no event (%v)", rec) })

	// A new version restarts the flow: its counter starts again.
	exec(t, admin, "config", "agentA", "asciisynth(0, 10)", "{ delay(30) => null }")
	v2 := versionOf(t, admin, "agentA")
	if v2 <= v1 {
		t.Fatalf("version %d after %d", v2, v1)
	}
	waitStatus(t, admin, "agentA", isState(flumev1.LogicalNodeState_LOGICAL_NODE_STATE_ACTIVE, v2))
	if vs := n.Versions(); vs["agentA"] != v2 {
		t.Fatalf("node versions %v, want agentA at %d", vs, v2)
	}

	// A spec that does not build on the node puts its logical node in ERROR, the others run.
	exec(t, admin, "config", "broken", "null", `text("/nonexistent/dir/x")`)
	exec(t, admin, "map", "host1", "broken")
	waitStatus(t, admin, "broken", func(st *flumev1.NodeStatus) bool {
		return st.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_ERROR && st.GetError() != ""
	})
	if got := n.Statuses()["agentA"].State; got != flow.StateActive {
		t.Fatalf("agentA is %v beside a broken logical node", got)
	}

	// Unmapped, the flow stops and the logical node disappears once the node stops reporting it.
	exec(t, admin, "unmap", "host1", "agentA")
	plugintest.Eventually(t, 10*time.Second, func() bool {
		_, running := n.Statuses()["agentA"]
		return !running && statusOf(t, admin, "agentA") == nil
	}, func() string { return fmt.Sprintf("agentA still runs: %v", n.Statuses()) })
}

func versionOf(t *testing.T, admin flumev1.AdminServiceClient, name string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := admin.GetConfigs(ctx, &flumev1.GetConfigsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range resp.GetTranslated() {
		if tc.GetNode() == name {
			return tc.GetVersion()
		}
	}
	t.Fatalf("no translated configuration of %s", name)
	return 0
}

func TestSecondProcessWithTheSameNameIsRefused(t *testing.T) {
	c := newSessionCluster(t, 1)
	l := c.leader()
	_, s, _ := runNode(t, "twin", c.peers[l].Node)
	plugintest.Eventually(t, 10*time.Second, func() bool { return s.Leader() != "" },
		func() string { return "first process has no session" })

	conn, err := grpc.NewClient(c.peers[l].Node, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := flumev1.NewNodeServiceClient(conn).Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hello := &flumev1.Hello{Physical: "twin", Host: "elsewhere", Instance: "another-process"}
	if err := stream.Send(&flumev1.SessionRequest{Msg: &flumev1.SessionRequest_Hello{Hello: hello}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	want := "physical node twin is already connected from host twin.example (another process with the same name?)"
	if resp.GetRefusal().GetReason() != want {
		t.Fatalf("second process got %v, want the refusal %q", resp, want)
	}
	// The first process keeps its session: it still reports, so it is not LOST.
	admin := c.admin(l)
	waitStatus(t, admin, "twin", func(st *flumev1.NodeStatus) bool {
		return st.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_IDLE && st.GetHost() == "twin.example" &&
			time.Since(time.Unix(0, st.GetLastSeen())) < 2*testPeriod
	})
	if s.Leader() != c.peers[l].Node {
		t.Fatalf("first process lost its session: %q", s.Leader())
	}
}

func TestSilentNodeIsLost(t *testing.T) {
	c := newSessionCluster(t, 1)
	l := c.leader()
	admin := c.admin(l)
	exec(t, admin, "config", "quiet", "asciisynth(0, 10)", endless)
	exec(t, admin, "map", "h2", "quiet")
	_, _, stop := runNode(t, "h2", c.peers[l].Node)
	waitStatus(t, admin, "quiet", func(st *flumev1.NodeStatus) bool {
		return st.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_ACTIVE
	})
	stop()
	start := time.Now()
	waitStatus(t, admin, "quiet", func(st *flumev1.NodeStatus) bool {
		return st.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_LOST
	})
	// The last heartbeat came at most one period before the stop, so LOST must not come
	// before four periods of the five-period window have passed.
	if el := time.Since(start); el < 4*testPeriod {
		t.Fatalf("LOST after %v, before the heartbeat window of %v", el, 5*testPeriod)
	}
}

// TestNodeThatNeverConnectsIsLost: a mapped logical node whose physical node never connects to
// the leader is listed, first HELLO, then LOST once the heartbeat window has passed.
func TestNodeThatNeverConnectsIsLost(t *testing.T) {
	c := newSessionCluster(t, 1)
	admin := c.admin(c.leader())
	exec(t, admin, "config", "ghost", "null", "null")
	exec(t, admin, "map", "nowhere", "ghost")
	waitStatus(t, admin, "ghost", func(st *flumev1.NodeStatus) bool {
		return st.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_LOST && st.GetPhysical() == "nowhere"
	})
}

func TestNodeFollowsTheLeaderAndRunsWithoutMasters(t *testing.T) {
	c := newSessionCluster(t, 3)
	admin := c.admin(c.follower())
	exec(t, admin, "config", "steady", "asciisynth(0, 10)", endless)
	exec(t, admin, "map", "h3", "steady")
	var addrs []string
	for _, p := range c.peers {
		addrs = append(addrs, p.Node)
	}
	n, s, _ := runNode(t, "h3", addrs...)
	old := c.leader()
	plugintest.Eventually(t, 10*time.Second, func() bool {
		return s.Leader() == c.peers[old].Node && n.Statuses()["steady"].State == flow.StateActive
	}, func() string { return "node not running steady with the leader: " + s.Leader() })

	// growing reports whether the flow keeps moving events while cond becomes true.
	last := events(n, "steady")
	growing := func(what string, cond func() bool) {
		t.Helper()
		plugintest.Eventually(t, 10*time.Second, func() bool {
			e := events(n, "steady")
			if e < last || n.Statuses()["steady"].State != flow.StateActive {
				t.Fatalf("%s: the flow stopped (events %d after %d, %v)", what, e, last, n.Statuses()["steady"])
			}
			grew := e > last
			last = e
			return grew && cond()
		}, func() string { return what })
	}

	c.stop(old)
	start := time.Now()
	growing("reconnect to the new leader", func() bool {
		l := s.Leader()
		return l != "" && l != c.peers[old].Node
	})
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("node reconnected after %v", el)
	}
	nl := c.leader()
	waitStatus(t, c.admin(nl), "steady", func(st *flumev1.NodeStatus) bool {
		return st.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_ACTIVE && st.GetPhysical() == "h3"
	})

	for i := range c.masters {
		c.stop(i)
	}
	growing("no session while every master is down", func() bool { return s.Leader() == "" })
	deadline := time.Now().Add(4 * testPeriod)
	growing("running without masters", func() bool { return time.Now().After(deadline) })
	if !strings.Contains(fmt.Sprint(n.Versions()), "steady") {
		t.Fatalf("node forgot its logical node: %v", n.Versions())
	}
}

// TestPurgeForgetsAStatus: a logical node unmapped while its physical node reported it, and
// then left behind when that node stopped, stays DECOMMISSIONED until purge forgets it.
func TestPurgeForgetsAStatus(t *testing.T) {
	c := newSessionCluster(t, 1)
	admin := c.admin(c.leader())
	exec(t, admin, "config", "old", "asciisynth(0, 10)", endless)
	exec(t, admin, "map", "h5", "old")
	_, _, stop := runNode(t, "h5", c.peers[c.leader()].Node)
	waitStatus(t, admin, "old", func(st *flumev1.NodeStatus) bool {
		return st.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_ACTIVE
	})
	stop() // the node goes away still reporting "old"
	exec(t, admin, "unmap", "h5", "old")
	waitStatus(t, admin, "old", func(st *flumev1.NodeStatus) bool {
		return st.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_DECOMMISSIONED
	})
	rec := exec(t, admin, "purge", "old")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := admin.GetNodeStatuses(ctx, &flumev1.GetNodeStatusesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range resp.GetStatuses() {
		if st.GetLogical() == "old" {
			t.Fatalf("status of old still listed after purge: %v", st)
		}
	}
	hist, err := admin.GetCommands(ctx, &flumev1.GetCommandsRequest{Id: rec.GetId()})
	if err != nil || strings.Join(hist.GetRecords()[0].GetArgv(), " ") != "purge old" {
		t.Fatalf("purge not in the history: %v, %v", hist, err)
	}
}

func TestNoopWaitsItsDelay(t *testing.T) {
	c := newSessionCluster(t, 1)
	start := time.Now()
	exec(t, c.admin(c.leader()), "noop", "200")
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("noop 200 returned after %v", el)
	}
}

// TestMastersShowTheMetricsNodesReport: a node's heartbeats carry its flows' counters, and the
// masters show them when asked.
func TestMastersShowTheMetricsNodesReport(t *testing.T) {
	c := newSessionCluster(t, 1)
	admin := c.admin(0)
	runNode(t, "host1", c.peers[0].Node)
	exec(t, admin, "config", "agentA", "asciisynth(0, 10)", `counter("seen")`)
	exec(t, admin, "map", "host1", "agentA")
	var got int64
	plugintest.Eventually(t, 10*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := admin.GetNodeStatuses(ctx, &flumev1.GetNodeStatusesRequest{Metrics: true})
		if err != nil {
			return false
		}
		for _, s := range resp.GetStatuses() {
			for _, m := range s.GetMetrics() {
				if s.GetLogical() == "agentA" && strings.HasSuffix(m.GetName(), "seen") {
					got = m.GetValue()
				}
			}
		}
		return got > 0
	}, func() string { return "the masters never showed agentA's counter" })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := admin.GetNodeStatuses(ctx, &flumev1.GetNodeStatusesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range resp.GetStatuses() {
		if len(s.GetMetrics()) > 0 {
			t.Fatalf("metrics of %s sent without being asked for", s.GetLogical())
		}
	}
}

// TestNodesLearnEveryMaster: a node configured with one master learns them all from its
// session, so it can fail over to masters it was not told about (masters added at run time).
func TestNodesLearnEveryMaster(t *testing.T) {
	c := newSessionCluster(t, 3)
	_, s, _ := runNode(t, "host1", c.peers[c.leader()].Node)
	var want []string
	for _, p := range c.peers {
		want = append(want, p.Node)
	}
	plugintest.Eventually(t, 10*time.Second, func() bool {
		got := s.Masters()
		return len(got) == 3 && slices.Contains(got, want[0]) && slices.Contains(got, want[1]) && slices.Contains(got, want[2])
	}, func() string { return fmt.Sprintf("the node knows masters %v, want %v", s.Masters(), want) })
}
