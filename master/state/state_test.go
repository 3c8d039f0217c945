package state

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

var clock int64

func cmd(argv string, op func(*flumev1.Command)) *flumev1.Command {
	clock += 1000
	c := &flumev1.Command{Time: clock, Origin: "test", Argv: strings.Fields(argv)}
	op(c)
	return c
}

func config(node, flow, src, snk string) *flumev1.Command {
	return cmd("config "+node, func(c *flumev1.Command) {
		c.Op = &flumev1.Command_SetConfigs{SetConfigs: &flumev1.SetConfigs{Configs: []*flumev1.NodeConfig{
			{Node: node, Flow: flow, Source: src, Sink: snk}}}}
	})
}

func commit(collector, agent string, epoch, seq uint64, file string, length int64) *flumev1.Command {
	return cmd("", func(c *flumev1.Command) {
		c.Op = &flumev1.Command_CommitChunks{CommitChunks: &flumev1.CommitChunks{Collector: collector,
			Chunks: []*flumev1.ChunkCommit{{Agent: agent, Epoch: epoch, Seq: seq,
				Files: []*flumev1.FileLength{{File: file, Length: length}}}}}}
	})
}

func mapNode(phys, logical string) *flumev1.Command {
	return cmd("map "+phys+" "+logical, func(c *flumev1.Command) {
		c.Op = &flumev1.Command_MapNode{MapNode: &flumev1.MapNode{Physical: phys, Logical: logical}}
	})
}

func unmap(phys, logical string) *flumev1.Command {
	return cmd("unmap "+phys+" "+logical, func(c *flumev1.Command) {
		c.Op = &flumev1.Command_UnmapNode{UnmapNode: &flumev1.UnmapNode{Physical: phys, Logical: logical}}
	})
}

func applyOK(t *testing.T, s *State, c *flumev1.Command) *flumev1.CommandRecord {
	t.Helper()
	rec := s.Apply(c)
	if rec.GetState() != flumev1.CommandState_COMMAND_STATE_SUCCEEDED {
		t.Fatalf("%v: %v %s", c.GetArgv(), rec.GetState(), rec.GetMessage())
	}
	return rec
}

func TestConfigVersionsGrowAndDefaultFlow(t *testing.T) {
	s := New()
	applyOK(t, s, config("agentA", "", `tail("/var/log/a")`, "console"))
	applyOK(t, s, config("agentB", "web", "null", "null"))
	applyOK(t, s, config("agentA", "", `tail("/var/log/a2")`, "console"))
	a, _ := s.Config("agentA")
	b, _ := s.Config("agentB")
	if a.GetVersion() != 3 || b.GetVersion() != 2 || s.ConfigVersion() != 3 {
		t.Fatalf("versions a=%d b=%d global=%d, want 3 2 3", a.GetVersion(), b.GetVersion(), s.ConfigVersion())
	}
	if a.GetConfig().GetFlow() != DefaultFlow || b.GetConfig().GetFlow() != "web" {
		t.Fatalf("flows %q %q", a.GetConfig().GetFlow(), b.GetConfig().GetFlow())
	}
	if a.GetConfig().GetSource() != `tail("/var/log/a2")` || a.GetTime() != clock {
		t.Fatalf("agentA = %v", a)
	}
}

func TestMultiConfigIsOneVersion(t *testing.T) {
	s := New()
	rec := applyOK(t, s, cmd("multiconfig", func(c *flumev1.Command) {
		c.Op = &flumev1.Command_SetConfigs{SetConfigs: &flumev1.SetConfigs{Configs: []*flumev1.NodeConfig{
			{Node: "a", Source: "null", Sink: "null"}, {Node: "b", Source: "null", Sink: "console"}}}}
	}))
	a, _ := s.Config("a")
	b, _ := s.Config("b")
	if a.GetVersion() != 1 || b.GetVersion() != 1 || rec.GetMessage() != "version 1" {
		t.Fatalf("versions %d %d, message %q", a.GetVersion(), b.GetVersion(), rec.GetMessage())
	}
}

func TestMappingRules(t *testing.T) {
	s := New()
	applyOK(t, s, mapNode("host1", "agentA"))
	if rec := s.Apply(mapNode("host1", "agentA")); rec.GetMessage() != "already mapped" {
		t.Fatalf("mapping twice to the same node: %v", rec)
	}
	rec := s.Apply(mapNode("host2", "agentA"))
	if rec.GetState() != flumev1.CommandState_COMMAND_STATE_FAILED ||
		rec.GetMessage() != "logical node agentA is mapped to physical node host1; unmap it first" {
		t.Fatalf("mapping elsewhere: %v", rec)
	}
	if p, _ := s.PhysicalOf("agentA"); p != "host1" {
		t.Fatalf("a failed map moved agentA to %s", p)
	}
	if rec := s.Apply(unmap("host2", "agentA")); rec.GetState() != flumev1.CommandState_COMMAND_STATE_FAILED {
		t.Fatalf("unmap from the wrong node succeeded: %v", rec)
	}
	applyOK(t, s, mapNode("host1", "agentB"))
	if got := s.LogicalOn("host1"); strings.Join(got, ",") != "agentA,agentB" {
		t.Fatalf("LogicalOn(host1) = %v", got)
	}
	applyOK(t, s, unmap("host1", "agentA"))
	applyOK(t, s, mapNode("host2", "agentA"))
	applyOK(t, s, cmd("unmapAll", func(c *flumev1.Command) {
		c.Op = &flumev1.Command_UnmapNode{UnmapNode: &flumev1.UnmapNode{All: true}}
	}))
	if len(s.Mappings()) != 0 {
		t.Fatalf("mappings after unmapAll: %v", s.Mappings())
	}
}

func TestUnknownLogicalNodesAreRefused(t *testing.T) {
	s := New()
	for _, c := range []*flumev1.Command{
		cmd("unconfig ghost", func(c *flumev1.Command) {
			c.Op = &flumev1.Command_Unconfig{Unconfig: &flumev1.Unconfig{Nodes: []string{"ghost"}}}
		}),
		cmd("decommission ghost", func(c *flumev1.Command) {
			c.Op = &flumev1.Command_Decommission{Decommission: &flumev1.Decommission{Nodes: []string{"ghost"}}}
		}),
		cmd("refresh ghost", func(c *flumev1.Command) {
			c.Op = &flumev1.Command_Refresh{Refresh: &flumev1.Refresh{Nodes: []string{"ghost"}}}
		}),
	} {
		rec := s.Apply(c)
		if rec.GetState() != flumev1.CommandState_COMMAND_STATE_FAILED || !strings.Contains(rec.GetMessage(), "ghost") {
			t.Fatalf("%v: %v", c.GetArgv(), rec)
		}
	}
	if s.ConfigVersion() != 0 {
		t.Fatalf("failed commands gave out version %d", s.ConfigVersion())
	}
}

func TestUnconfigRefreshDecommission(t *testing.T) {
	s := New()
	applyOK(t, s, config("a", "web", "tail(\"/x\")", "console"))
	applyOK(t, s, config("b", "", "null", "null"))
	applyOK(t, s, mapNode("h", "a"))
	applyOK(t, s, cmd("unconfig a", func(c *flumev1.Command) {
		c.Op = &flumev1.Command_Unconfig{Unconfig: &flumev1.Unconfig{Nodes: []string{"a"}}}
	}))
	a, _ := s.Config("a")
	if a.GetConfig().GetSource() != "null" || a.GetConfig().GetSink() != "null" || a.GetVersion() != 3 {
		t.Fatalf("after unconfig: %v", a)
	}
	applyOK(t, s, cmd("refreshAll", func(c *flumev1.Command) {
		c.Op = &flumev1.Command_Refresh{Refresh: &flumev1.Refresh{All: true}}
	}))
	a, _ = s.Config("a")
	b, _ := s.Config("b")
	if a.GetVersion() != 4 || b.GetVersion() != 4 {
		t.Fatalf("after refreshAll: %d %d", a.GetVersion(), b.GetVersion())
	}
	applyOK(t, s, cmd("decommission a", func(c *flumev1.Command) {
		c.Op = &flumev1.Command_Decommission{Decommission: &flumev1.Decommission{Nodes: []string{"a"}}}
	}))
	if _, ok := s.Config("a"); ok {
		t.Fatal("decommissioned node still configured")
	}
	if _, ok := s.PhysicalOf("a"); ok {
		t.Fatal("decommissioned node still mapped")
	}
}

func TestChokesAndHosts(t *testing.T) {
	s := New()
	set := func(phys, id string, kbps int64) *flumev1.CommandRecord {
		return s.Apply(cmd("setChokeLimit", func(c *flumev1.Command) {
			c.Op = &flumev1.Command_SetChokeLimit{SetChokeLimit: &flumev1.SetChokeLimit{Physical: phys, ChokeId: id, LimitKbps: kbps}}
		}))
	}
	set("h1", "web", 100)
	set("h1", "db", 50)
	set("h2", "web", 10)
	set("h1", "db", 0)
	if rec := set("h1", "web", -1); rec.GetState() != flumev1.CommandState_COMMAND_STATE_FAILED {
		t.Fatalf("negative limit accepted: %v", rec)
	}
	if got := s.Chokes("h1"); len(got) != 1 || got["web"] != 100 {
		t.Fatalf("Chokes(h1) = %v", got)
	}
	s.Apply(cmd("", func(c *flumev1.Command) {
		c.Op = &flumev1.Command_SetNodeHost{SetNodeHost: &flumev1.SetNodeHost{Physical: "h1", Host: "10.0.0.1"}}
	}))
	if h, _ := s.Host("h1"); h != "10.0.0.1" {
		t.Fatalf("Host(h1) = %q", h)
	}
}

func TestFailedCommandChangesOnlyTheHistory(t *testing.T) {
	s := New()
	applyOK(t, s, config("a", "", "null", "null"))
	applyOK(t, s, mapNode("h1", "a"))
	before := withoutHistory(t, s)
	rec := s.Apply(cmd("config dup", func(c *flumev1.Command) {
		c.Op = &flumev1.Command_SetConfigs{SetConfigs: &flumev1.SetConfigs{Configs: []*flumev1.NodeConfig{
			{Node: "x", Source: "null", Sink: "null"}, {Node: "x", Source: "null", Sink: "null"}}}}
	}))
	if rec.GetState() != flumev1.CommandState_COMMAND_STATE_FAILED {
		t.Fatalf("a command configuring a node twice succeeded: %v", rec)
	}
	if !bytes.Equal(before, withoutHistory(t, s)) {
		t.Fatal("a failed command changed the state")
	}
	if got, ok := s.Command(rec.GetId()); !ok || got.GetState() != flumev1.CommandState_COMMAND_STATE_FAILED {
		t.Fatalf("Command(%d) = %v, %v", rec.GetId(), got, ok)
	}
}

func withoutHistory(t *testing.T, s *State) []byte {
	t.Helper()
	m := s.ToProto()
	m.History, m.CommandId = nil, 0
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// randomLog returns n commands of every kind over a few names, some of which fail.
func randomLog(seed uint64, n int) []*flumev1.Command {
	r := rand.New(rand.NewPCG(seed, seed))
	name := func(prefix string) string { return fmt.Sprintf("%s%d", prefix, r.IntN(6)) }
	var log []*flumev1.Command
	for range n {
		switch r.IntN(13) {
		case 9:
			log = append(log, commit(name("c"), name("a"), uint64(r.IntN(2)), uint64(1+r.IntN(20)), name("f"), int64(r.IntN(1000))))
		case 10:
			log = append(log, cmd("", func(c *flumev1.Command) {
				c.Op = &flumev1.Command_NewEpoch{NewEpoch: &flumev1.NewEpoch{Agent: name("a")}}
			}))
		case 11:
			log = append(log, cmd("", func(c *flumev1.Command) {
				c.Op = &flumev1.Command_ReleaseChunks{ReleaseChunks: &flumev1.ReleaseChunks{
					Agent: name("a"), Epoch: uint64(r.IntN(2)), Through: uint64(r.IntN(20))}}
			}))
		case 12:
			if k := r.IntN(6); k >= 2 {
				log = append(log, aclOp(k, name))
			} else if r.IntN(2) == 0 {
				log = append(log, cmd("addmaster", func(c *flumev1.Command) {
					id := name("m")
					c.Op = &flumev1.Command_AddMaster{AddMaster: &flumev1.AddMaster{Master: &flumev1.MasterAddress{
						Id: id, Raft: id + ":2", Admin: id + ":1"}}}
				}))
			} else {
				log = append(log, cmd("", func(c *flumev1.Command) {
					c.Op = &flumev1.Command_FinishFiles{FinishFiles: &flumev1.FinishFiles{Collector: name("c"), Files: []string{name("f")}}}
				}))
			}
		case 0, 1:
			log = append(log, config(name("n"), []string{"", "web", "db"}[r.IntN(3)], "null", name("s")))
		case 2:
			log = append(log, mapNode(name("h"), name("n")))
		case 3:
			log = append(log, unmap(name("h"), name("n")))
		case 4:
			log = append(log, cmd("unconfig", func(c *flumev1.Command) {
				c.Op = &flumev1.Command_Unconfig{Unconfig: &flumev1.Unconfig{Nodes: []string{name("n")}}}
			}))
		case 5:
			log = append(log, cmd("refresh", func(c *flumev1.Command) {
				c.Op = &flumev1.Command_Refresh{Refresh: &flumev1.Refresh{All: r.IntN(2) == 0, Nodes: []string{name("n")}}}
			}))
		case 6:
			log = append(log, cmd("decommission", func(c *flumev1.Command) {
				c.Op = &flumev1.Command_Decommission{Decommission: &flumev1.Decommission{Nodes: []string{name("n")}}}
			}))
		case 7:
			log = append(log, cmd("setChokeLimit", func(c *flumev1.Command) {
				c.Op = &flumev1.Command_SetChokeLimit{SetChokeLimit: &flumev1.SetChokeLimit{
					Physical: name("h"), ChokeId: name("c"), LimitKbps: int64(r.IntN(3))}}
			}))
		default:
			log = append(log, cmd("host", func(c *flumev1.Command) {
				c.Op = &flumev1.Command_SetNodeHost{SetNodeHost: &flumev1.SetNodeHost{Physical: name("h"), Host: name("10.0.0.")}}
			}))
		}
	}
	return log
}

func marshal(t *testing.T, s *State) []byte {
	t.Helper()
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestApplyIsDeterministicAndSnapshotsRestoreExactly applies a random log to two states, with
// a snapshot and restore in the middle of one of them, and compares their encodings.
func TestApplyIsDeterministicAndSnapshotsRestoreExactly(t *testing.T) {
	for seed := range uint64(20) {
		log := randomLog(seed, 1500)
		a, b := New(), New()
		for i, c := range log {
			a.Apply(proto.CloneOf(c))
			b.Apply(proto.CloneOf(c))
			if i == len(log)/2 {
				restored, err := Unmarshal(marshal(t, b))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(marshal(t, restored), marshal(t, b)) {
					t.Fatalf("seed %d: restore differs from the snapshot", seed)
				}
				b = restored
			}
		}
		if !bytes.Equal(marshal(t, a), marshal(t, b)) {
			t.Fatalf("seed %d: states diverged after the same log", seed)
		}
		checkIndex(t, a)
		checkIndex(t, b)
		if len(a.History()) != MaxHistory {
			t.Fatalf("history holds %d records, want the last %d", len(a.History()), MaxHistory)
		}
		admin := 0 // commands kept in the history: all but the data-plane ones
		for _, c := range log {
			if _, data := dataOps[opName(c)]; !data {
				admin++
			}
		}
		if h := a.History(); h[len(h)-1].GetId() != uint64(admin) {
			t.Fatalf("last command id %d, want %d", h[len(h)-1].GetId(), admin)
		}
	}
}

func TestUnknownOperations(t *testing.T) {
	s := New()
	if rec := s.Apply(&flumev1.Command{Ignorable: true, Argv: []string{"future"}}); rec != nil {
		t.Fatalf("an ignorable unknown command was recorded: %v", rec)
	}
	defer func() {
		if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "does not know") {
			t.Fatalf("recover() = %v; want a panic for an unknown command that cannot be ignored", p)
		}
	}()
	s.Apply(&flumev1.Command{Argv: []string{"future"}})
}

func TestNewerSnapshotIsRefused(t *testing.T) {
	b, err := proto.Marshal(&flumev1.MasterState{Format: snapshotFormat + 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Unmarshal(b); !errors.Is(err, ErrSnapshotFormat) {
		t.Fatalf("Unmarshal of a newer format: %v", err)
	}
	if _, err := Unmarshal([]byte{0xff, 0xff}); err == nil {
		t.Fatal("garbage unmarshalled")
	}
}

func TestTranslatedVersionsFollowWhatNodesRun(t *testing.T) {
	s := New()
	applyOK(t, s, config("agent", "web", `tail("/x")`, "autoE2EChain"))
	applyOK(t, s, config("col", "web", "autoCollectorSource", "null"))
	tr, _ := s.Translated("agent")
	if tr.GetSink() != `fail("no collectors")` || tr.GetVersion() != 1 {
		t.Fatalf("before the collector is placed: %v", tr)
	}
	applyOK(t, s, mapNode("h1", "col")) // no host known yet: nothing changes for the agent
	if tr2, _ := s.Translated("agent"); tr2.GetVersion() != 1 {
		t.Fatalf("agent version moved to %d without a change in what it runs", tr2.GetVersion())
	}
	// The collector's own translation changed (why it cannot run yet), so it took a version.
	if col, _ := s.Translated("col"); col.GetVersion() != 3 || col.GetSource() != `fail("physical node h1 has not reported its host yet")` {
		t.Fatalf("collector after mapping: %v", col)
	}
	applyOK(t, s, cmd("host h1", func(c *flumev1.Command) {
		c.Op = &flumev1.Command_SetNodeHost{SetNodeHost: &flumev1.SetNodeHost{Physical: "h1", Host: "10.0.0.1"}}
	}))
	tr, _ = s.Translated("agent")
	col, _ := s.Translated("col")
	if tr.GetSink() != `agentE2EChain("10.0.0.1:35853")` || col.GetSource() != "collectorSource(35853)" {
		t.Fatalf("after the host is known: agent %v, collector %v", tr, col)
	}
	if tr.GetVersion() != 4 || col.GetVersion() != 4 || tr.GetSubmittedVersion() != 1 {
		t.Fatalf("versions: agent %d (submitted %d), collector %d; want one new shared version 4",
			tr.GetVersion(), tr.GetSubmittedVersion(), col.GetVersion())
	}
	applyOK(t, s, cmd("noop", func(c *flumev1.Command) { c.Op = &flumev1.Command_Noop{Noop: &flumev1.Noop{}} }))
	if tr2, _ := s.Translated("agent"); tr2.GetVersion() != 4 {
		t.Fatal("a noop changed a version")
	}
	applyOK(t, s, cmd("refresh agent", func(c *flumev1.Command) {
		c.Op = &flumev1.Command_Refresh{Refresh: &flumev1.Refresh{Nodes: []string{"agent"}}}
	}))
	if tr2, _ := s.Translated("agent"); tr2.GetVersion() != 5 {
		t.Fatalf("refresh left the agent at version %d", tr2.GetVersion())
	}
	applyOK(t, s, cmd("decommission col", func(c *flumev1.Command) {
		c.Op = &flumev1.Command_Decommission{Decommission: &flumev1.Decommission{Nodes: []string{"col"}}}
	}))
	if _, ok := s.Translated("col"); ok {
		t.Fatal("a decommissioned node keeps a translated configuration")
	}
	if tr2, _ := s.Translated("agent"); tr2.GetSink() != `fail("no collectors")` || tr2.GetVersion() != 6 {
		t.Fatalf("after the collector left: %v", tr2)
	}
}

func TestRetriedRequestIsNotAppliedTwice(t *testing.T) {
	s := New()
	c := config("a", "", "null", "null")
	c.RequestId = "req-1"
	first := applyOK(t, s, proto.CloneOf(c))
	again := s.Apply(proto.CloneOf(c))
	if again.GetId() != first.GetId() || s.ConfigVersion() != 1 || len(s.History()) != 1 {
		t.Fatalf("a retried request was applied again: first %v, again %v, version %d", first, again, s.ConfigVersion())
	}
	other := config("a", "", "null", "null")
	other.RequestId = "req-2"
	if rec := applyOK(t, s, other); rec.GetId() != 2 || s.ConfigVersion() != 2 {
		t.Fatalf("a new request was not applied: %v", rec)
	}
}

// checkIndex compares LogicalOn, which reads an index, with a scan of every mapping.
func checkIndex(t *testing.T, s *State) {
	t.Helper()
	scan := map[string][]string{}
	for _, m := range s.Mappings() {
		scan[m.GetPhysical()] = append(scan[m.GetPhysical()], m.GetLogical())
	}
	for i := range 6 {
		phys := fmt.Sprintf("h%d", i)
		got, want := s.LogicalOn(phys), scan[phys]
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("LogicalOn(%s) = %v, mappings say %v", phys, got, want)
		}
	}
}

// TestTranslatingWhatChangedEqualsTranslatingEverything applies random commands, collectors
// and automatic chains among them, to a state that translates only what each command touched
// and to one that translates everything every time: their encodings, translations and
// versions included, must stay equal.
func TestTranslatingWhatChangedEqualsTranslatingEverything(t *testing.T) {
	sources := []string{"autoCollectorSource", "logicalSource", `tail("/var/log/x")`, "null", "bad(("}
	sinks := []string{"autoE2EChain", "autoBEChain", `logicalSink("n1")`, "console", "[null, autoDFOChain]"}
	for seed := range uint64(5) {
		r := rand.New(rand.NewPCG(seed, 99))
		name := func(prefix string, n int) string { return fmt.Sprintf("%s%d", prefix, r.IntN(n)) }
		inc, full := New(), New()
		for i := range 500 {
			var c *flumev1.Command
			switch r.IntN(10) {
			case 0, 1, 2:
				c = config(name("n", 8), []string{"", "web"}[r.IntN(2)], sources[r.IntN(len(sources))], sinks[r.IntN(len(sinks))])
			case 3, 4:
				c = mapNode(name("h", 3), name("n", 8))
			case 5:
				c = unmap(name("h", 3), name("n", 8))
			case 6:
				c = cmd("host", func(c *flumev1.Command) {
					c.Op = &flumev1.Command_SetNodeHost{SetNodeHost: &flumev1.SetNodeHost{Physical: name("h", 3), Host: name("10.0.0.", 3)}}
				})
			case 7:
				c = cmd("refresh", func(c *flumev1.Command) {
					c.Op = &flumev1.Command_Refresh{Refresh: &flumev1.Refresh{All: r.IntN(3) == 0, Nodes: []string{name("n", 8)}}}
				})
			case 8:
				c = cmd("decommission", func(c *flumev1.Command) {
					c.Op = &flumev1.Command_Decommission{Decommission: &flumev1.Decommission{Nodes: []string{name("n", 8)}}}
				})
			default:
				c = cmd("unmapAll", func(c *flumev1.Command) {
					c.Op = &flumev1.Command_UnmapNode{UnmapNode: &flumev1.UnmapNode{All: r.IntN(4) == 0,
						Physical: name("h", 3), Logical: name("n", 8)}}
				})
			}
			inc.Apply(proto.CloneOf(c))
			full.dirtyAll = true
			full.Apply(proto.CloneOf(c))
			if !bytes.Equal(marshal(t, inc), marshal(t, full)) {
				t.Fatalf("seed %d, command %d %v: the states differ\nincremental: %v\nfull:        %v",
					seed, i, c.GetArgv(), inc.AllTranslated(), full.AllTranslated())
			}
		}
	}
}

// TestUnmapAllKeepsEachPhysicalNodesOwnLogicalNode: unmapAll removes every mapping but that of
// a logical node onto the physical node it is named after, which classic Flume mapped back at
// the node's next heartbeat; a logical node named after a physical node it is not mapped to
// is unmapped like any other.
func TestUnmapAllKeepsEachPhysicalNodesOwnLogicalNode(t *testing.T) {
	s := New()
	applyOK(t, s, config("h1", "", "collectorSource", "null"))
	for _, m := range [][2]string{{"h1", "h1"}, {"h1", "agentA"}, {"h2", "h2"}, {"h2", "h3"}, {"h3", "col1"}} {
		applyOK(t, s, mapNode(m[0], m[1]))
	}
	rec := applyOK(t, s, cmd("unmapAll", func(c *flumev1.Command) {
		c.Op = &flumev1.Command_UnmapNode{UnmapNode: &flumev1.UnmapNode{All: true}}
	}))
	if rec.GetMessage() != "3 mappings removed" {
		t.Fatalf("unmapAll: %q, want 3 mappings removed", rec.GetMessage())
	}
	var got []string
	for _, m := range s.Mappings() {
		got = append(got, m.GetPhysical()+"/"+m.GetLogical())
	}
	if want := []string{"h1/h1", "h2/h2"}; !slices.Equal(got, want) {
		t.Fatalf("mappings after unmapAll: %v, want %v", got, want)
	}
	checkIndex(t, s)
	// h1 still runs its own logical node, a collector, as configured.
	if tr, ok := s.Translated("h1"); !ok || !strings.Contains(tr.GetSource(), "collectorSource") {
		t.Fatalf("translation of h1 after unmapAll: %v", tr)
	}
}
