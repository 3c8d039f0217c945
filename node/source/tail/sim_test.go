package tail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
)

// flowSim plays the flow driver's part across restarts: each run builds the source, resumes it
// from the position kept with the last delivered batch, opens it, delivers its batches keeping
// the position after each, and stops it, gracefully or as by a crash.
type flowSim struct {
	t    testing.TB
	env  *plugintest.Env
	spec string
	pos  []byte
	got  []string
	runs int
	// setup, if set, adjusts each source after it is built (before Open).
	setup func(*Source)
}

// run runs one instance until done() holds (it is checked between batches, and every 20 ms
// while no batch comes). A graceful stop delivers what the source hands out after Close; a
// crash delivers nothing more, and the position stays at the last delivered batch.
func (d *flowSim) run(done func() bool, graceful bool) {
	d.t.Helper()
	d.runs++
	src, err := d.env.BuildSource(d.t, d.spec)
	if err != nil {
		d.t.Fatal(err)
	}
	if d.setup != nil {
		d.setup(src.(*Source))
	}
	cp := src.(plugin.Checkpointer)
	if d.pos != nil {
		if err := cp.Resume(d.pos); err != nil {
			d.t.Fatal(err)
		}
	}
	if err := src.Open(context.Background()); err != nil {
		d.t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for !done() {
		if time.Now().After(deadline) {
			d.t.Fatalf("run %d: not done after a minute, %d events delivered", d.runs, len(d.got))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		evs, err := src.Next(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		if err != nil {
			d.t.Fatalf("run %d: Next: %v", d.runs, err)
		}
		d.deliver(evs, cp)
	}
	if err := src.Close(context.Background()); err != nil {
		d.t.Fatal(err)
	}
	for graceful {
		evs, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			d.t.Fatalf("run %d: Next after Close: %v", d.runs, err)
		}
		d.deliver(evs, cp)
	}
}

func (d *flowSim) deliver(evs []*event.Event, cp plugin.Checkpointer) {
	if len(evs) == 0 {
		d.t.Fatalf("run %d: empty batch", d.runs)
	}
	for _, e := range evs {
		d.got = append(d.got, string(e.Body))
	}
	d.pos = cp.Position()
}

// logTo sends what e's components log to a buffer that is written to the test log if the
// test fails.
func logTo(t testing.TB, e *plugintest.Env) *plugintest.Env {
	var buf plugintest.Buffer
	e.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log("source log:\n" + buf.String())
		}
	})
	return e
}

// checkOnce fails the test unless got holds every line of want exactly once, and nothing else.
func checkOnce(t testing.TB, got, want []string) {
	t.Helper()
	count := make(map[string]int, len(got))
	for _, g := range got {
		count[g]++
	}
	var missing, dups, extra []string
	for _, w := range want {
		switch n := count[w]; {
		case n == 0:
			missing = append(missing, w)
		case n > 1:
			dups = append(dups, fmt.Sprintf("%s x%d", w, n))
		}
		delete(count, w)
	}
	for g := range count {
		extra = append(extra, g)
	}
	sort.Strings(extra)
	if len(missing)+len(dups)+len(extra) > 0 {
		t.Fatalf("%d events for %d lines: %d missing %q, %d repeated %q, %d unexpected %q", len(got), len(want),
			len(missing), plugintest.Short(missing), len(dups), plugintest.Short(dups), len(extra), plugintest.Short(extra))
	}
}

// numbered returns the lines lineFmt gives for seq from..to-1.
func numbered(from, to int) []string {
	out := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf(lineFmt, i))
	}
	return out
}

const lineFmt = "line %07d"

// logWriter writes numbered lines to a log, one write per line, as a logger does, and rotates
// it as logrotate does.
type logWriter struct {
	t    testing.TB
	path string
	fd   *os.File
	seq  int
	gen  int // rotations so far
}

func newLogWriter(t testing.TB, path string) *logWriter {
	w := &logWriter{t: t, path: path}
	w.reopen()
	return w
}

func (w *logWriter) reopen() {
	fd, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		w.t.Error(err)
		return
	}
	w.fd = fd
}

// lines writes n lines.
func (w *logWriter) lines(n int) {
	for range n {
		if _, err := fmt.Fprintf(w.fd, lineFmt+"\n", w.seq); err != nil {
			w.t.Error(err)
			return
		}
		w.seq++
	}
}

// renameRotate renames the log away, writes a few more lines to the old file (a writer that
// has not reopened yet), then creates the log anew.
func (w *logWriter) renameRotate() {
	w.gen++
	if err := os.Rename(w.path, fmt.Sprintf("%s.%d", w.path, w.gen)); err != nil {
		w.t.Error(err)
		return
	}
	w.lines(3)
	old := w.fd
	w.reopen()
	old.Close()
}

// copyTruncate copies the log to a sibling and truncates it, as logrotate's copytruncate.
func (w *logWriter) copyTruncate() {
	w.gen++
	data, err := os.ReadFile(w.path)
	if err == nil {
		err = os.WriteFile(fmt.Sprintf("%s.%d", w.path, w.gen), data, 0o644)
	}
	if err == nil {
		err = os.Truncate(w.path, 0)
	}
	if err != nil {
		w.t.Error(err)
	}
}

func (w *logWriter) close() { w.fd.Close() }

// writeLoad writes total lines at about rate lines a second, calling rotate every `every`
// lines, on a goroutine of its own; wait for it with the returned function.
func writeLoad(w *logWriter, total, every, rate int, rotate func()) (wait func()) {
	var wg sync.WaitGroup
	wg.Go(func() {
		defer w.close()
		const chunk = 50
		start, next := time.Now(), every
		for w.seq < total {
			w.lines(min(chunk, total-w.seq, max(next-w.seq, 1)))
			if w.seq >= next && w.seq < total {
				rotate()
				next += every
			}
			// Pace the writer: a log written at rate lines a second.
			if ahead := time.Duration(w.seq)*time.Second/time.Duration(rate) - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
	})
	return wg.Wait
}

// fdCount returns the number of descriptors the process has open.
func fdCount(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(entries)
}

// joinLines is the content of a file holding lines.
func joinLines(lines []string) string { return strings.Join(lines, "\n") + "\n" }
