package raftstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/goleak"

	"github.com/flumego/flume/internal/testwait"
)

var raftLog = flag.Bool("raft.log", false, "write raft logs of the tests to stderr")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// kvFSM is a deterministic key/value map. Commands are "set k=v" and "fail" (the FSM
// rejects it: the response is an error).
type kvFSM struct {
	mu       sync.Mutex
	m        map[string]string
	restores atomic.Int32
}

var errRejected = errors.New("command rejected")

func newKV() *kvFSM { return &kvFSM{m: make(map[string]string)} }

func setCmd(k, v string) []byte { return []byte("set " + k + "=" + v) }

func (f *kvFSM) Apply(l *raft.Log) any {
	cmd := string(l.Data)
	if cmd == "fail" {
		return errRejected
	}
	kv, ok := strings.CutPrefix(cmd, "set ")
	k, v, ok2 := strings.Cut(kv, "=")
	if !ok || !ok2 {
		panic(fmt.Sprintf("unknown command %q", cmd))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[k] = v
	return l.Index
}

func (f *kvFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := json.Marshal(f.m)
	return kvSnapshot(b), err
}

func (f *kvFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	m := make(map[string]string)
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		return err
	}
	f.mu.Lock()
	f.m = m
	f.mu.Unlock()
	f.restores.Add(1)
	return nil
}

func (f *kvFSM) get(k string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[k]
}

func (f *kvFSM) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m)
}

// hash is a digest of the whole state, equal on members that applied the same entries.
func (f *kvFSM) hash() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := make([]string, 0, len(f.m))
	for k := range f.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\n", k, f.m[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

type kvSnapshot []byte

func (s kvSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (kvSnapshot) Release() {}

// holds checks that cond stays nil for the whole period.
func holds(t testing.TB, period time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(period)
	for time.Now().Before(deadline) {
		if err := cond(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func testLogger() *slog.Logger {
	if *raftLog {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// testConfig has timeouts short enough for a quick suite yet long enough for -race on a
// busy 2-core machine.
func testConfig(id string, servers []Server, ln net.Listener, dir string) Config {
	return Config{
		ID:                 id,
		Servers:            servers,
		Listener:           ln,
		DataDir:            dir,
		HeartbeatTimeout:   300 * time.Millisecond,
		ElectionTimeout:    300 * time.Millisecond,
		LeaderLeaseTimeout: 300 * time.Millisecond,
		CommitTimeout:      10 * time.Millisecond,
		DialTimeout:        time.Second,
		IOTimeout:          2 * time.Second,
		Logger:             testLogger(),
	}
}

type testMember struct {
	id    string
	addr  string
	cfg   Config
	fsm   *kvFSM
	store *Store
}

type testCluster struct {
	members []*testMember
	servers []Server
}

// newCluster starts n members m0..m(n-1) on loopback; mod may adjust each Config.
func newCluster(t testing.TB, n int, mod func(i int, c *Config)) *testCluster {
	t.Helper()
	c := &testCluster{}
	lns := make([]net.Listener, n)
	for i := range n {
		lns[i] = listen(t)
		c.servers = append(c.servers, Server{ID: fmt.Sprintf("m%d", i), Addr: lns[i].Addr().String()})
	}
	for i := range n {
		cfg := testConfig(c.servers[i].ID, c.servers, lns[i], t.TempDir())
		if mod != nil {
			mod(i, &cfg)
		}
		m := &testMember{id: c.servers[i].ID, addr: c.servers[i].Addr, cfg: cfg}
		c.members = append(c.members, m)
	}
	t.Cleanup(func() {
		for _, m := range c.members {
			if m.store != nil {
				if err := m.store.Close(); err != nil {
					t.Errorf("close %s: %v", m.id, err)
				}
			}
		}
	})
	for _, m := range c.members {
		c.start(t, m)
	}
	return c
}

// start opens m with a fresh FSM from its data dir, listening on its address again.
func (c *testCluster) start(t testing.TB, m *testMember) {
	t.Helper()
	if m.cfg.Listener == nil {
		ln, err := net.Listen("tcp", m.addr)
		if err != nil {
			t.Fatalf("listen again on %s: %v", m.addr, err)
		}
		m.cfg.Listener = ln
	}
	m.fsm = newKV()
	st, err := Open(m.cfg, m.fsm)
	m.cfg.Listener = nil // owned by the store now
	if err != nil {
		t.Fatalf("open %s: %v", m.id, err)
	}
	m.store = st
}

func (c *testCluster) stop(t testing.TB, m *testMember) {
	t.Helper()
	if err := m.store.Close(); err != nil {
		t.Fatalf("close %s: %v", m.id, err)
	}
	m.store = nil
}

func (c *testCluster) running() []*testMember {
	var out []*testMember
	for _, m := range c.members {
		if m.store != nil {
			out = append(out, m)
		}
	}
	return out
}

// waitLeader waits until exactly one running member is leader and every running member
// names it.
func (c *testCluster) waitLeader(t testing.TB, timeout time.Duration) *testMember {
	t.Helper()
	var leader *testMember
	testwait.UntilNil(t, timeout, "a leader known to every running member", func() error {
		leader = nil
		for _, m := range c.running() {
			if m.store.IsLeader() {
				if leader != nil {
					return fmt.Errorf("%s and %s both lead", leader.id, m.id)
				}
				leader = m
			}
		}
		if leader == nil {
			return errors.New("no leader")
		}
		for _, m := range c.running() {
			if id, _ := m.store.Leader(); id != leader.id {
				return fmt.Errorf("%s thinks the leader is %q, not %s", m.id, id, leader.id)
			}
		}
		return nil
	})
	return leader
}

func (c *testCluster) followers(leader *testMember) []*testMember {
	var out []*testMember
	for _, m := range c.running() {
		if m != leader {
			out = append(out, m)
		}
	}
	return out
}

// waitConverged waits until every running member's FSM hash is want.
func (c *testCluster) waitConverged(t testing.TB, want string) {
	t.Helper()
	testwait.UntilNil(t, 5*time.Second, "every member at state "+want, func() error {
		for _, m := range c.running() {
			if h := m.fsm.hash(); h != want {
				return fmt.Errorf("%s is at %s", m.id, h)
			}
		}
		return nil
	})
}

func apply(t testing.TB, m *testMember, k, v string) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := m.store.Apply(ctx, setCmd(k, v))
	if err != nil {
		t.Fatalf("apply %s=%s on %s: %v", k, v, m.id, err)
	}
	return resp
}

func applyN(t testing.TB, m *testMember, prefix string, n int) {
	t.Helper()
	for i := range n {
		apply(t, m, fmt.Sprintf("%s%03d", prefix, i), fmt.Sprint(i))
	}
}

// newJoiner prepares a member that joins c at run time (Join set), not yet started.
func (c *testCluster) newJoiner(t testing.TB, id string, mod func(*Config)) *testMember {
	t.Helper()
	ln := listen(t)
	servers := append(slices.Clone(c.servers), Server{ID: id, Addr: ln.Addr().String()})
	cfg := testConfig(id, servers, ln, t.TempDir())
	cfg.Join = true
	if mod != nil {
		mod(&cfg)
	}
	m := &testMember{id: id, addr: ln.Addr().String(), cfg: cfg}
	c.members = append(c.members, m)
	// Registered after TempDir, so it runs before the directory is removed.
	t.Cleanup(func() {
		if m.store != nil {
			_ = m.store.Close()
		}
		closeListener(m.cfg.Listener)
	})
	return m
}

// lockedBuffer collects the log lines of several members safely.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
