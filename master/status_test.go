package master

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/flow"
	"github.com/flumego/flume/node/plugin/plugintest"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// allStatuses returns the master's whole status table, nil while no leader answers.
func allStatuses(t *testing.T, admin flumev1.AdminServiceClient) []*flumev1.NodeStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := admin.GetNodeStatuses(ctx, &flumev1.GetNodeStatusesRequest{})
	if err != nil {
		return nil
	}
	return resp.GetStatuses()
}

func listedNames(sts []*flumev1.NodeStatus) []string {
	var out []string
	for _, st := range sts {
		out = append(out, st.GetLogical()+"="+strings.TrimPrefix(st.GetState().String(), "LOGICAL_NODE_STATE_"))
	}
	return out
}

// TestUnmapAllKeepsEveryNodeRunningItsOwnLogicalNode: after unmapAll a physical node keeps the
// logical node named after it, mapped, listed and running (a collector keeps collecting), and
// stops only the logical nodes it was given.
func TestUnmapAllKeepsEveryNodeRunningItsOwnLogicalNode(t *testing.T) {
	c := newSessionCluster(t, 1)
	admin := c.admin(c.leader())
	n, _, _ := runNode(t, "host1", c.peers[0].Node)
	exec(t, admin, "config", "host1", "asciisynth(0, 10)", endless)
	exec(t, admin, "config", "agentA", "asciisynth(0, 10)", endless)
	exec(t, admin, "map", "host1", "agentA")
	active := func(st *flumev1.NodeStatus) bool {
		return st.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_ACTIVE
	}
	waitStatus(t, admin, "host1", active)
	waitStatus(t, admin, "agentA", active)

	rec := exec(t, admin, "unmapAll")
	if rec.GetMessage() != "1 mappings removed" {
		t.Fatalf("unmapAll: %v", rec)
	}
	plugintest.Eventually(t, 10*time.Second, func() bool {
		_, running := n.Statuses()["agentA"]
		return !running && statusOf(t, admin, "agentA") == nil
	}, func() string {
		return fmt.Sprintf("agentA still runs or is listed: %v", listedNames(allStatuses(t, admin)))
	})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	maps, err := admin.GetMappings(ctx, &flumev1.GetMappingsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(maps.GetMappings()) != 1 || maps.GetMappings()[0].GetPhysical() != "host1" || maps.GetMappings()[0].GetLogical() != "host1" {
		t.Fatalf("mappings after unmapAll: %v, want host1 on host1 only", maps.GetMappings())
	}
	// The node's own logical node keeps moving events, and the master keeps listing it.
	before := events(n, "host1")
	plugintest.Eventually(t, 5*time.Second, func() bool {
		st := statusOf(t, admin, "host1")
		return events(n, "host1") > before && n.Statuses()["host1"].State == flow.StateActive && st != nil && active(st)
	}, func() string {
		return fmt.Sprintf("host1 stopped after unmapAll: %v", listedNames(allStatuses(t, admin)))
	})
}

// TestPurgeForgetsALostNodeUntilItReportsAgain: a LOST logical node that is still mapped
// leaves the status table on purge, every LOST one on purgeAll, and they come back once
// their physical node reports again.
func TestPurgeForgetsALostNodeUntilItReportsAgain(t *testing.T) {
	c := newSessionCluster(t, 1)
	admin := c.admin(c.leader())
	exec(t, admin, "config", "lostA", "asciisynth(0, 10)", endless)
	exec(t, admin, "map", "h6", "lostA")
	_, _, stop := runNode(t, "h6", c.peers[0].Node)
	waitStatus(t, admin, "lostA", func(st *flumev1.NodeStatus) bool {
		return st.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_ACTIVE
	})
	stop()
	lost := func(st *flumev1.NodeStatus) bool {
		return st.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_LOST
	}
	waitStatus(t, admin, "lostA", lost)
	waitStatus(t, admin, "h6", lost)

	exec(t, admin, "purge", "lostA")
	if got := listedNames(allStatuses(t, admin)); !slices.Equal(got, []string{"h6=LOST"}) {
		t.Fatalf("statuses after purge lostA: %v, want h6=LOST alone", got)
	}
	exec(t, admin, "purgeAll")
	if got := listedNames(allStatuses(t, admin)); len(got) != 0 {
		t.Fatalf("statuses after purgeAll: %v, want none", got)
	}
	// Both are still mapped: the node's next report brings them back.
	runNode(t, "h6", c.peers[0].Node)
	waitStatus(t, admin, "lostA", func(st *flumev1.NodeStatus) bool {
		return st.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_ACTIVE
	})
	waitStatus(t, admin, "h6", func(st *flumev1.NodeStatus) bool {
		return st.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_IDLE
	})
}

// TestNewLeaderShowsUnknownUntilTheNodeReports: after a change of leader, the new leader shows
// a logical node it has not heard of yet as UNKNOWN, with no time last seen: never HELLO, never
// a state it was not told. A live node's state is back at its first heartbeat to the new
// leader; a node that went away meanwhile is LOST once the heartbeat window has passed.
func TestNewLeaderShowsUnknownUntilTheNodeReports(t *testing.T) {
	// A window of 5 s, so the new leader's first answers fall within it.
	c := newSessionClusterWith(t, 3, func(cfg *Config) { cfg.HeartbeatPeriod = time.Second })
	admin := c.admin(c.follower())
	exec(t, admin, "config", "steady", "asciisynth(0, 10)", endless)
	exec(t, admin, "map", "live", "steady")
	exec(t, admin, "config", "quiet", "asciisynth(0, 10)", endless)
	exec(t, admin, "map", "gone", "quiet")
	var addrs []string
	for _, p := range c.peers {
		addrs = append(addrs, p.Node)
	}
	runNode(t, "live", addrs...)
	_, _, stopGone := runNode(t, "gone", addrs...)
	active := func(st *flumev1.NodeStatus) bool {
		return st.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_ACTIVE && st.GetLastSeen() > 0
	}
	waitStatus(t, admin, "steady", active)
	waitStatus(t, admin, "quiet", active)
	stopGone()

	old := c.leader()
	c.stop(old)
	var others []flumev1.AdminServiceClient
	for i := range c.masters {
		if i != old {
			others = append(others, c.admin(i))
		}
	}
	// Every answer of the new leader (the old one is gone, so any answer is the new
	// leader's) shows steady as UNKNOWN, never seen, or as the node reported it, with the
	// time: never HELLO or LOST.
	var sts, first []*flumev1.NodeStatus
	plugintest.Eventually(t, 10*time.Second, func() bool {
		for _, a := range others {
			if sts = allStatuses(t, a); sts != nil {
				break
			}
		}
		if sts == nil {
			return false // an election
		}
		if first == nil {
			first = sts
		}
		for _, st := range sts {
			if st.GetLogical() != "steady" && st.GetLogical() != "live" {
				continue
			}
			s := st.GetState()
			unknown := s == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_UNKNOWN
			reported := !unknown && s != flumev1.LogicalNodeState_LOGICAL_NODE_STATE_HELLO &&
				s != flumev1.LogicalNodeState_LOGICAL_NODE_STATE_LOST
			if !(unknown && st.GetLastSeen() == 0) && !(reported && st.GetLastSeen() > 0) {
				t.Fatalf("the new leader shows %s as %v, last seen %d", st.GetLogical(), s, st.GetLastSeen())
			}
		}
		i := slices.IndexFunc(sts, func(st *flumev1.NodeStatus) bool { return st.GetLogical() == "steady" })
		return i >= 0 && active(sts[i])
	}, func() string { return fmt.Sprintf("the new leader shows %v", listedNames(sts)) })
	// The node that went away before the change has not reported to the new leader.
	for _, name := range []string{"quiet", "gone"} {
		i := slices.IndexFunc(first, func(st *flumev1.NodeStatus) bool { return st.GetLogical() == name })
		if i < 0 || first[i].GetState() != flumev1.LogicalNodeState_LOGICAL_NODE_STATE_UNKNOWN || first[i].GetLastSeen() != 0 {
			t.Fatalf("the new leader's first answer lists %v; want %s UNKNOWN, never seen", listedNames(first), name)
		}
	}

	waitStatus(t, others[0], "quiet", func(st *flumev1.NodeStatus) bool {
		return st.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_LOST
	})
}
