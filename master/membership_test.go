package master

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/master/command"
	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/node/plugin/plugintest"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
	"github.com/flumego/flume/raftstore"
)

// listenAdminRaft listens on an admin port and the raft port after it, as a master named by
// host:adminport uses them.
func listenAdminRaft(t *testing.T) (admin, raft net.Listener) {
	t.Helper()
	for range 50 {
		a := listen(t)
		r, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", a.Addr().(*net.TCPAddr).Port+1))
		if err == nil {
			return a, r
		}
		_ = a.Close()
	}
	t.Fatal("no two consecutive free ports")
	return nil, nil
}

func members(t *testing.T, cl flumev1.AdminServiceClient) []*flumev1.Member {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cl.GetMembers(ctx, &flumev1.GetMembersRequest{})
	if err != nil {
		t.Fatalf("members: %v", err)
	}
	return resp.GetMembers()
}

func voterIDs(ms []*flumev1.Member) []string {
	var ids []string
	for _, m := range ms {
		if m.GetVoter() {
			ids = append(ids, m.GetId()+"="+m.GetAdminAddress())
		}
	}
	slices.Sort(ids)
	return ids
}

// TestMastersJoinAndLeaveAtRunTime grows a running ensemble of three by a fourth master started
// with Join, loses the old leader, and takes it out: the joined master holds the whole state,
// votes, forwards, and is known by its admin address everywhere.
func TestMastersJoinAndLeaveAtRunTime(t *testing.T) {
	c := newCluster(t, 3)
	exec(t, c.admin(c.follower()), "config", "agentA", "null", "console")

	adminLis, raftLis := listenAdminRaft(t)
	joined := Peer{ID: "3", Admin: adminLis.Addr().String(), Raft: raftLis.Addr().String()}
	m, err := Open(Config{ID: "3", Peers: append(slices.Clone(c.peers), joined), DataDir: t.TempDir(), Join: true,
		RaftListener: raftLis, AdminListener: adminLis, Registry: builtin.Registry(),
		Raft: raftstore.Config{HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
			LeaderLeaseTimeout: 300 * time.Millisecond, CommitTimeout: 10 * time.Millisecond}})
	if err != nil {
		t.Fatalf("open joining master: %v", err)
	}
	c.peers = append(c.peers, joined)
	c.masters = append(c.masters, m)

	rec := exec(t, c.admin(c.follower()), "addmaster", "3", joined.Admin)
	if rec.GetArgv()[0] != "addmaster" {
		t.Fatalf("record %v", rec)
	}
	want := []string{}
	for _, p := range c.peers {
		want = append(want, p.ID+"="+p.Admin)
	}
	slices.Sort(want)
	for i := range c.masters {
		plugintest.Eventually(t, 10*time.Second, func() bool { return slices.Equal(voterIDs(members(t, c.admin(i))), want) },
			func() string {
				return fmt.Sprintf("master %d lists voters %v, want %v", i, voterIDs(members(t, c.admin(i))), want)
			})
	}
	plugintest.Eventually(t, 10*time.Second, func() bool {
		return string(stateBytes(t, m)) == string(stateBytes(t, c.masters[c.leader()]))
	}, func() string { return "the joined master's state differs from the leader's" })

	// Without the old leader, three of four masters are a majority; the joined one forwards.
	old := c.leader()
	c.stop(old)
	exec(t, c.admin(3), "config", "agentB", "null", "console")
	exec(t, c.admin(3), "removemaster", fmt.Sprint(old))
	want = slices.DeleteFunc(want, func(s string) bool { return s[:1] == fmt.Sprint(old) })
	plugintest.Eventually(t, 10*time.Second, func() bool { return slices.Equal(voterIDs(members(t, c.admin(3))), want) },
		func() string {
			return fmt.Sprintf("voters %v after removemaster, want %v", voterIDs(members(t, c.admin(3))), want)
		})
	// Two of the three left must now be enough.
	for i := range c.masters {
		if i != old && i != 3 {
			c.stop(i)
			break
		}
	}
	exec(t, c.admin(3), "config", "agentC", "null", "console")
}

func TestAddmasterArgumentsAreChecked(t *testing.T) {
	for _, argv := range [][]string{
		{"addmaster", "3"},
		{"addmaster", "3", "host:notaport"},
		{"addmaster", "3", ":35873"},
		{"removemaster"},
	} {
		if _, err := command.Parse(argv, builtin.Registry()); err == nil {
			t.Errorf("%v accepted", argv)
		} else if !strings.Contains(err.Error(), "usage: "+argv[0]) {
			t.Errorf("%v: error %q does not give the usage", argv, err)
		}
	}
	c, err := command.Parse([]string{"addmaster", "4", "10.0.0.5"}, builtin.Registry())
	if err != nil {
		t.Fatal(err)
	}
	if a := c.GetAddMaster().GetMaster(); a.GetAdmin() != "10.0.0.5:35873" || a.GetRaft() != "10.0.0.5:35874" || a.GetNode() != "10.0.0.5:35872" {
		t.Fatalf("addmaster 4 10.0.0.5 gives %v, want the default ports", a)
	}
}
