package spooldir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/flow"
	"github.com/flumego/flume/node/plugin/plugintest"
)

// spool writes files of lines: f1 with n1 lines, f2 with n2, ..., oldest first. It returns
// every line, in the order they are to be read.
func spool(t testing.TB, dir string, counts ...int) []string {
	t.Helper()
	var all []string
	for i, n := range counts {
		name := fmt.Sprintf("f%d", i+1)
		lines := numbered(name, n)
		if n == 0 {
			writeFile(t, dir, name, "", at(i))
		} else {
			writeLines(t, dir, name, lines, at(i))
		}
		all = append(all, lines...)
	}
	return all
}

// resumed builds a new source on dir, resumes it from pos (unless nil) and opens it, as a
// restarted flow does.
func resumed(t testing.TB, dir string, pos []byte) *Source {
	t.Helper()
	s := build(t, newEnv(nil), dir, "pollDelay=10")
	if pos != nil {
		if err := s.Resume(pos); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// checkAllDone fails the test unless dir holds only the files of counts, marked done.
func checkAllDone(t testing.TB, dir string, n int) {
	t.Helper()
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("f%d.COMPLETED", i+1))
	}
	if got := names(t, dir); !slices.Equal(got, want) {
		t.Fatalf("directory %q, want %q", got, want)
	}
}

// TestCrashAnywhereDeliversEveryLineOnce crashes a source after every delivered batch, and
// between a batch read and its delivery, then runs a new instance resumed from the last
// position saved: every line is delivered exactly once, in order, and every file ends done.
func TestCrashAnywhereDeliversEveryLineOnce(t *testing.T) {
	counts := []int{2500, 1, 1200, 0, 3} // batches of up to 1000 lines, one file at a time
	total := 0
	for _, n := range counts {
		total += n
	}
	// The batches the files make: 1000, 1000, 500, 1, 1000, 200, 3.
	const batches = 7
	for crashAfter := 0; crashAfter <= batches; crashAfter++ {
		for _, lostBatch := range []bool{false, true} {
			t.Run(fmt.Sprintf("after %d batches, lost batch %v", crashAfter, lostBatch), func(t *testing.T) {
				dir := t.TempDir()
				all := spool(t, dir, counts...)
				r := &reader{s: resumed(t, dir, nil)}
				for range crashAfter {
					if err := r.step(10 * time.Second); err != nil {
						t.Fatal(err)
					}
				}
				if lostBatch {
					// Read, never delivered: the crash comes before its Append.
					ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
					_, _ = r.s.Next(ctx)
					cancel()
				}
				// The crash: nothing more of this instance, not even its Close.
				r.s = resumed(t, dir, r.pos)
				r.readN(t, total)
				r.settle(t)
				if !slices.Equal(r.got, all) {
					t.Fatalf("delivered %d lines %q; want the %d lines once each, in order", len(r.got), plugintest.Short(r.got), total)
				}
				checkAllDone(t, dir, len(counts))
			})
		}
	}
}

// positionSink keeps what it is appended and the position saved after it, as an agent sink
// does with its log: both survive a restart of the flow. hook, if set, is called with the
// count of lines kept after each Append.
type positionSink struct {
	mu     sync.Mutex
	bodies []string
	pos    []byte
	hook   func(n int)
}

func (p *positionSink) Open(context.Context) error  { return nil }
func (p *positionSink) Close(context.Context) error { return nil }

func (p *positionSink) Append(_ context.Context, batch []*event.Event) error {
	p.mu.Lock()
	for _, e := range batch {
		p.bodies = append(p.bodies, string(e.Body))
	}
	n, hook := len(p.bodies), p.hook
	p.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return nil
}

func (p *positionSink) SavePosition(_ context.Context, pos []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pos = append([]byte(nil), pos...)
	return nil
}

func (p *positionSink) ClaimPositions(string) error { return nil }

func (p *positionSink) LastPosition() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pos
}

func (p *positionSink) setHook(h func(int)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hook = h
}

func (p *positionSink) kept() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.bodies)
}

// runUntil runs a flow from spooldir on dir into sink and stops it, gracefully, once the sink
// has stopAt lines.
func runUntil(t *testing.T, dir string, sink *positionSink, stopAt int) {
	t.Helper()
	d := flow.NewDriver(&flow.Flow{Name: "spool", Source: build(t, newEnv(nil), dir, "pollDelay=10"), Sink: sink},
		flow.DriverOptions{})
	stopped := make(chan error, 1)
	var once sync.Once
	sink.setHook(func(n int) {
		if n < stopAt {
			return
		}
		// Stopped from within Append, the flow stops right after this batch: Stop waits for
		// the driver, so it runs on a goroutine of its own, which the test waits for.
		once.Do(func() {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				stopped <- d.Stop(ctx)
			}()
		})
	})
	defer sink.setHook(nil)
	d.Start()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("stop: %v", err)
		}
	case <-time.After(30 * time.Second):
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = d.Stop(ctx)
		t.Fatalf("the sink got %d lines, want %d", len(sink.kept()), stopAt)
	}
}

// TestFlowRestartedMidFileDeliversEveryLineOnce runs spooldir under the flow driver with a
// sink that keeps positions, stops the flow in the middle of a file, and starts a new one on
// the same sink: every line reaches the sink exactly once, and every file ends done.
func TestFlowRestartedMidFileDeliversEveryLineOnce(t *testing.T) {
	dir := t.TempDir()
	all := spool(t, dir, 100000, 20000, 5) // f1 spans several read buffers
	sink := &positionSink{}
	runUntil(t, dir, sink, 12000)
	if n := len(sink.kept()); n >= 100000 {
		t.Fatalf("the first run delivered %d lines: it did not stop in the middle of f1", n)
	}
	runUntil(t, dir, sink, len(all))
	if got := sink.kept(); !slices.Equal(got, all) {
		t.Fatalf("delivered %d lines %q; want the %d lines once each, in order", len(got), plugintest.Short(got), len(all))
	}
	// The stop came with the last batch; the file is marked done by the Next after it, in
	// the stop or in the next run.
	r := &reader{s: resumed(t, dir, sink.LastPosition())}
	r.settle(t)
	checkAllDone(t, dir, 3)
}

// TestChangedFilesAreSetAside checks each way a file can change after it was picked up: it is
// renamed with .CHANGED, counted and reported, never read further, and the next file is read.
func TestChangedFilesAreSetAside(t *testing.T) {
	tests := []struct {
		name string
		// lines is the content of f1, then change changes it after the first batch (which
		// holds the lines up to firstBatch) was read and before it is confirmed.
		content string
		change  func(t *testing.T, path string)
		// want is what is delivered of f1.
		want []string
	}{
		{
			name:    "grew after its end was read",
			content: "a1\na2 unterminated",
			change:  appendTo("more\n"),
			want:    []string{"a1", "a2 unterminated"},
		},
		{
			name:    "modified while read",
			content: "a1\na2\n",
			change:  touch,
			want:    []string{"a1", "a2"},
		},
		{
			name:    "shrank while read",
			content: "a1\na2\n",
			change:  truncate(1),
			want:    []string{"a1", "a2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeFile(t, dir, "f1", tt.content, at(1))
			writeLines(t, dir, "f2", []string{"b1"}, at(2))
			env := newEnv(nil)
			r := &reader{s: open(t, env, dir, "")}
			batch, err := r.s.Next(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			r.got = plugintest.Bodies(batch)
			if strings.Contains(tt.name, "grew") {
				// The unterminated last line comes when the end is read.
				if batch, err = r.s.Next(context.Background()); err != nil {
					t.Fatal(err)
				}
				r.got = append(r.got, plugintest.Bodies(batch)...)
			}
			tt.change(t, path)
			r.s.Position()
			want := append(tt.want, "b1")
			r.readN(t, len(want))
			r.settle(t)
			if !slices.Equal(r.got, want) {
				t.Errorf("lines %q, want %q", r.got, want)
			}
			if got := names(t, dir); !slices.Equal(got, []string{"f1.CHANGED", "f2.COMPLETED"}) {
				t.Errorf("directory %q, want [f1.CHANGED f2.COMPLETED]", got)
			}
			if n := env.Counter("spooldir.files_changed"); n != 1 {
				t.Errorf("files_changed = %d, want 1", n)
			}
		})
	}
}

// TestAFileThatShrinksPastWhatWasReadIsSetAside truncates a file larger than the read buffer
// while it is read: the lines that were read before the change are delivered, whole, and no
// more.
func TestAFileThatShrinksPastWhatWasReadIsSetAside(t *testing.T) {
	dir := t.TempDir()
	lines := numbered("a", 200000) // 1.8 MB: several read buffers
	path := writeLines(t, dir, "f1", lines, at(1))
	writeLines(t, dir, "f2", []string{"b1"}, at(2))
	r := &reader{s: open(t, newEnv(nil), dir, "")}
	r.readN(t, 1000)
	truncate(10)(t, path)
	deadline := time.Now().Add(20 * time.Second)
	for !slices.Contains(r.files, "f2") {
		if err := r.step(time.Until(deadline)); err != nil {
			t.Fatal(err)
		}
	}
	r.settle(t)
	got := r.got[:len(r.got)-1]
	if len(got) >= len(lines) || !slices.Equal(got, lines[:len(got)]) {
		t.Fatalf("delivered %d lines of f1 %q: want whole lines from its start, not all", len(got), plugintest.Short(got))
	}
	if names := names(t, dir); !slices.Equal(names, []string{"f1.CHANGED", "f2.COMPLETED"}) {
		t.Errorf("directory %q", names)
	}
}

// TestResumeFindsTheFileChanged changes a file while its flow is down.
func TestResumeFindsTheFileChanged(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(t *testing.T, path string)
	}{
		{"modified", touch},
		{"shrank", truncate(100)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeLines(t, dir, "f1", numbered("a", 3000), at(1))
			writeLines(t, dir, "f2", []string{"b1"}, at(2))
			r := &reader{s: resumed(t, dir, nil)}
			r.readN(t, 2000)
			tt.change(t, path)
			r.s = resumed(t, dir, r.pos)
			r.readN(t, 2001)
			r.settle(t)
			if last := r.got[len(r.got)-1]; last != "b1" {
				t.Errorf("read %q after the restart, want only b1", last)
			}
			if got := names(t, dir); !slices.Equal(got, []string{"f1.CHANGED", "f2.COMPLETED"}) {
				t.Errorf("directory %q, want [f1.CHANGED f2.COMPLETED]", got)
			}
		})
	}
}

// TestPositionsThatNoLongerFit checks the positions a new instance ignores: it then reads the
// directory from its oldest file.
func TestPositionsThatNoLongerFit(t *testing.T) {
	tests := []struct {
		name string
		pos  func(t *testing.T, dir string, saved []byte) []byte
	}{
		{"garbage", func(*testing.T, string, []byte) []byte { return []byte("{not json") }},
		{"another directory", func(t *testing.T, _ string, saved []byte) []byte {
			return []byte(strings.Replace(string(saved), `"dir":"`, `"dir":"/elsewhere`, 1))
		}},
		{"the file was replaced", func(t *testing.T, dir string, saved []byte) []byte {
			path := filepath.Join(dir, "f1")
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			writeLines(t, dir, "f1", numbered("f1", 1500), at(0))
			return saved
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			all := spool(t, dir, 1500, 2)
			r := &reader{s: resumed(t, dir, nil)}
			r.readN(t, 1000)
			pos := tt.pos(t, dir, r.pos)
			r2 := &reader{s: resumed(t, dir, pos)}
			r2.readN(t, len(all))
			r2.settle(t)
			if !slices.Equal(r2.got, all) {
				t.Fatalf("read %q, want every line from the start", plugintest.Short(r2.got))
			}
			checkAllDone(t, dir, 2)
		})
	}
}

// appendTo returns a change that appends s to the file.
func appendTo(s string) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
}

// touch moves the modification time of the file, as a write that keeps its size does.
func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.Chtimes(path, at(100), at(100)); err != nil {
		t.Fatal(err)
	}
}

// truncate returns a change that cuts the file to n bytes.
func truncate(n int64) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if err := os.Truncate(path, n); err != nil {
			t.Fatal(err)
		}
	}
}
