package tail

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
)

func TestMultitailFollowsEveryFile(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	appendTo(t, a, "a1\n")
	e := newEnv(fastPoll)
	r := &reader{t: t, s: e.OpenSource(t, `multitail("`+a+`", "`+b+`")`)}
	r.until(1)
	appendTo(t, b, "b1\nb2\n")
	if err := os.Rename(a, a+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, a, "a2\n")
	r.until(4)
	got := byFile(r.got)
	if !slices.Equal(got["a.log"], []string{"a1", "a2"}) || !slices.Equal(got["b.log"], []string{"b1", "b2"}) {
		t.Fatalf("got %v", got)
	}
	if n := e.Counter("multitail.events_in"); n != 4 {
		t.Errorf("events_in = %d, want 4", n)
	}
}

// TestTailPassesBytesAsTheyAre checks CRLF, NUL, invalid UTF-8 and an empty line: each line is
// its bytes without the '\n', a '\r' before it kept, as classic tail did.
func TestTailPassesBytesAsTheyAre(t *testing.T) {
	path := logPath(t)
	appendTo(t, path, "dos\r\n\x00bin\xff\xfe\n\nlast")
	age(t, path)
	s := newEnv(fastPoll).OpenSource(t, tailSpec(path, ""))
	r := &reader{t: t, s: s}
	got := r.until(3)
	if want := []string{"dos\r", "\x00bin\xff\xfe", ""}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	evs, err := plugintest.Stop(t, s, 10*time.Second, 0)
	if err == nil || len(evs) != 1 || string(evs[0].Body) != "last" {
		t.Fatalf("after Close: %q, %v", plugintest.Bodies(evs), err)
	}
}

// TestTailReportsANameItCannotFollow checks a name that is not a regular file: the flow is
// not stopped, Condition says why, and the file is followed once it is one.
func TestTailReportsANameItCannotFollow(t *testing.T) {
	path := logPath(t)
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skip("no FIFOs:", err)
	}
	s := newEnv(fastPoll).OpenSource(t, tailSpec(path, ""))
	r := &reader{t: t, s: s}
	r.quiet(50 * time.Millisecond)
	cd := s.(plugin.Conditioner)
	if c := cd.Condition(); !strings.Contains(c, "not a regular file") || !strings.Contains(c, path) {
		t.Fatalf("Condition = %q", c)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "now a file\n")
	if got := r.until(1); got[0] != "now a file" {
		t.Fatalf("got %q", got)
	}
	if c := cd.Condition(); c != "" {
		t.Fatalf("Condition = %q after the file came", c)
	}
}

// TestTailRetriesAFileItCannotRead checks that permission denied does not stop the flow: it is
// reported, and the file is read once it can be.
func TestTailRetriesAFileItCannotRead(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file")
	}
	path := logPath(t)
	appendTo(t, path, "secret\n")
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	s := newEnv(fastPoll).OpenSource(t, tailSpec(path, ""))
	r := &reader{t: t, s: s}
	r.quiet(50 * time.Millisecond)
	if c := s.(plugin.Conditioner).Condition(); !strings.Contains(c, "permission denied") {
		t.Fatalf("Condition = %q", c)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := r.until(1); got[0] != "secret" {
		t.Fatalf("got %q", got)
	}
}

func TestTailDirOpenErrors(t *testing.T) {
	file := logPath(t)
	appendTo(t, file, "x\n")
	s, err := newEnv(nil).BuildSource(t, dirSpec(file, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if err := s.Open(context.Background()); !errors.Is(err, ErrNotDir) || !plugin.IsPermanent(err) {
		t.Fatalf("Open = %v, want a permanent ErrNotDir", err)
	}
	// A directory that does not exist yet is waited for.
	dir := filepath.Join(t.TempDir(), "later")
	r := &reader{t: t, s: newEnv(fastPoll).OpenSource(t, dirSpec(dir, ""))}
	r.quiet(50 * time.Millisecond)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	appendTo(t, filepath.Join(dir, "a.log"), "a\n")
	if got := r.until(1); got[0] != "a" {
		t.Fatalf("got %q", got)
	}
}

func TestMultitailAndTailDirArguments(t *testing.T) {
	tests := []struct{ spec, wantErr string }{
		{`multitail()`, "missing argument"},
		{`multitail("a", "")`, "argument file: empty file name"},
		{`multitail("a", "./a")`, `argument file: "a" given twice`},
		{`multitail("a", delimMode="prev")`, `needs delim="regex"`},
		{`tailDir("")`, "argument dir: empty directory name"},
		{`tailDir("/d", "(")`, "argument fileregex: error parsing regexp"},
		{`tailDir("/d", ".*", false, "-1")`, "argument recurseDepth: want 0 to 64, got -1"},
		{`tailDir("/d", ".*", false, 0, 1)`, "too many arguments"},
		{`tailDir("/d", delim="a*")`, "matches the empty string"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := newEnv(nil).BuildSource(t, tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("build = %v, want %q", err, tt.wantErr)
			}
		})
	}
	for _, ok := range []string{`multitail("a", "b", delim=";")`, `tailDir("/d", "x.*\\.log", true, 3, oversize="reject")`} {
		if _, err := newEnv(nil).BuildSource(t, ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

// TestMultitailResumesTheNamesItKeeps checks a restart with other names: a name kept is read
// on from its position, a new name from its start.
func TestMultitailResumesTheNamesItKeeps(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log"), filepath.Join(dir, "c.log")
	appendTo(t, a, "a1\n")
	appendTo(t, b, "b1\n")
	d := &flowSim{t: t, env: newEnv(fastPoll), spec: `multitail("` + a + `", "` + b + `")`}
	d.run(func() bool { return len(d.got) >= 2 }, true)
	appendTo(t, b, "b2\n")
	appendTo(t, c, "c1\n")
	d.spec = `multitail("` + b + `", "` + c + `")`
	deadline := time.Now().Add(10 * time.Second)
	d.run(func() bool { return len(d.got) >= 4 || time.Now().After(deadline) }, true)
	checkOnce(t, d.got, []string{"a1", "b1", "b2", "c1"})
}
