package raftstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flumego/flume/internal/testwait"
)

// Small caps for the tests: a full AppendEntries of 16 entries of 32 KiB is 512 KiB, so
// the message cap is at its minimum, 4.5 MiB.
const (
	testMaxEntry      = 32 << 10
	testMaxAppend     = 16
	testMaxMessage    = testMaxAppend*testMaxEntry + MessageSlackBytes
	capRefusedLogLine = "over the size cap"
)

func smallCaps(cfg *Config) {
	cfg.MaxEntryBytes = testMaxEntry
	cfg.MaxAppendEntries = testMaxAppend
	cfg.MaxMessageBytes = testMaxMessage
}

// heapInuse is the heap in use after a collection.
func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// oversizedAppend is the start of an AppendEntries whose one entry announces a byte string
// of size bytes: what raft's decoder allocates for, chunk by chunk, as the data arrives.
func oversizedAppend(size uint32) []byte {
	b := []byte{rpcAppendEntries}
	b = append(b, 0x81, 0xa7) // map of 1, key: string of 7
	b = append(b, "Entries"...)
	b = append(b, 0x91, 0x81, 0xa4) // array of 1: map of 1, key: string of 4
	b = append(b, "Data"...)
	b = append(b, 0xc6) // bin 32
	return binary.BigEndian.AppendUint32(b, size)
}

// flood sends an oversized AppendEntries to addr and streams its data until the
// connection breaks or all of it is sent; it returns the bytes sent and whether the
// connection ended.
func flood(t testing.TB, addr string, size uint32) (sent int64, cut bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write(oversizedAppend(size)); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for sent < int64(size) {
		n, err := conn.Write(chunk)
		sent += int64(n)
		if err != nil {
			return sent, !errors.Is(err, os.ErrDeadlineExceeded)
		}
	}
	// Everything went out: the connection was not cut. Report whether it ends anyway.
	_, err = conn.Read(make([]byte, 1))
	return sent, err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

func TestOversizedMessageIsCutOffAndTheHeapStaysFlat(t *testing.T) {
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c := newCluster(t, 3, func(_ int, cfg *Config) {
		smallCaps(cfg)
		cfg.Logger = logger
	})
	l := c.waitLeader(t, 5*time.Second)
	applyN(t, l, "k", 10)
	c.waitConverged(t, l.fsm.hash())
	f := c.followers(l)[0]

	const announced = 300 << 20
	before := heapInuse()
	var peak uint64
	stopSampling := sampleHeap(&peak)
	var sent [2]int64
	for i := range sent {
		var cut bool
		sent[i], cut = flood(t, f.addr, announced)
		if !cut {
			t.Fatalf("flood %d: %d bytes of an announced %d went through and the connection stayed open", i, sent[i], announced)
		}
		// What was sent includes what the kernels buffer on both sides (a few MB on loopback).
		if sent[i] > testMaxMessage+48<<20 {
			t.Fatalf("flood %d: %d bytes sent before the cut, cap %d", i, sent[i], testMaxMessage)
		}
	}
	stopSampling()
	after := heapInuse()
	t.Logf("heap in use: %.1f MiB before, peak %.1f MiB while flooding (uncollected garbage included), %.1f MiB after; sent %.1f and %.1f MiB of an announced %d MiB",
		mib(before), mib(peak), mib(after), mib(uint64(sent[0])), mib(uint64(sent[1])), announced>>20)
	if after > before+4<<20 {
		t.Errorf("heap grew from %.1f to %.1f MiB", mib(before), mib(after))
	}
	if peak > before+64<<20 {
		t.Errorf("heap peaked at %.1f MiB from %.1f MiB", mib(peak), mib(before))
	}
	if got := strings.Count(logs.String(), capRefusedLogLine); got != 1 {
		t.Errorf("two floods from one peer logged %d lines, want 1:\n%s", got, logs.String())
	}

	// The ensemble keeps replicating, the flooded follower included.
	applyN(t, l, "after", 10)
	c.waitConverged(t, l.fsm.hash())
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// sampleHeap records the largest HeapInuse seen until the returned stop is called.
func sampleHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			*peak = max(*peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func TestSnapshotLargerThanTheMessageCapReachesANewMember(t *testing.T) {
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	// The cap at its minimum for 2 entries of 256 KiB: 4.5 MiB, so 24 entries make a larger
	// state.
	const entry, perAppend = 256 << 10, 2
	mod := func(cfg *Config) {
		cfg.MaxEntryBytes = entry
		cfg.MaxAppendEntries = perAppend
		cfg.MaxMessageBytes = perAppend*entry + MessageSlackBytes
		cfg.TrailingLogs = 4 // a snapshot compacts the log: a new member cannot start from it
		cfg.Logger = logger
	}
	c := newCluster(t, 3, func(_ int, cfg *Config) { mod(cfg) })
	first := slices.Clone(c.members)
	c.waitLeader(t, 5*time.Second)
	// Under -race on a small machine, 6 MB of entries and snapshots can delay heartbeats past
	// the lease; whoever leads takes the next write.
	onLeader := func(op func(m *testMember) error) func() error {
		return func() error {
			for _, m := range first {
				if m.store.IsLeader() {
					return op(m)
				}
			}
			return errors.New("no leader")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	value := strings.Repeat("v", entry-64)
	for i := range 24 {
		testwait.UntilNil(t, 10*time.Second, "apply", onLeader(func(m *testMember) error {
			_, err := m.store.Apply(ctx, setCmd(fmt.Sprintf("k%02d", i), value))
			return err
		}))
	}
	l := c.waitLeader(t, 5*time.Second)
	c.waitConverged(t, l.fsm.hash())
	// Every member compacts its log, so whoever leads must send the snapshot.
	for _, m := range first {
		if err := m.store.Snapshot(ctx); err != nil {
			t.Fatalf("snapshot on %s: %v", m.id, err)
		}
	}
	snap, err := l.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if size, limit := len(snap.(kvSnapshot)), perAppend*entry+MessageSlackBytes; size <= limit {
		t.Fatalf("the snapshot is %d bytes, not above the %d byte message cap", size, limit)
	}

	j := c.newJoiner(t, "m3", mod)
	c.start(t, j)
	testwait.UntilNil(t, 15*time.Second, "m3 added by the leader", onLeader(func(m *testMember) error {
		return m.store.AddVoter(ctx, j.id, j.addr)
	}))
	testwait.UntilNil(t, 30*time.Second, "the new member restores the snapshot and catches up", func() error {
		if j.fsm.restores.Load() == 0 {
			return errors.New("no snapshot restored yet")
		}
		if got, want := j.fsm.hash(), first[0].fsm.hash(); got != want {
			return fmt.Errorf("at %s, m0 at %s", got, want)
		}
		return nil
	})
	if strings.Contains(logs.String(), capRefusedLogLine) {
		t.Errorf("legitimate traffic hit the cap")
	}
}

func TestApplyAboveMaxEntryBytesFailsAndChangesNothing(t *testing.T) {
	c := newCluster(t, 1, func(_ int, cfg *Config) { cfg.MaxEntryBytes = 1024 })
	m := c.waitLeader(t, 5*time.Second)
	apply(t, m, "a", "1")
	lastIndex, applied, h := m.store.raft.LastIndex(), m.store.raft.AppliedIndex(), m.fsm.hash()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	big := setCmd("big", strings.Repeat("x", 1024))
	_, err := m.store.Apply(ctx, big)
	if !errors.Is(err, ErrEntryTooLarge) || !strings.Contains(err.Error(), fmt.Sprintf("%d bytes, the limit is 1024", len(big))) {
		t.Fatalf("apply of %d bytes: err = %v, want ErrEntryTooLarge with both sizes", len(big), err)
	}
	if m.store.raft.LastIndex() != lastIndex || m.store.raft.AppliedIndex() != applied || m.fsm.hash() != h {
		t.Fatal("a refused entry reached the log or the FSM")
	}
	// Exactly the limit is accepted.
	if _, err := m.store.Apply(ctx, setCmd("b", strings.Repeat("y", 1024-len(setCmd("b", ""))))); err != nil {
		t.Fatalf("apply of exactly MaxEntryBytes: %v", err)
	}
}

// TestReadCapCountsPerRequest checks the budget rules without raft: a write starts a new
// budget, the first byte after it picks the snapshot budget, and a dialled connection has
// none.
func TestReadCapCountsPerRequest(t *testing.T) {
	var r readCap
	r.init(10, 100)
	read := func(b ...byte) bool {
		p, ok := r.clip(make([]byte, len(b)))
		if ok {
			copy(p, b)
			r.count(p)
		}
		return ok && len(p) == len(b)
	}
	if !read(rpcAppendEntries, 1, 2, 3, 4, 5, 6, 7, 8, 9) || read(0) {
		t.Fatal("a request gets exactly the message budget")
	}
	r.reset()
	if !read(make([]byte, 10)...) {
		t.Fatal("a write starts a new budget")
	}
	r.reset()
	if !read(rpcInstallSnapshot) || !read(make([]byte, 99)...) || read(0) {
		t.Fatal("an InstallSnapshot gets exactly the snapshot budget")
	}
	r.reset()
	if !read(rpcRequestVote) || !read(rpcInstallSnapshot) || read(make([]byte, 9)...) {
		t.Fatal("only the first byte after a write names the type")
	}
	r.init(10, 0)
	if !read(rpcInstallSnapshot) || read(make([]byte, 10)...) {
		t.Fatal("a dialled connection has no snapshot budget")
	}
}
