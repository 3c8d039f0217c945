package spooldir

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
)

func TestReadsEachFileOnceOldestFirstThenMarksItDone(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.log", "a1\r\na2\n", at(2))
	writeFile(t, dir, "b.log", "b1\nb2\nb3 unterminated", at(1))
	writeFile(t, dir, "c.log", "", at(3))
	writeFile(t, dir, "d.log", "d1\n", at(3)) // same time as c: by name
	env := newEnv(nil)
	r := &reader{s: open(t, env, dir, "")}
	r.readN(t, 6)
	r.settle(t)
	if want := []string{"b1", "b2", "b3 unterminated", "a1", "a2", "d1"}; !slices.Equal(r.got, want) {
		t.Errorf("lines %q, want %q", r.got, want)
	}
	if want := []string{"b.log", "b.log", "b.log", "a.log", "a.log", "d.log"}; !slices.Equal(r.files, want) {
		t.Errorf("spoolSrcFile %q, want %q", r.files, want)
	}
	if got, want := names(t, dir), []string{"a.log.COMPLETED", "b.log.COMPLETED", "c.log.COMPLETED", "d.log.COMPLETED"}; !slices.Equal(got, want) {
		t.Errorf("directory %q, want %q", got, want)
	}
	for name, want := range map[string]int64{"events_in": 6, "files_done": 4, "files_changed": 0} {
		if n := env.Counter("spooldir." + name); n != want {
			t.Errorf("spooldir.%s = %d, want %d", name, n, want)
		}
	}
}

func TestEventsAreStamped(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a", "line\n", time.Time{})
	s := open(t, newEnv(nil), dir, "")
	before := time.Now().UnixNano()
	batch, err := s.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e := batch[0]
	if e.Priority != event.INFO || e.Host != event.Hostname() || e.Timestamp < before || e.Timestamp > time.Now().UnixNano() {
		t.Errorf("event %+v is not stamped as read now, here, at INFO", e)
	}
}

func TestDeletePolicyImmediateRemovesDoneFiles(t *testing.T) {
	dir := t.TempDir()
	writeLines(t, dir, "a", []string{"1", "2"}, at(1))
	writeLines(t, dir, "b", []string{"3"}, at(2))
	r := &reader{s: open(t, newEnv(nil), dir, `deletePolicy="immediate"`)}
	r.readN(t, 3)
	r.settle(t)
	if got := names(t, dir); len(got) != 0 {
		t.Errorf("directory holds %q, want nothing", got)
	}
}

func TestOnlyEligibleFilesAreRead(t *testing.T) {
	dir := t.TempDir()
	writeLines(t, dir, "app.log", []string{"app"}, at(1))
	writeLines(t, dir, "skip-me.log", []string{"ignored by pattern"}, at(2))
	writeLines(t, dir, "notes.txt", []string{"not included"}, at(3))
	writeLines(t, dir, ".hidden.log", []string{"hidden"}, at(4))
	writeLines(t, dir, "old.log.DONE", []string{"done before"}, at(5))
	writeLines(t, dir, "bad.log.CHANGED", []string{"set aside before"}, at(6))
	if err := os.Mkdir(filepath.Join(dir, "sub.log"), 0o755); err != nil {
		t.Fatal(err)
	}
	outside := writeLines(t, t.TempDir(), "target", []string{"through a link"}, at(7))
	if err := os.Symlink(outside, filepath.Join(dir, "link.log")); err != nil {
		t.Fatal(err)
	}
	r := &reader{s: open(t, newEnv(nil), dir, `suffix=".DONE", includePattern=".*\\.log", ignorePattern="skip.*"`)}
	r.readN(t, 2)
	r.settle(t)
	if want := []string{"app", "through a link"}; !slices.Equal(r.got, want) {
		t.Errorf("lines %q, want %q", r.got, want)
	}
	want := []string{".hidden.log", "app.log.DONE", "bad.log.CHANGED", "link.log.DONE", "notes.txt", "old.log.DONE", "skip-me.log", "sub.log"}
	if got := names(t, dir); !slices.Equal(got, want) {
		t.Errorf("directory %q, want %q", got, want)
	}
}

func TestWaitsForFilesToArrive(t *testing.T) {
	dir := t.TempDir()
	s := open(t, newEnv(nil), dir, "pollDelay=10")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	next := plugintest.GoNext(ctx, s)
	// Written under a hidden name, then renamed in: the way to spool a file.
	tmp := writeLines(t, dir, ".late.tmp", []string{"late1", "late2"}, time.Time{})
	if err := os.Rename(tmp, filepath.Join(dir, "late.log")); err != nil {
		t.Fatal(err)
	}
	if r := next.Wait(t, 20*time.Second); r.Err != nil || !slices.Equal(r.Bodies, []string{"late1", "late2"}) {
		t.Fatalf("Next = %q, %v; want the lines of the file that arrived", r.Bodies, r.Err)
	}
}

// TestAFileIsDoneOnlyOnceItsLastBatchIsConfirmed checks that a file is not renamed while its
// last lines may not be delivered, and is renamed once Position or Ack confirms them.
func TestAFileIsDoneOnlyOnceItsLastBatchIsConfirmed(t *testing.T) {
	for _, confirm := range []string{"Position", "Ack"} {
		t.Run(confirm, func(t *testing.T) {
			dir := t.TempDir()
			writeLines(t, dir, "a", []string{"1", "2"}, at(1))
			s := open(t, newEnv(nil), dir, "pollDelay=10")
			if batch, err := s.Next(context.Background()); err != nil || len(batch) != 2 {
				t.Fatalf("Next = %d events, %v", len(batch), err)
			}
			for range 2 {
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				_, err := s.Next(ctx)
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Next = %v, want it to wait", err)
				}
				if got := names(t, dir); !slices.Equal(got, []string{"a"}) {
					t.Fatalf("directory %q before the last batch was confirmed, want [a]", got)
				}
			}
			if confirm == "Position" {
				s.Position()
			} else if err := s.Ack(context.Background()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if _, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Next = %v, want it to wait", err)
			}
			if got := names(t, dir); !slices.Equal(got, []string{"a.COMPLETED"}) {
				t.Fatalf("directory %q after the confirmation, want [a.COMPLETED]", got)
			}
		})
	}
}

func TestADoneNameThatIsTakenGetsANumber(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "x.log.COMPLETED", "first x\n", at(1))
	writeFile(t, dir, "x.log.1.COMPLETED", "second x\n", at(2))
	writeFile(t, dir, "x.log", "third x\n", at(3))
	r := &reader{s: open(t, newEnv(nil), dir, "")}
	r.readN(t, 1)
	r.settle(t)
	if got, want := names(t, dir), []string{"x.log.1.COMPLETED", "x.log.2.COMPLETED", "x.log.COMPLETED"}; !slices.Equal(got, want) {
		t.Fatalf("directory %q, want %q", got, want)
	}
	for name, want := range map[string]string{"x.log.COMPLETED": "first x\n", "x.log.2.COMPLETED": "third x\n"} {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != want {
			t.Errorf("%s holds %q, want %q", name, b, want)
		}
	}
}

func TestOversizeLines(t *testing.T) {
	tests := []struct {
		kw        string
		want      []string
		truncated int64
		rejected  int64
	}{
		{"", []string{"abcd", "ok"}, 1, 0},
		{`oversize="reject"`, []string{"ok"}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.kw, func(t *testing.T) {
			dir := t.TempDir()
			writeLines(t, dir, "a", []string{"abcdefgh", "ok"}, time.Time{})
			env := newEnv(map[string]string{"flume.event.max.size.bytes": "4"})
			r := &reader{s: open(t, env, dir, tt.kw)}
			r.readN(t, len(tt.want))
			r.settle(t)
			if !slices.Equal(r.got, tt.want) {
				t.Errorf("lines %q, want %q", r.got, tt.want)
			}
			if n, m := env.Counter("spooldir.events_truncated"), env.Counter("spooldir.events_rejected"); n != tt.truncated || m != tt.rejected {
				t.Errorf("truncated %d, rejected %d; want %d, %d", n, m, tt.truncated, tt.rejected)
			}
		})
	}
}

// TestStopDeliversWhatWasBufferedAndKeepsItsPlace stops a source as the driver does in the
// middle of a file: what it still hands out after Close continues the lines in order, and
// its position after that resumes where it ended.
func TestStopDeliversWhatWasBufferedAndKeepsItsPlace(t *testing.T) {
	dir := t.TempDir()
	lines := numbered("a", 100000) // more than one read buffer
	writeLines(t, dir, "a", lines, at(1))
	r := &reader{s: open(t, newEnv(nil), dir, "")}
	r.readN(t, 1000)
	rest, err := plugintest.Stop(t, r.s, 20*time.Second, 1000)
	if !errors.Is(err, io.EOF) {
		t.Errorf("last Next = %v, want io.EOF", err)
	}
	if len(rest) == 0 {
		t.Error("nothing delivered after Close: the lines buffered were lost")
	}
	r.got = append(r.got, plugintest.Bodies(rest)...)
	pos := r.s.Position()

	s2 := build(t, newEnv(nil), dir, "")
	if err := s2.Resume(pos); err != nil {
		t.Fatal(err)
	}
	if err := s2.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s2.Close(context.Background()) })
	r.s = s2
	r.readN(t, len(lines))
	r.settle(t)
	if !slices.Equal(r.got, lines) {
		t.Fatalf("delivered %d lines %q, want the %d of the file once each, in order", len(r.got), plugintest.Short(r.got), len(lines))
	}
	if got := names(t, dir); !slices.Equal(got, []string{"a.COMPLETED"}) {
		t.Errorf("directory %q, want [a.COMPLETED]", got)
	}
}

func TestArguments(t *testing.T) {
	tests := []struct{ text, want string }{
		{`spooldir("")`, `1:10: spooldir: argument dir: empty directory name`},
		{`spooldir("/x", suffix="")`, `spooldir: argument suffix: empty suffix`},
		{`spooldir("/x", suffix="a/b")`, `spooldir: argument suffix: "a/b" has a path separator`},
		{`spooldir("/x", suffix=".CHANGED")`, `spooldir: argument suffix: ".CHANGED" cannot be told apart`},
		{`spooldir("/x", deletePolicy="sometimes")`, `spooldir: argument deletePolicy: "sometimes": want never or immediate`},
		{`spooldir("/x", includePattern="(")`, `spooldir: argument includePattern: error parsing regexp`},
		{`spooldir("/x", ignorePattern="[")`, `spooldir: argument ignorePattern: error parsing regexp`},
		{`spooldir("/x", pollDelay=0)`, `spooldir: argument pollDelay: must be more than 0`},
		{`spooldir("/x", oversize="maybe")`, `spooldir: argument oversize`},
		{`spooldir("/x", "y")`, `spooldir: too many arguments`},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			_, err := newEnv(nil).BuildSource(t, tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("build = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestOpenNeedsADirectory(t *testing.T) {
	file := writeFile(t, t.TempDir(), "f", "", time.Time{})
	missing := filepath.Join(t.TempDir(), "missing")
	for _, dir := range []string{file, missing} {
		s := build(t, newEnv(nil), dir, "")
		err := s.Open(context.Background())
		if err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("Open on %s = %v, want an error naming it", dir, err)
		}
		if err := s.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}
}

func TestLifecycle(t *testing.T) {
	dir := t.TempDir()
	s := build(t, newEnv(nil), dir, "")
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrNotOpen) {
		t.Errorf("Next before Open = %v, want ErrNotOpen", err)
	}
	for range 2 {
		if err := s.Close(context.Background()); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if err := s.Open(context.Background()); !errors.Is(err, ErrNotOpen) {
		t.Errorf("Open after Close = %v, want ErrNotOpen", err)
	}
}

// TestCloseEndsAWaitingNext checks that a Close from another goroutine ends a Next waiting
// for files.
func TestCloseEndsAWaitingNext(t *testing.T) {
	s := open(t, newEnv(nil), t.TempDir(), "")
	next := plugintest.GoNext(context.Background(), s)
	plugintest.Eventually(t, 10*time.Second, func() bool {
		if s.mu.TryLock() { // Next holds it while it waits
			s.mu.Unlock()
			return false
		}
		return true
	}, nil)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := next.Wait(t, 10*time.Second); !errors.Is(r.Err, io.EOF) {
		t.Fatalf("waiting Next after Close = %q, %v; want io.EOF", r.Bodies, r.Err)
	}
}

func TestRegister(t *testing.T) {
	env := newEnv(nil)
	got := plugintest.Names(t, env.Registry, plugin.KindSource)
	if !slices.Equal(got, []string{"spooldir"}) {
		t.Fatalf("sources %q, want [spooldir]", got)
	}
	e, _ := env.Registry.Lookup(plugin.KindSource, "spooldir")
	if !strings.HasPrefix(e.Usage(), `spooldir("dir"{, suffix=".COMPLETED", deletePolicy="never|immediate"`) {
		t.Errorf("usage %q", e.Usage())
	}
}
