package agent

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flumego/flume/internal/testwait"
)

// fastBackoff makes a failed collector be tried again within tens of milliseconds.
var fastBackoff = map[string]string{
	"flume.agent.failover.backoff.initial": "20",
	"flume.agent.failover.backoff.max":     "100",
}

// TestChainFailsOverAndReturns stops the first collector of an end-to-end chain while chunks
// are in flight: the rest goes to the second collector and nothing is lost or kept twice.
// When the first collector comes back on its port, the sink returns to it after its backoff.
func TestChainFailsOverAndReturns(t *testing.T) {
	st := newStore()
	c1 := startCollector(t, st, "127.0.0.1:0")
	c2 := startCollector(t, st, "127.0.0.1:0")
	bc := newBC(t, fastBackoff)
	bc.Commits = newCommits(t)
	s := newE2E(t, bc, c1.addr, c2.addr)
	openSink(t, s)

	all := bodies("c", 0, 200)
	appendAll(t, s, all[:100], 10)
	testwait.Until(t, 3*time.Second, "the first collector to take chunks", func() bool { return c1.batches.Load() > 0 })
	c1.stop() // mid-stream: chunks in flight are answered RETRY or not at all
	appendAll(t, s, all[100:], 10)
	testwait.Until(t, 3*time.Second, "every event at the collectors", func() bool { return st.total() >= len(all) })
	if c2.batches.Load() == 0 {
		t.Fatal("the second collector took nothing after the first stopped")
	}
	if v := metric(bc, "agent.failovers"); v < 1 {
		t.Errorf("failovers = %d, want at least 1", v)
	}

	back := startCollector(t, st, c1.addr)
	more := bodies("d", 0, 0)
	deadline := time.Now().Add(3 * time.Second)
	for i := 0; back.batches.Load() == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatal("the sink did not return to the first collector once it was back")
		}
		b := bodies("d", i*5, 5)
		appendAll(t, s, b, 5)
		more = append(more, b...)
		testwait.Until(t, 2*time.Second, "the events just appended", func() bool { return st.has(b[len(b)-1]) })
	}
	if err := closeSink(s, 5*time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
	st.checkOnce(t, append(all, more...))
	if u := unreleased(t, e2eDir(bc)); len(u) != 0 {
		t.Errorf("after close the write-ahead log holds %d chunks, want none", len(u))
	}
}

// TestBestEffortDropsWhileNoCollector: with no collector, a best-effort sink drops and counts
// its events without holding up Append; once a collector listens, later events arrive.
func TestBestEffortDropsWhileNoCollector(t *testing.T) {
	addr := freeAddr(t)
	bc := newBC(t, fastBackoff)
	s := buildSink(t, bc, `agentBEChain("`+addr+`", batchCount=10)`)
	openSink(t, s)
	defer func() { _ = closeSink(s, time.Second) }()

	dropped := bodies("x", 0, 100)
	start := time.Now()
	appendAll(t, s, dropped, 10)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("appending while no collector listens took %v", d)
	}
	testwait.Until(t, 3*time.Second, "every event counted as dropped", func() bool {
		return metric(bc, "agent.events_dropped") == int64(len(dropped))
	})

	st := newStore()
	startCollector(t, st, addr)
	deadline := time.Now().Add(3 * time.Second)
	for i := 0; st.total() == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatal("no event arrived once the collector listened")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := s.Append(ctx, batchOf(bodies("y", i, 1)))
		cancel()
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		testwait.Within(100*time.Millisecond, func() bool { return st.total() > 0 })
	}
	for _, b := range dropped {
		if st.has(b) {
			t.Fatalf("event %q, dropped while no collector listened, arrived", b)
		}
	}
}

// TestDFOSpoolsAndDrains: with no collector, a disk-failover sink spools its chunks to disk;
// once a collector listens the spool drains and every event arrives once.
func TestDFOSpoolsAndDrains(t *testing.T) {
	addr := freeAddr(t)
	bc := newBC(t, fastBackoff)
	s := buildSink(t, bc, `agentDFOChain("`+addr+`", batchCount=10)`)
	openSink(t, s)

	all := bodies("s", 0, 100)
	appendAll(t, s, all, 10)
	testwait.Until(t, 3*time.Second, "chunks spooled", func() bool { return metric(bc, "agent.batches_spooled") > 0 })
	// The spool writes in the background.
	testwait.Until(t, 3*time.Second, "a log segment in the spool directory", func() bool { return spoolFiles(t, dfoDir(bc)) > 0 })

	st := newStore()
	startCollector(t, st, addr)
	testwait.Until(t, 3*time.Second, "the spool to drain", func() bool { return st.total() >= len(all) })
	if err := closeSink(s, 5*time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
	st.checkOnce(t, all)
	if u := unreleased(t, dfoDir(bc)); len(u) != 0 {
		t.Errorf("after the drain the spool holds %d chunks, want none", len(u))
	}
}

// TestDFOCloseKeepsTheSpool closes a disk-failover sink while no collector listens: the spool
// keeps the chunks, and the next sink on the same directory sends them.
func TestDFOCloseKeepsTheSpool(t *testing.T) {
	for _, tc := range []struct {
		name string
		// silent: the collector's port takes connections and never answers, so the sink
		// queues chunks in memory while it waits for the connection, instead of knowing at
		// once that no collector answers.
		silent bool
	}{
		{name: "collector down from the start"},
		{name: "chunks queued while connecting", silent: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, stopSilent := freeAddr(t), func() {}
			if tc.silent {
				addr, stopSilent = silentListener(t)
			}
			bc := newBC(t, fastBackoff)
			text := `agentDFOChain("` + addr + `", batchCount=10)`
			s1 := buildSink(t, bc, text).(*Sink)
			openSink(t, s1)
			if !tc.silent {
				testwait.Until(t, 3*time.Second, "the sink to find no collector", s1.snd.isDown)
			}
			all := bodies("k", 0, 100)
			appendAll(t, s1, all, 10)
			if err := closeSink(s1, time.Second); err != nil {
				t.Fatalf("close: %v", err)
			}
			stopSilent()
			if u := unreleased(t, dfoDir(bc)); len(u) != 10 {
				t.Fatalf("after a close without a collector the spool holds %d chunks, want 10", len(u))
			}

			st := newStore()
			startCollector(t, st, addr)
			s2 := buildSink(t, bc, text)
			openSink(t, s2)
			testwait.Until(t, 3*time.Second, "the spool of the last run to drain", func() bool { return st.total() >= len(all) })
			if err := closeSink(s2, 5*time.Second); err != nil {
				t.Fatalf("close: %v", err)
			}
			st.checkOnce(t, all)
		})
	}
}

// silentListener listens on a loopback port, takes connections and never answers them; stop
// closes it and its connections.
func silentListener(tb testing.TB) (addr string, stop func()) {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = lis.Close()
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			for _, c := range conns {
				_ = c.Close()
			}
		})
	}
	tb.Cleanup(stop)
	return lis.Addr().String(), stop
}

// isDown reports whether the sender found no collector to take chunks.
func (d *sender) isDown() bool {
	down, _ := d.out.condition()
	return down
}

// spoolFiles counts the log segments in dir that hold more than their header.
func spoolFiles(tb testing.TB, dir string) int {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".wal") {
			continue
		}
		if fi, err := os.Stat(filepath.Join(dir, e.Name())); err == nil && fi.Size() > 32 {
			n++
		}
	}
	return n
}

// TestChainSkipsACollectorThatDoesNotResolve: a collector whose host name does not resolve is
// one that fails: the chain goes on to the next, and nothing is lost.
func TestChainSkipsACollectorThatDoesNotResolve(t *testing.T) {
	st := newStore()
	c := startCollector(t, st, "127.0.0.1:0")
	bc := newBC(t, fastBackoff)
	bc.Commits = newCommits(t)
	s := newE2E(t, bc, "no-such-host.invalid:35853", c.addr)
	openSink(t, s)
	all := bodies("r", 0, 50)
	appendAll(t, s, all, 10)
	testwait.Until(t, 5*time.Second, "every event at the second collector", func() bool { return st.total() >= len(all) })
	if err := closeSink(s, 5*time.Second); err != nil {
		t.Fatalf("close: %v", err)
	}
	st.checkOnce(t, all)
}
