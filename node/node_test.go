package node

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/node/flow"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/spec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func parse(t *testing.T, text string) []*spec.NodeDef {
	t.Helper()
	defs, err := spec.ParseNodes(text)
	if err != nil {
		t.Fatal(err)
	}
	return defs
}

func TestNodeRunsEveryLogicalNodeToItsEnd(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.WriteFile(in, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := &plugintest.Buffer{}
	n := New(Config{Name: "phys", Stdout: out}, builtin.Registry())
	err := n.Start(parse(t, fmt.Sprintf(`one : text(%q) | console(raw) ; two : asciisynth(50, 10) | counter("seen") ;`, in)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if out.String() != "a\nb\nc\n" {
		t.Fatalf("console got %q", out.String())
	}
	st := n.Statuses()
	if len(st) != 2 || st["one"].State != flow.StateIdle || st["two"].State != flow.StateIdle {
		t.Fatalf("statuses %+v, want both IDLE", st)
	}
	if st["two"].Events != 50 {
		t.Fatalf("two moved %d events, want 50", st["two"].Events)
	}
	var counted int64
	for _, v := range n.Metrics().Snapshot() {
		if strings.HasPrefix(v.Name, "two.") && strings.HasSuffix(v.Name, ".seen") {
			counted = v.Value
		}
	}
	if counted != 50 {
		t.Fatalf("counter sink of two counted %d under the node's metrics, want 50", counted)
	}
}

func TestNodeStartIsAllOrNothing(t *testing.T) {
	n := New(Config{}, builtin.Registry())
	err := n.Start(parse(t, `good : asciisynth(1, 1) | null ; bad : asciisynth(1, 1) | nul ; dup : null | null ; dup : null | null ;`))
	var got []string
	for _, e := range spec.Errors(err) {
		got = append(got, e.Error())
	}
	want := []string{`1:59: unknown sink "nul"; did you mean "null"?`, `1:85: logical node "dup" is defined twice`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(n.Statuses()) != 0 {
		t.Fatalf("a spec with errors started %d logical nodes", len(n.Statuses()))
	}
}

func TestNodeRefusesALogicalNodeAlreadyRunning(t *testing.T) {
	n := New(Config{}, builtin.Registry())
	if err := n.Start(parse(t, `a : asciisynth(0, 10) | null ;`)); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = n.Stop(context.Background()) }()
	err := n.Start(parse(t, `a : null | null ;`))
	if err == nil || !strings.Contains(err.Error(), `logical node "a" is already running`) {
		t.Fatalf("second start of a: %v", err)
	}
}

func TestNodeStopEndsEndlessFlows(t *testing.T) {
	n := New(Config{}, builtin.Registry())
	if err := n.Start(parse(t, `a : asciisynth(0, 10) | null ; b : synth(0, 10) | null ;`)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for name, s := range n.Statuses() {
		if s.State != flow.StateIdle {
			t.Fatalf("%s is %v after stop, want IDLE", name, s.State)
		}
	}
}

func TestNodeReportsFailedLogicalNodes(t *testing.T) {
	n := New(Config{}, builtin.Registry())
	if err := n.Start(parse(t, `ok : null | null ; broken : asciisynth(5, 5) | fail("no space left") ;`)); err != nil {
		t.Fatal(err)
	}
	err := n.Wait(context.Background())
	if err == nil || !strings.Contains(err.Error(), "logical node broken") || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("wait: %v", err)
	}
	if s := n.Statuses()["broken"]; s.State != flow.StateError {
		t.Fatalf("broken is %v", s.State)
	}
}

// TestNodeResumesASourceWhoseSinkKeepsNoPositions stops a node that tails a file into the
// console, and starts another on the same data directory: the tail goes on where the first
// stopped, from the position file of the logical node, instead of reading the file again.
func TestNodeResumesASourceWhoseSinkKeepsNoPositions(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.log")
	if err := os.WriteFile(in, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	text := fmt.Sprintf(`one : tail(%q) | console(raw) ;`, in)
	run := func(want string, before func()) {
		t.Helper()
		out := &plugintest.Buffer{}
		n := New(Config{Name: "phys", Stdout: out, DataDir: data, Props: map[string]string{"flume.tail.pollperiod": "20"}}, builtin.Registry())
		if err := n.Start(parse(t, text)); err != nil {
			t.Fatal(err)
		}
		if before != nil {
			before()
		}
		plugintest.Eventually(t, 10*time.Second, func() bool { return out.String() == want },
			func() string { return fmt.Sprintf("console got %q, want %q", out.String(), want) })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Fatalf("console got %q after the stop, want %q", out.String(), want)
		}
	}
	run("a\nb\nc\n", nil)
	if _, err := os.Stat(filepath.Join(data, "logical", "one", "position")); err != nil {
		t.Fatalf("no position file: %v", err)
	}
	run("d\n", func() {
		f, err := os.OpenFile(in, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString("d\n"); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestNodeReadsAFinishedFileAgain runs a text flow to its end twice on the same data
// directory: a flow whose source ended starts over, as on its first run.
func TestNodeReadsAFinishedFileAgain(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.WriteFile(in, []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for run := range 2 {
		out := &plugintest.Buffer{}
		n := New(Config{Name: "phys", Stdout: out, DataDir: filepath.Join(dir, "data")}, builtin.Registry())
		if err := n.Start(parse(t, fmt.Sprintf(`one : text(%q) | console(raw) ;`, in))); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := n.Wait(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != "a\nb\n" {
			t.Fatalf("run %d: console got %q", run+1, out.String())
		}
	}
}

// TestNodeStartsOverOnABadPositionFile gives a tail flow a position file it cannot use: one
// that holds no position makes it start over, reading the file from its start, and the log
// names the file; one it cannot read or replace (a directory in its place) stops the flow with
// an error naming the file, after the lines it read were delivered.
func TestNodeStartsOverOnABadPositionFile(t *testing.T) {
	run := func(t *testing.T, spoil func(path string) error) (n *Node, out, logs *plugintest.Buffer, posFile string) {
		t.Helper()
		dir := t.TempDir()
		in := filepath.Join(dir, "in.log")
		if err := os.WriteFile(in, []byte("a\nb\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(dir, "data")
		posFile = filepath.Join(data, "logical", "one", "position")
		if err := os.MkdirAll(filepath.Dir(posFile), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := spoil(posFile); err != nil {
			t.Fatal(err)
		}
		out, logs = &plugintest.Buffer{}, &plugintest.Buffer{}
		n = New(Config{Name: "phys", Stdout: out, DataDir: data, Logger: slog.New(slog.NewTextHandler(logs, nil)),
			Props: map[string]string{"flume.tail.pollperiod": "20"}}, builtin.Registry())
		if err := n.Start(parse(t, fmt.Sprintf(`one : tail(%q) | console(raw) ;`, in))); err != nil {
			t.Fatal(err)
		}
		plugintest.Eventually(t, 10*time.Second, func() bool { return out.String() == "a\nb\n" },
			func() string { return fmt.Sprintf("console got %q\n%s", out.String(), logs.String()) })
		return n, out, logs, posFile
	}
	stop := func(n *Node) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return n.Stop(ctx)
	}
	t.Run("garbage", func(t *testing.T) {
		n, _, logs, posFile := run(t, func(path string) error { return os.WriteFile(path, []byte("{not a position"), 0o640) })
		if err := stop(n); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs.String(), posFile) || !strings.Contains(logs.String(), "does not decode") {
			t.Errorf("the log does not say that the position in %s does not decode:\n%s", posFile, logs.String())
		}
	})
	t.Run("a directory", func(t *testing.T) {
		n, _, logs, posFile := run(t, func(path string) error { return os.Mkdir(path, 0o750) })
		err := stop(n)
		if err == nil || !strings.Contains(err.Error(), posFile) {
			t.Fatalf("stop = %v, want an error naming %s", err, posFile)
		}
		if !strings.Contains(logs.String(), "cannot read the source's position file") {
			t.Errorf("the log does not say the position file cannot be read:\n%s", logs.String())
		}
	})
}
