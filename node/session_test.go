package node

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/flumego/flume/master/client"
	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/node/flow"
	"github.com/flumego/flume/node/plugin/plugintest"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// fakeMaster serves NodeService with a scripted first answer; once it accepts a session it
// pushes what is sent on its push channel and keeps the last heartbeat.
type fakeMaster struct {
	flumev1.UnimplementedNodeServiceServer
	addr string
	push chan *flumev1.NodeAssignment

	mu       sync.Mutex
	first    func() *flumev1.SessionResponse // the answer to a Hello
	hellos   []*flumev1.Hello
	lastBeat *flumev1.Heartbeat
}

func startFake(t *testing.T, first func() *flumev1.SessionResponse) *fakeMaster {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeMaster{addr: lis.Addr().String(), push: make(chan *flumev1.NodeAssignment), first: first}
	srv := grpc.NewServer()
	flumev1.RegisterNodeServiceServer(srv, f)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return f
}

func (f *fakeMaster) Session(stream flumev1.NodeService_SessionServer) error {
	req, err := stream.Recv()
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.hellos = append(f.hellos, req.GetHello())
	first := f.first()
	f.mu.Unlock()
	if err := stream.Send(first); err != nil || first.GetAssignment() == nil {
		return err
	}
	go func() { // ends with the stream
		for {
			req, err := stream.Recv()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.lastBeat = req.GetHeartbeat()
			f.mu.Unlock()
		}
	}()
	for {
		select {
		case a := <-f.push:
			if err := stream.Send(&flumev1.SessionResponse{Msg: &flumev1.SessionResponse_Assignment{Assignment: a}}); err != nil {
				return err
			}
		case <-stream.Context().Done():
			return nil
		}
	}
}

func (f *fakeMaster) beat() *flumev1.Heartbeat {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastBeat
}

func (f *fakeMaster) helloCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.hellos)
}

func assignment(a *flumev1.NodeAssignment) func() *flumev1.SessionResponse {
	return func() *flumev1.SessionResponse {
		return &flumev1.SessionResponse{Msg: &flumev1.SessionResponse_Assignment{Assignment: a}}
	}
}

// runSession runs a session of a new node until the end of the test.
func runSession(t *testing.T, masters ...string) (*Node, *Session) {
	t.Helper()
	n := New(Config{Name: "phys", DataDir: t.TempDir(), Props: map[string]string{"flume.node.close.timeout": "2000"}},
		builtin.Registry())
	cl, err := client.New(client.Options{Addrs: masters})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	s := NewSession(n, SessionConfig{Client: cl, Host: "phys.example", HeartbeatPeriod: 20 * time.Millisecond,
		Backoff: 10 * time.Millisecond, BackoffCeiling: 40 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		stopCtx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = n.Stop(stopCtx)
	})
	return n, s
}

func tc(name string, v uint64, src, sink string) *flumev1.TranslatedConfig {
	return &flumev1.TranslatedConfig{Node: name, Version: v, Source: src, Sink: sink}
}

const endlessSink = `{ delay(10) => null }`

func TestSessionAppliesAssignmentsByVersion(t *testing.T) {
	first := &flumev1.NodeAssignment{Nodes: []*flumev1.TranslatedConfig{
		tc("phys", 0, "", ""), tc("a", 2, "asciisynth(0, 10)", endlessSink)}}
	m := startFake(t, assignment(first))
	n, s := runSession(t, m.addr)
	plugintest.Eventually(t, 5*time.Second, func() bool {
		st := n.Statuses()
		return st["a"].State == flow.StateActive && st["a"].Events > 0 && st["phys"].State == flow.StateIdle
	}, func() string { return "statuses " + strings.TrimSpace(strings.ReplaceAll(fmtStatuses(n), "\n", " ")) })
	if s.Leader() != m.addr {
		t.Fatalf("session with %q, want %q", s.Leader(), m.addr)
	}
	plugintest.Eventually(t, 5*time.Second, func() bool {
		hb := m.beat()
		for _, ls := range hb.GetStatuses() {
			if ls.GetNode() == "a" && ls.GetVersion() == 2 && ls.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_ACTIVE {
				return true
			}
		}
		return false
	}, func() string { return "heartbeat " + m.beat().String() })

	started := n.Statuses()["a"].Since
	steps := []struct {
		name      string
		a         *flumev1.NodeAssignment
		restarted bool
	}{
		{"equal version", &flumev1.NodeAssignment{Nodes: []*flumev1.TranslatedConfig{tc("phys", 0, "", ""), tc("a", 2, "null", "null")}}, false},
		{"older version", &flumev1.NodeAssignment{Nodes: []*flumev1.TranslatedConfig{tc("phys", 0, "", ""), tc("a", 1, "null", "null")}}, false},
		{"newer version", &flumev1.NodeAssignment{Nodes: []*flumev1.TranslatedConfig{tc("phys", 0, "", ""), tc("a", 3, "asciisynth(0, 10)", endlessSink)},
			Chokes: map[string]int64{"c1": 100}}, true},
	}
	for i, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			// The choke "mark" tells when the assignment has been applied: chokes come last.
			mark := int64(i + 1)
			if step.a.Chokes == nil {
				step.a.Chokes = map[string]int64{}
			}
			step.a.Chokes["mark"] = mark
			m.push <- step.a
			plugintest.Eventually(t, 5*time.Second, func() bool { return n.Chokes().Limit("mark") == mark },
				func() string { return "assignment not applied" })
			if got := n.Statuses()["a"].Since != started; got && !step.restarted {
				t.Fatalf("flow restarted by an assignment of version %d", step.a.Nodes[1].GetVersion())
			}
			if step.restarted {
				plugintest.Eventually(t, 5*time.Second, func() bool { return n.Statuses()["a"].State == flow.StateActive },
					func() string { return fmtStatuses(n) })
				if n.Versions()["a"] != 3 || n.Chokes().Limit("c1") != 100 {
					t.Fatalf("after the new version: versions %v, choke %d", n.Versions(), n.Chokes().Limit("c1"))
				}
			}
		})
	}

	// A spec that does not parse is an ERROR of its logical node alone; a logical node left
	// out is stopped; a choke left out is lifted.
	m.push <- &flumev1.NodeAssignment{Nodes: []*flumev1.TranslatedConfig{tc("b", 4, "asciisynth(0, 10", "null"),
		tc("a", 3, "asciisynth(0, 10)", endlessSink)}}
	plugintest.Eventually(t, 5*time.Second, func() bool {
		st := n.Statuses()
		_, phys := st["phys"]
		return !phys && st["b"].State == flow.StateError && st["b"].Err != nil && st["a"].State == flow.StateActive
	}, func() string { return fmtStatuses(n) })
	if n.Chokes().Limit("c1") != 0 {
		t.Fatal("choke c1 still limited after it left the assignment")
	}
}

func fmtStatuses(n *Node) string {
	var b strings.Builder
	for name, st := range n.Statuses() {
		b.WriteString(name + "=" + st.State.String() + " ")
	}
	return b.String()
}

func TestSessionFollowsNotLeaderAndRetriesRefusals(t *testing.T) {
	leader := startFake(t, assignment(&flumev1.NodeAssignment{Nodes: []*flumev1.TranslatedConfig{tc("phys", 0, "", "")}}))
	var refusals int
	leader.mu.Lock()
	leader.first = func() *flumev1.SessionResponse {
		if refusals < 2 {
			refusals++
			return &flumev1.SessionResponse{Msg: &flumev1.SessionResponse_Refusal{Refusal: &flumev1.Refusal{Reason: "already connected"}}}
		}
		return assignment(&flumev1.NodeAssignment{Nodes: []*flumev1.TranslatedConfig{tc("phys", 0, "", "")}})()
	}
	leader.mu.Unlock()
	follower := startFake(t, func() *flumev1.SessionResponse {
		return &flumev1.SessionResponse{Msg: &flumev1.SessionResponse_NotLeader{NotLeader: &flumev1.NotLeader{Leader: leader.addr}}}
	})
	_, s := runSession(t, follower.addr)
	plugintest.Eventually(t, 5*time.Second, func() bool { return s.Leader() == leader.addr },
		func() string { return "no session with the leader" })
	if got := leader.helloCount(); got != 3 {
		t.Fatalf("leader got %d hellos, want 2 refused and 1 accepted", got)
	}
	if follower.helloCount() < 3 {
		t.Fatalf("follower got %d hellos: every attempt should start from the listed masters", follower.helloCount())
	}
}
