package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flumego/flume/node/plugin/plugintest"
)

// The tail scenarios (FAULTS.md rows 13-15): a writer appends numbered lines to a log at more
// than 10,000 lines/s and rotates it while an agent tails it end to end; every line written is
// found exactly once at the collector, except the lines a truncation destroyed before they were
// read, which the agent must count.

// logWriter appends numbered lines to a file and rotates it on demand.
type logWriter struct {
	t     *testing.T
	path  string
	mu    sync.Mutex
	f     *os.File
	w     *bufio.Writer
	next  int // the number of the next line
	stop  chan struct{}
	done  chan struct{}
	rate  int // lines per second
	extra int // rotated files
}

func newLogWriter(t *testing.T, path string, rate int) *logWriter {
	lw := &logWriter{t: t, path: path, rate: rate, stop: make(chan struct{}), done: make(chan struct{})}
	lw.open()
	go lw.run()
	t.Cleanup(lw.finish)
	return lw
}

func (lw *logWriter) open() {
	f, err := os.OpenFile(lw.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		lw.t.Error(err)
		return
	}
	lw.f, lw.w = f, bufio.NewWriterSize(f, 64<<10)
}

// run writes rate lines a second in small bursts, flushed at once so the tail sees them.
func (lw *logWriter) run() {
	defer close(lw.done)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	pad := strings.Repeat("y", 120)
	per := max(1, lw.rate/100)
	for {
		select {
		case <-lw.stop:
			return
		case <-tick.C:
		}
		lw.mu.Lock()
		for range per {
			fmt.Fprintf(lw.w, "line %08d %s\n", lw.next, pad)
			lw.next++
		}
		_ = lw.w.Flush()
		lw.mu.Unlock()
	}
}

// finish stops writing and closes the file; it returns how many lines were written.
func (lw *logWriter) finish() {
	select {
	case <-lw.stop:
	default:
		close(lw.stop)
	}
	<-lw.done
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.f != nil {
		_ = lw.w.Flush()
		_ = lw.f.Close()
		lw.f = nil
	}
}

func (lw *logWriter) written() int {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.next
}

// rotate rotates the log: "rename" (rename and create), "copytruncate", "truncate" (in place,
// lines lost), "recreate" (delete and create again, which tends to reuse the inode).
func (lw *logWriter) rotate(how string) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	_ = lw.w.Flush()
	lw.extra++
	switch how {
	case "rename":
		_ = lw.f.Close()
		if err := os.Rename(lw.path, fmt.Sprintf("%s.%d", lw.path, lw.extra)); err != nil {
			lw.t.Error(err)
		}
		lw.open()
	case "copytruncate":
		src, err := os.Open(lw.path)
		if err != nil {
			lw.t.Error(err)
			return
		}
		dst, err := os.Create(fmt.Sprintf("%s.%d", lw.path, lw.extra))
		if err != nil {
			lw.t.Error(err)
			return
		}
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
		if err := lw.f.Truncate(0); err != nil {
			lw.t.Error(err)
		}
	case "truncate":
		if err := lw.f.Truncate(0); err != nil {
			lw.t.Error(err)
		}
	case "recreate":
		_ = lw.f.Close()
		if err := os.Remove(lw.path); err != nil {
			lw.t.Error(err)
		}
		lw.open()
	}
}

// tailScenario ships a rotated log end to end and checks conservation.
func tailScenario(t *testing.T, how string, rotations int, agentDown bool) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	d := newDataplane(t, 1, 1)
	d.lines = 0
	logPath := filepath.Join(d.dir, "app.log")
	lw := newLogWriter(t, logPath, 20000)
	d.startAgentWith(fmt.Sprintf("tail(%q)", logPath), d.chain("E2E"))
	var downs atomic.Int32
	for i := range rotations {
		plugintest.Eventually(t, 20*time.Second, func() bool { return d.written() > int64((i+1)*300_000) },
			func() string { return fmt.Sprintf("the collector got %d bytes\n%s", d.written(), d.logs()) })
		if agentDown && i%2 == 0 {
			d.agent.kill()
			downs.Add(1)
			lw.rotate(how)
			// The writer goes on while the agent is down, into the new file.
			at := lw.written()
			plugintest.Eventually(t, 5*time.Second, func() bool { return lw.written() > at+5000 }, nil)
			d.agent.start()
			continue
		}
		lw.rotate(how)
	}
	plugintest.Eventually(t, 20*time.Second, func() bool { return d.written() > int64((rotations+1)*300_000) },
		func() string { return "no progress after the last rotation\n" + d.logs() })
	lw.finish()
	d.lines = lw.written()
	ta := d.waitTail(120 * time.Second)
	lostReported := d.agentMetric("bytes_lost_truncated")
	t.Logf("tail %s: written=%d delivered=%d lost=%d duplicates=%d rotations=%d agent_restarts=%d lost_bytes_reported=%d",
		how, d.lines, ta.distinct(), ta.lost(), ta.dups, rotations, downs.Load(), lostReported)
	if ta.dups != 0 || ta.foreign != 0 {
		t.Fatalf("tail %s: %d duplicates, %d foreign lines\n%s", how, ta.dups, ta.foreign, d.logs())
	}
	switch how {
	case "rename", "recreate":
		if ta.lost() != 0 {
			t.Fatalf("tail %s: %d lines lost", how, ta.lost())
		}
	default:
		// A truncation destroys what was written after the last read. Bytes the agent saw
		// before they went are counted; bytes written and truncated between two reads are
		// seen by no reader, so the truncations themselves must be counted.
		if truncs := d.agentMetric("truncations"); ta.lost() > 0 && lostReported <= 0 && truncs <= 0 {
			t.Fatalf("tail %s: %d lines lost, and neither the lost bytes nor the truncations reported", how, ta.lost())
		}
	}
}

func TestTailRenameRotation(t *testing.T)         { tailScenario(t, "rename", 4, false) }
func TestTailTruncateInPlace(t *testing.T)        { tailScenario(t, "truncate", 3, false) }
func TestTailRotationWhileAgentDown(t *testing.T) { tailScenario(t, "rename", 4, true) }
