package tail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin/plugintest"
)

func dirSpec(dir, extra string) string { return fmt.Sprintf("tailDir(%q%s)", dir, extra) }

// byFile groups the bodies of events by their tailSrcFile.
func byFile(evs []*event.Event) map[string][]string {
	m := make(map[string][]string)
	for _, e := range evs {
		v, _ := e.Attr(AttrTailSrcFile)
		m[string(v)] = append(m[string(v)], string(e.Body))
	}
	return m
}

func TestTailDirFollowsMatchingFilesAsTheyComeAndGo(t *testing.T) {
	dir := t.TempDir()
	appendTo(t, filepath.Join(dir, "a.log"), "a1\n")
	appendTo(t, filepath.Join(dir, "b.txt"), "b1\n") // does not match
	appendTo(t, filepath.Join(dir, "xa.log.old"), "x\n")
	e := newEnv(fastPoll)
	r := &reader{t: t, s: e.OpenSource(t, dirSpec(dir, `, fileregex=".*\\.log"`))}
	r.until(1)
	appendTo(t, filepath.Join(dir, "c.log"), "c1\nc2\n")
	appendTo(t, filepath.Join(dir, "a.log"), "a2\n")
	r.until(4)
	if err := os.Remove(filepath.Join(dir, "a.log")); err != nil {
		t.Fatal(err)
	}
	appendTo(t, filepath.Join(dir, "c.log"), "c3\n")
	r.until(5)
	want := map[string][]string{"a.log": {"a1", "a2"}, "c.log": {"c1", "c2", "c3"}}
	if got := byFile(r.got); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// The source works in Next: it releases the file while it waits for more.
	plugintest.Eventually(t, 10*time.Second, func() bool {
		r.quiet(20 * time.Millisecond)
		return e.Counter("tailDir.files_released") == 1
	}, func() string { return "the deleted file was not released" })
	if n := e.Counter("tailDir.files_followed"); n != 1 {
		t.Errorf("files_followed = %d, want 1", n)
	}
}

func TestTailDirRecurseDepth(t *testing.T) {
	for _, depth := range []int{0, 1, 2} {
		t.Run(fmt.Sprint(depth), func(t *testing.T) {
			dir := t.TempDir()
			for i, sub := range []string{"", "s1", "s1/s2"} {
				if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
					t.Fatal(err)
				}
				appendTo(t, filepath.Join(dir, sub, fmt.Sprintf("f%d.log", i)), fmt.Sprintf("level %d\n", i))
			}
			r := &reader{t: t, s: newEnv(fastPoll).OpenSource(t, dirSpec(dir, fmt.Sprintf(`, ".*", false, %d`, depth)))}
			got := r.until(depth + 1)
			sort.Strings(got)
			if want := []string{"level 0", "level 1", "level 2"}[:depth+1]; !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			r.quiet(100 * time.Millisecond)
			// A directory made later is scanned too, within the depth.
			if err := os.MkdirAll(filepath.Join(dir, "n1"), 0o755); err != nil {
				t.Fatal(err)
			}
			appendTo(t, filepath.Join(dir, "n1", "late.log"), "late\n")
			if depth > 0 {
				if got := r.until(depth + 2); got[len(got)-1] != "late" {
					t.Fatalf("got %q", got)
				}
			} else {
				r.quiet(100 * time.Millisecond)
			}
		})
	}
}

func TestTailDirStartFromEnd(t *testing.T) {
	dir := t.TempDir()
	appendTo(t, filepath.Join(dir, "a.log"), "old\n")
	r := &reader{t: t, s: newEnv(fastPoll).OpenSource(t, dirSpec(dir, `, ".*", true`))}
	r.quiet(50 * time.Millisecond)
	appendTo(t, filepath.Join(dir, "a.log"), "new\n")
	appendTo(t, filepath.Join(dir, "b.log"), "b from its start\n")
	got := r.until(2)
	sort.Strings(got)
	if !slices.Equal(got, []string{"b from its start", "new"}) {
		t.Fatalf("got %q", got)
	}
}

// TestTailDirManyFilesKeepsDescriptorsBounded follows 3000 files with at most 64 open: every
// line comes once, in two rounds (the second makes every file be opened again by name), and
// the process never holds more descriptors than the bound allows.
func TestTailDirManyFilesKeepsDescriptorsBounded(t *testing.T) {
	const files, maxOpen = 3000, 64
	dir := t.TempDir()
	var want []string
	write := func(round int) {
		for i := range files {
			line := fmt.Sprintf("f%04d r%d", i, round)
			appendTo(t, filepath.Join(dir, fmt.Sprintf("f%04d.log", i)), line+"\n")
			want = append(want, line)
		}
	}
	write(0)
	base := fdCount(t)
	d := &flowSim{t: t, env: newEnv(fastPoll), spec: dirSpec(dir, ""), setup: func(s *Source) { s.cfg.maxOpen = maxOpen }}
	peak := 0
	deadline := time.Now().Add(30 * time.Second)
	d.run(func() bool {
		peak = max(peak, fdCount(t))
		if len(d.got) == files {
			write(1) // while the source runs
		}
		return len(d.got) >= 2*files || time.Now().After(deadline)
	}, true)
	checkOnce(t, d.got, want)
	// The bound, the watcher's descriptors and the directory listing.
	if limit := base + maxOpen + 8; peak > limit {
		t.Errorf("up to %d descriptors open, want at most %d", peak, limit)
	}
	if n := len(d.pos); n > files*16 {
		t.Errorf("position of %d bytes for %d files", n, files)
	}
	// A restart finds every file again, and reads nothing twice.
	write(2)
	deadline = time.Now().Add(30 * time.Second)
	d.run(func() bool { return len(d.got) >= 3*files || time.Now().After(deadline) }, true)
	checkOnce(t, d.got, want)
}

// TestTailDirFileReplacedWhileClosed deletes and creates again a file whose descriptor was
// closed for room: the new file is read from its start, whatever inode it got.
func TestTailDirFileReplacedWhileClosed(t *testing.T) {
	dir := t.TempDir()
	for i := range 4 {
		appendTo(t, filepath.Join(dir, fmt.Sprintf("f%d.log", i)), fmt.Sprintf("old %d\n", i))
	}
	e := newEnv(fastPoll)
	s, err := e.BuildSource(t, dirSpec(dir, ""))
	if err != nil {
		t.Fatal(err)
	}
	s.(*Source).cfg.maxOpen = 1
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	r := &reader{t: t, s: s}
	r.until(4)
	path := filepath.Join(dir, "f0.log")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "new 0 which is longer\n")
	got := r.until(5)
	if got[4] != "new 0 which is longer" {
		t.Fatalf("got %q", got)
	}
}

// TestTailDirRenamedFileIsNotReadAgain renames a followed file to another name that matches:
// it is followed on under the new name, not read again as a new file.
func TestTailDirRenamedFileIsNotReadAgain(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	appendTo(t, path, joinLines(numbered(0, 10)))
	d := &flowSim{t: t, env: logTo(t, newEnv(fastPoll)), spec: dirSpec(dir, "")}
	d.run(func() bool { return len(d.got) >= 10 }, false)
	// While running...
	deadline := time.Now().Add(10 * time.Second)
	step := 0
	d.run(func() bool {
		if step == 0 {
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			appendTo(t, path+".1", joinLines(numbered(10, 20)))
			appendTo(t, path, joinLines(numbered(20, 30)))
			step++
		}
		return len(d.got) >= 30 || time.Now().After(deadline)
	}, false)
	// ...and while down.
	if err := os.Rename(path, path+".2"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path+".2", joinLines(numbered(30, 40)))
	deadline = time.Now().Add(10 * time.Second)
	d.run(func() bool { return len(d.got) >= 40 || time.Now().After(deadline) }, false)
	checkOnce(t, d.got, numbered(0, 40))
}
