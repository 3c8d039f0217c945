package main

import (
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/master"
	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/raftstore"
)

// leaderWithSessions starts a one-member ensemble that serves node sessions, with a heartbeat
// window of 50 s, and returns its admin address once it leads.
func leaderWithSessions(t *testing.T) string {
	t.Helper()
	var lis [3]net.Listener
	for i := range lis {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lis[i] = l
	}
	m, err := master.Open(master.Config{
		ID: "0", Peers: []master.Peer{{ID: "0", Raft: lis[0].Addr().String(), Admin: lis[1].Addr().String(),
			Node: lis[2].Addr().String()}},
		DataDir: t.TempDir(), RaftListener: lis[0], AdminListener: lis[1], NodeListener: lis[2],
		Registry: builtin.Registry(), HeartbeatPeriod: 10 * time.Second, HeartbeatMissedMax: 5,
		Raft: raftstore.Config{HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
			LeaderLeaseTimeout: 150 * time.Millisecond, CommitTimeout: 10 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	plugintest.Eventually(t, 5*time.Second, m.Store().IsLeader, func() string { return "no leader" })
	return m.AdminAddr()
}

// TestStatusSaysWhatANewLeaderHasNotHeard: a logical node whose physical node has not reported
// to the master since it took the lead is shown as unknown since the leader change, by status
// and by the shell's getnodestatus, not as HELLO or "never" seen.
func TestStatusSaysWhatANewLeaderHasNotHeard(t *testing.T) {
	addr := leaderWithSessions(t)
	if code, _, errOut := shellRun(t, "", "--master", addr, "map", "host1", "agentA"); code != 0 {
		t.Fatalf("map: exit %d: %s", code, errOut)
	}
	code, out, errOut := shellRun(t, "", "--master", addr, "status")
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, errOut)
	}
	if !regexp.MustCompile(`(?m)^agentA\s+host1\s+UNKNOWN\s+0\s+unknown since leader change\s*$`).MatchString(out) {
		t.Fatalf("status does not show agentA as unknown since the leader change:\n%s", out)
	}
	code, out, errOut = shellRun(t, "", "shell", "-c", addr, "-e", "getnodestatus")
	if code != 0 {
		t.Fatalf("getnodestatus: exit %d: %s", code, errOut)
	}
	want := "agentA --> UNKNOWN version 0 on host1 (), last seen unknown since leader change"
	if !strings.Contains(out, want) || strings.Contains(out, "never") || strings.Contains(out, "HELLO") {
		t.Fatalf("getnodestatus lacks %q:\n%s", want, out)
	}
}
