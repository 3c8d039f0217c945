package raftstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/flumego/flume/internal/testwait"
)

func TestThreeMembersElectLeaderAndFollowersRedirect(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.waitLeader(t, 5*time.Second)

	resp := apply(t, l, "a", "1")
	if idx, ok := resp.(uint64); !ok || idx == 0 {
		t.Fatalf("apply response = %#v, want the entry's index from the FSM", resp)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := l.store.Apply(ctx, []byte("fail"))
	if err != nil || !errors.Is(resp.(error), errRejected) {
		t.Fatalf("rejected command: resp=%v err=%v, want the FSM's error as the response", resp, err)
	}

	for _, f := range c.followers(l) {
		_, err := f.store.Apply(ctx, setCmd("b", "2"))
		var nle *NotLeaderError
		if !errors.As(err, &nle) || !errors.Is(err, ErrNotLeader) {
			t.Fatalf("apply on follower %s: err = %v, want *NotLeaderError", f.id, err)
		}
		if nle.LeaderID != l.id || nle.LeaderAddr != l.addr {
			t.Errorf("follower %s redirects to %q at %s, want %q at %s", f.id, nle.LeaderID, nle.LeaderAddr, l.id, l.addr)
		}
	}
	c.waitConverged(t, l.fsm.hash())
	for _, m := range c.members {
		if got := m.fsm.get("a"); got != "1" {
			t.Errorf("%s: a = %q, want 1", m.id, got)
		}
		if got := m.fsm.get("b"); got != "" {
			t.Errorf("%s: b = %q, a follower's write must not be applied", m.id, got)
		}
	}
}

func TestLeaderLossElectsNewLeaderWithin3sAndOldLeaderCatchesUp(t *testing.T) {
	c := newCluster(t, 3, nil)
	old := c.waitLeader(t, 5*time.Second)
	applyN(t, old, "k", 20)
	want := old.fsm.hash()

	c.stop(t, old)
	start := time.Now()
	nl := c.waitLeader(t, 3*time.Second)
	t.Logf("new leader %s elected %v after the old one stopped", nl.id, time.Since(start).Round(time.Millisecond))

	// The new leader's first consistent read waits for everything committed before.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := nl.store.ConsistentRead(ctx); err != nil {
		t.Fatalf("consistent read on the new leader: %v", err)
	}
	if got := nl.fsm.hash(); got != want {
		t.Fatalf("new leader after a consistent read is at %s, want %s (every entry applied before)", got, want)
	}
	c.waitConverged(t, want)

	applyN(t, nl, "n", 10)
	c.start(t, old)
	c.waitConverged(t, nl.fsm.hash())
	if n := old.fsm.len(); n != 30 {
		t.Errorf("restarted member has %d keys, want 30", n)
	}
}

func TestSingleMemberEnsembleWorksAndKeepsStateAcrossRestart(t *testing.T) {
	c := newCluster(t, 1, nil)
	m := c.waitLeader(t, 5*time.Second)
	applyN(t, m, "k", 5)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.store.ConsistentRead(ctx); err != nil {
		t.Fatalf("consistent read: %v", err)
	}
	want := m.fsm.hash()

	c.stop(t, m)
	c.start(t, m)
	c.waitLeader(t, 5*time.Second)
	if err := m.store.ConsistentRead(ctx); err != nil {
		t.Fatalf("consistent read after restart: %v", err)
	}
	if got := m.fsm.hash(); got != want {
		t.Fatalf("after restart state is %s, want %s", got, want)
	}
	if d := m.store.ConfigDrift(); d != nil {
		t.Errorf("drift after a plain restart: %v", d)
	}
}

func TestFiveMembersSurviveTwoDownAndRefuseWritesWithThreeDown(t *testing.T) {
	c := newCluster(t, 5, nil)
	l := c.waitLeader(t, 5*time.Second)
	fs := c.followers(l)
	c.stop(t, fs[0])
	c.stop(t, fs[1])
	apply(t, l, "with-two-down", "1")

	c.stop(t, fs[2])
	const bound = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	start := time.Now()
	_, err := l.store.Apply(ctx, setCmd("with-three-down", "1"))
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("apply with 3 of 5 members down succeeded")
	}
	if !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrLeadershipLost) {
		t.Errorf("apply with 3 of 5 down: %v, want a timeout, no leader or leadership lost", err)
	}
	if elapsed > bound+time.Second {
		t.Errorf("apply took %v, want it bounded by the %v deadline", elapsed, bound)
	}
	// The two survivors cannot elect anyone.
	testwait.UntilNil(t, 3*time.Second, "the survivors know no leader", func() error {
		for _, m := range c.running() {
			if id, _ := m.store.Leader(); id != "" {
				return fmt.Errorf("%s still sees leader %s", m.id, id)
			}
		}
		return nil
	})
}

func TestAddVoterAndRemoveServerAtRunTime(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.waitLeader(t, 5*time.Second)
	applyN(t, l, "k", 5)

	j := c.newJoiner(t, "m3", nil)
	c.start(t, j)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.followers(l)[0].store.AddVoter(ctx, j.id, j.addr); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("AddVoter on a follower: %v, want ErrNotLeader", err)
	}
	if err := l.store.AddVoter(ctx, j.id, j.addr); err != nil {
		t.Fatalf("AddVoter: %v", err)
	}
	c.waitConverged(t, l.fsm.hash())

	ms, err := l.store.Members()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms.Members) != 4 {
		t.Fatalf("members after AddVoter: %+v, want 4", ms.Members)
	}
	for _, m := range ms.Members {
		if m.Suffrage != Voter {
			t.Errorf("member %s is a %s, want voter", m.ID, m.Suffrage)
		}
		if m.Leader != (m.ID == l.id) {
			t.Errorf("member %s Leader = %v", m.ID, m.Leader)
		}
		if m.ID == j.id && m.Addr != j.addr {
			t.Errorf("joined member address %s, want %s", m.Addr, j.addr)
		}
	}
	if ms.LeaderID != l.id || ms.Term == 0 || ms.LastIndex == 0 || ms.CommitIndex == 0 || ms.AppliedIndex == 0 {
		t.Errorf("membership progress %+v: want leader %s and non-zero term and indexes", ms, l.id)
	}
	jm, err := j.store.Members()
	if err != nil || len(jm.Members) != 4 || jm.LeaderID != l.id {
		t.Errorf("joined member sees %+v, %v; want 4 members led by %s", jm, err, l.id)
	}

	if err := l.store.RemoveServer(ctx, j.id); err != nil {
		t.Fatalf("RemoveServer: %v", err)
	}
	ms, err = l.store.Members()
	if err != nil || len(ms.Members) != 3 {
		t.Fatalf("members after RemoveServer: %+v, %v; want 3", ms.Members, err)
	}
	for _, m := range ms.Members {
		if m.ID == j.id {
			t.Fatalf("removed member %s still listed", j.id)
		}
	}
	// The ensemble keeps working; the removed member no longer receives entries.
	apply(t, l, "after-remove", "1")
	c.stop(t, j)
	c.waitConverged(t, l.fsm.hash())
}

func TestSnapshotCompactsLogAndRestoresMembers(t *testing.T) {
	few := func(c *Config) {
		c.TrailingLogs = 4
		c.SnapshotThreshold = 1 << 20 // only forced snapshots
		c.SnapshotInterval = time.Hour
	}
	c := newCluster(t, 3, func(_ int, c *Config) { few(c) })
	l := c.waitLeader(t, 5*time.Second)
	applyN(t, l, "k", 40)
	want := l.fsm.hash()
	c.waitConverged(t, want)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, m := range c.running() {
		if err := m.store.Snapshot(ctx); err != nil {
			t.Fatalf("snapshot %s: %v", m.id, err)
		}
	}
	first, err := l.store.bolt.FirstIndex()
	if err != nil || first < 30 {
		t.Fatalf("leader log starts at %d (%v), want it compacted past 30", first, err)
	}

	// A new member can only be caught up from the snapshot.
	j := c.newJoiner(t, "m3", few)
	c.start(t, j)
	if err := j.store.Snapshot(ctx); !errors.Is(err, ErrNothingToSnapshot) {
		t.Errorf("snapshot of an empty member: %v, want ErrNothingToSnapshot", err)
	}
	if err := l.store.AddVoter(ctx, j.id, j.addr); err != nil {
		t.Fatalf("AddVoter: %v", err)
	}
	c.waitConverged(t, want)
	if j.fsm.restores.Load() == 0 {
		t.Error("joined member reached the state without restoring a snapshot")
	}

	// A restarted member restores its own snapshot, then catches up.
	f := c.followers(l)[0]
	c.stop(t, f)
	apply(t, l, "while-down", "1")
	c.start(t, f)
	if f.fsm.restores.Load() == 0 {
		t.Error("restarted member did not restore its snapshot")
	}
	c.waitConverged(t, l.fsm.hash())
}

func TestConsistentReadOnlyOnAHealthyLeader(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.waitLeader(t, 5*time.Second)
	apply(t, l, "a", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	for _, f := range c.followers(l) {
		var nle *NotLeaderError
		if err := f.store.ConsistentRead(ctx); !errors.As(err, &nle) || nle.LeaderID != l.id {
			t.Fatalf("consistent read on follower %s: %v, want NotLeaderError naming %s", f.id, err, l.id)
		}
	}
	if err := l.store.ConsistentRead(ctx); err != nil {
		t.Fatalf("consistent read on the healthy leader: %v", err)
	}
	if got := l.fsm.get("a"); got != "1" {
		t.Fatalf("leader a = %q after a consistent read", got)
	}
	if l.store.barrierTerm.Load() != l.store.raft.CurrentTerm() {
		t.Error("no barrier recorded for the current term")
	}

	for _, f := range c.followers(l) {
		c.stop(t, f)
	}
	// A heartbeat answered just before the followers stopped may still confirm one read;
	// within the leader lease every read must fail, each within its deadline.
	const bound = time.Second
	var err error
	testwait.UntilNil(t, 2*time.Second, "consistent reads refused on the cut-off leader", func() error {
		rctx, rcancel := context.WithTimeout(context.Background(), bound)
		defer rcancel()
		start := time.Now()
		err = l.store.ConsistentRead(rctx)
		if elapsed := time.Since(start); elapsed > bound+time.Second {
			t.Fatalf("consistent read took %v, want it bounded by %v", elapsed, bound)
		}
		if err == nil {
			return errors.New("consistent read succeeded")
		}
		return nil
	})
	if !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrLeadershipLost) {
		t.Errorf("consistent read cut off: %v", err)
	}
	holds(t, 500*time.Millisecond, "reads stay refused", func() error {
		if err := l.store.ConsistentRead(ctx); err == nil {
			return errors.New("a later consistent read succeeded")
		}
		return nil
	})
}

// nextEvent reads one event or fails after timeout.
func nextEvent(t *testing.T, ch <-chan LeaderEvent, timeout time.Duration) LeaderEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed early")
		}
		return ev
	case <-time.After(timeout):
		t.Fatalf("no leader event within %v", timeout)
	}
	return LeaderEvent{}
}

func TestWatchLeaderDeliversEveryChangeToEveryWatcher(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.waitLeader(t, 5*time.Second)
	f := c.followers(l)[0]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	want := LeaderEvent{LeaderID: l.id, LeaderAddr: l.addr}
	// raft reports the leader a moment before the store has fanned the change out.
	for _, m := range []*testMember{f, l} {
		testwait.UntilNil(t, time.Second, m.id+" published the leader", func() error {
			m.store.mu.Lock()
			defer m.store.mu.Unlock()
			if m.store.leader.LeaderID != l.id {
				return fmt.Errorf("published %+v", m.store.leader)
			}
			return nil
		})
	}
	w1, w2 := f.store.WatchLeader(ctx), f.store.WatchLeader(ctx)
	lw := l.store.WatchLeader(ctx)

	for _, w := range []<-chan LeaderEvent{w1, w2} {
		if ev := nextEvent(t, w, time.Second); ev != want {
			t.Fatalf("first event %+v, want the current leadership %+v", ev, want)
		}
	}
	if ev := nextEvent(t, lw, time.Second); !ev.Self || ev.LeaderID != l.id {
		t.Fatalf("leader's own first event %+v, want Self", ev)
	}

	c.stop(t, l)
	// Each watcher sees the same sequence, ending with a new leader; w2 is read only
	// after w1 is done, so its queue must have kept everything.
	var seq1 []LeaderEvent
	for {
		ev := nextEvent(t, w1, 5*time.Second)
		seq1 = append(seq1, ev)
		if ev.LeaderID != "" && ev.LeaderID != l.id {
			break
		}
	}
	for i, want := range seq1 {
		if ev := nextEvent(t, w2, time.Second); ev != want {
			t.Fatalf("second watcher event %d = %+v, first watcher saw %+v", i, ev, want)
		}
	}
	for range lw { // closed with the stopped leader's store
	}

	cancel()
	for _, w := range []<-chan LeaderEvent{w1, w2} {
		for range w {
		}
	}
}

func TestStoredConfigurationWinsOverServerList(t *testing.T) {
	c := newCluster(t, 1, nil)
	m := c.waitLeader(t, 5*time.Second)
	apply(t, m, "a", "1")
	c.stop(t, m)

	// Restart with a server list naming a member the ensemble never added.
	ghost := listen(t)
	ghostAddr := ghost.Addr().String()
	ghost.Close()
	m.cfg.Servers = append(m.cfg.Servers, Server{ID: "ghost", Addr: ghostAddr})
	rec := &recordHandler{}
	m.cfg.Logger = slogRecorder(rec)
	c.start(t, m)

	drift := m.store.ConfigDrift()
	wantDrift := fmt.Sprintf("server %q (%s) is configured but not in the stored configuration", "ghost", ghostAddr)
	if len(drift) != 1 || drift[0] != wantDrift {
		t.Fatalf("drift = %q, want [%q]", drift, wantDrift)
	}
	if !rec.has("stored raft configuration differs from the configured server list; using the stored one") {
		t.Error("no warning logged for the drift")
	}
	// The stored single-member configuration is in force: it elects itself and writes.
	c.waitLeader(t, 5*time.Second)
	apply(t, m, "b", "2")
	ms, err := m.store.Members()
	if err != nil || len(ms.Members) != 1 {
		t.Fatalf("members = %+v, %v; want the stored single member", ms.Members, err)
	}
}

func TestClosedStoreRefusesEverything(t *testing.T) {
	c := newCluster(t, 1, nil)
	m := c.waitLeader(t, 5*time.Second)
	st := m.store
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	done, stop := context.WithCancel(context.Background())
	stop()
	if _, err := st.Apply(done, setCmd("a", "1")); !errors.Is(err, context.Canceled) {
		t.Errorf("apply with a cancelled ctx: %v", err)
	}

	c.stop(t, m)
	if err := st.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	for name, err := range map[string]error{
		"apply":          func() error { _, err := st.Apply(ctx, setCmd("a", "1")); return err }(),
		"consistentRead": st.ConsistentRead(ctx),
		"addVoter":       st.AddVoter(ctx, "x", "127.0.0.1:1"),
		"removeServer":   st.RemoveServer(ctx, "x"),
		"snapshot":       st.Snapshot(ctx),
		"members":        func() error { _, err := st.Members(); return err }(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after close: %v, want ErrClosed", name, err)
		}
	}
	if st.IsLeader() {
		t.Error("closed store reports leadership")
	}
	if _, ok := <-st.WatchLeader(ctx); ok {
		t.Error("watch on a closed store delivered an event")
	}
}

func TestOpenRefusesADataDirInUse(t *testing.T) {
	c := newCluster(t, 1, nil)
	m := c.members[0]
	ln := listen(t)
	cfg := testConfig(m.id, []Server{{ID: m.id, Addr: ln.Addr().String()}}, ln, m.cfg.DataDir)
	_, err := Open(cfg, newKV())
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open of %s: %v, want ErrLocked", m.cfg.DataDir, err)
	}
	// The failed Open closed the listener it was given.
	if _, err := ln.Accept(); err == nil {
		t.Error("listener still open after a failed Open")
	}
}

func BenchmarkApplySingleMember(b *testing.B) {
	c := newCluster(b, 1, nil)
	m := c.waitLeader(b, 5*time.Second)
	ctx := context.Background()
	cmd := setCmd("k", "v")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.store.Apply(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyParallel shows raft's group commit: concurrent callers share disk writes.
func BenchmarkApplyParallel(b *testing.B) {
	c := newCluster(b, 1, nil)
	m := c.waitLeader(b, 5*time.Second)
	cmd := setCmd("k", "v")
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.store.Apply(context.Background(), cmd); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
