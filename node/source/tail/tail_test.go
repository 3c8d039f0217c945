package tail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
)

func TestTailFollowsAppends(t *testing.T) {
	path := logPath(t)
	appendTo(t, path, "a\nb\n")
	e := newEnv(fastPoll)
	r := &reader{t: t, s: e.OpenSource(t, tailSpec(path, ""))}
	if got := r.until(2); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("got %q", got)
	}
	appendTo(t, path, "c\nd\ne\n")
	if got := r.until(5); !slices.Equal(got, []string{"a", "b", "c", "d", "e"}) {
		t.Fatalf("got %q", got)
	}
	for _, ev := range r.got {
		if v, _ := ev.Attr(AttrTailSrcFile); string(v) != "app.log" {
			t.Fatalf("tailSrcFile = %q, want app.log", v)
		}
		if ev.Priority != event.INFO || ev.Host != event.Hostname() || ev.Timestamp == 0 {
			t.Fatalf("event not stamped: %+v", ev)
		}
	}
	if n := e.Counter("tail.events_in"); n != 5 {
		t.Errorf("events_in = %d, want 5", n)
	}
}

func TestTailStartFromEnd(t *testing.T) {
	path := logPath(t)
	appendTo(t, path, "old1\nold2\n")
	r := &reader{t: t, s: newEnv(fastPoll).OpenSource(t, tailSpec(path, ", true"))}
	r.quiet(50 * time.Millisecond)
	appendTo(t, path, "new\n")
	if got := r.until(1); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("got %q", got)
	}
}

func TestTailWaitsForAFileToAppear(t *testing.T) {
	path := logPath(t)
	r := &reader{t: t, s: newEnv(fastPoll).OpenSource(t, tailSpec(path, ", startFromEnd=true"))}
	r.quiet(50 * time.Millisecond)
	// A file that appears later is read from its start, whatever startFromEnd says.
	appendTo(t, path, "first\nsecond\n")
	if got := r.until(2); !slices.Equal(got, []string{"first", "second"}) {
		t.Fatalf("got %q", got)
	}
}

func TestTailHoldsAPartialLineUntilItIsComplete(t *testing.T) {
	path := logPath(t)
	appendTo(t, path, "a\npar")
	r := &reader{t: t, s: newEnv(fastPoll).OpenSource(t, tailSpec(path, ""))}
	r.until(1)
	r.quiet(50 * time.Millisecond)
	appendTo(t, path, "tial\n")
	if got := r.until(2); !slices.Equal(got, []string{"a", "partial"}) {
		t.Fatalf("got %q", got)
	}
}

func TestTailEmitsTheHeldLineOnClose(t *testing.T) {
	for _, during := range []bool{true, false} {
		t.Run(fmt.Sprintf("Next in progress %v", during), func(t *testing.T) {
			path := logPath(t)
			appendTo(t, path, "a\nunterminated")
			age(t, path)
			s := newEnv(fastPoll).OpenSource(t, tailSpec(path, ""))
			r := &reader{t: t, s: s}
			r.until(1)
			var got plugintest.NextResult
			if during {
				next := plugintest.GoNext(context.Background(), s)
				if err := s.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				got = next.Wait(t, 10*time.Second)
			} else {
				if err := s.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				got = plugintest.GoNext(context.Background(), s).Wait(t, 10*time.Second)
			}
			if got.Err != nil || !slices.Equal(got.Bodies, []string{"unterminated"}) {
				t.Fatalf("Next at Close = %q, %v; want the held line", got.Bodies, got.Err)
			}
			if _, err := s.Next(context.Background()); !errors.Is(err, io.EOF) {
				t.Fatalf("Next after the held line = %v, want io.EOF", err)
			}
		})
	}
}

// TestTailKeepsAFreshPartialLineAtClose checks that the unterminated last line of a file that
// changed just now (a write may be under way) is not emitted at Close: the position stays
// before it, and the next run reads the line whole.
func TestTailKeepsAFreshPartialLineAtClose(t *testing.T) {
	path := logPath(t)
	appendTo(t, path, "a\nhal")
	d := &flowSim{t: t, env: newEnv(fastPoll), spec: tailSpec(path, "")}
	d.run(func() bool { return len(d.got) >= 1 }, true)
	appendTo(t, path, "f\n")
	d.run(func() bool { return len(d.got) >= 2 }, true)
	if !slices.Equal(d.got, []string{"a", "half"}) {
		t.Fatalf("got %q", d.got)
	}
}

func TestTailFollowsRenameAndCreate(t *testing.T) {
	path := logPath(t)
	appendTo(t, path, "a\nb\n")
	r := &reader{t: t, s: newEnv(fastPoll).OpenSource(t, tailSpec(path, ""))}
	r.until(2)
	// Written before the rotation and not read yet, then an unterminated line.
	appendTo(t, path, "c\nhalf")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	// A writer still holding the old file adds to it before the new file appears.
	appendTo(t, path+".1", "-done\n")
	appendTo(t, path, "d\ne\n")
	want := []string{"a", "b", "c", "half-done", "d", "e"}
	if got := r.until(len(want)); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	appendTo(t, path, "f\n")
	if got := r.until(len(want) + 1); got[len(got)-1] != "f" {
		t.Fatalf("got %q", got)
	}
}

// TestTailRotatedFilesPartialLineComesWhenItIsReleased checks that the unterminated last line
// of a rotated file is held while a writer may still complete it, and emitted, whole, once the
// file stayed idle.
func TestTailRotatedFilesPartialLineComesWhenItIsReleased(t *testing.T) {
	path := logPath(t)
	appendTo(t, path, "x\nhalf")
	e := newEnv(fastPoll)
	r := &reader{t: t, s: e.OpenSource(t, tailSpec(path, ""))}
	r.until(1)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "y\n")
	if got := r.until(2); !slices.Equal(got, []string{"x", "y"}) {
		t.Fatalf("got %q", got)
	}
	// The old writer completes the line after the rotation.
	appendTo(t, path+".1", "-done")
	if got := r.until(3); !slices.Equal(got, []string{"x", "y", "half-done"}) {
		t.Fatalf("got %q", got)
	}
	if n := e.Counter("tail.files_released"); n != 1 {
		t.Errorf("files_released = %d, want 1", n)
	}
}

func TestTailRotationUnderLoadLosesAndRepeatsNothing(t *testing.T) {
	const perFile, files = 3000, 8
	path := logPath(t)
	appendTo(t, path, "") // tail holds the first file from Open on
	s := newEnv(fastPoll).OpenSource(t, tailSpec(path, ""))
	r := &reader{t: t, s: s}

	seq := 0
	for f := range files {
		// Write a file in pieces, rotate it, and write on into the new file; the reader
		// catches up only after the rotation, so it must finish the old file first.
		for i := 0; i < perFile; i += 500 {
			var b strings.Builder
			for j := 0; j < 500; j++ {
				fmt.Fprintf(&b, "line %06d\n", seq)
				seq++
			}
			appendTo(t, path, b.String())
		}
		if f < files-1 {
			if err := os.Rename(path, fmt.Sprintf("%s.%d", path, f)); err != nil {
				t.Fatal(err)
			}
			appendTo(t, path, fmt.Sprintf("line %06d\n", seq))
			seq++
		}
		r.until(seq)
	}
	for i, b := range plugintest.Bodies(r.got) {
		if want := fmt.Sprintf("line %06d", i); b != want {
			t.Fatalf("event %d = %q, want %q", i, b, want)
		}
	}
}

func TestTailRereadsATruncatedFile(t *testing.T) {
	path := logPath(t)
	appendTo(t, path, "first line\nsecond line\n")
	r := &reader{t: t, s: newEnv(fastPoll).OpenSource(t, tailSpec(path, ""))}
	r.until(2)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "new\n")
	if got := r.until(3); !slices.Equal(got, []string{"first line", "second line", "new"}) {
		t.Fatalf("got %q", got)
	}
}

func TestTailDelimiterModes(t *testing.T) {
	tests := []struct {
		name, args, content string
		want                []string // complete records
		held                string   // emitted at Close
	}{
		{"exclude", `, delim=";;"`, "a;;b;;c", []string{"a", "b"}, "c"},
		{"exclude explicit", `, delim=";+", delimMode="exclude"`, "a;b;;;c;", []string{"a", "b", "c"}, ""},
		{"prev", `, delim=";;", delimMode="prev"`, "a;;b;;c", []string{"a;;", "b;;"}, "c"},
		{"next", `, delim="BEGIN", delimMode="next"`, "BEGIN 1\nBEGIN 2\nBEGIN 3", []string{"BEGIN 1\n", "BEGIN 2\n"}, "BEGIN 3"},
		{"next with a head", `, delim="\\n(?:\\d)", delimMode="next"`, "head\n1 x\n2 y", []string{"head", "\n1 x"}, "\n2 y"},
		{"regex classes", `, delim="\\s*\\|\\s*"`, "a | b|c  |  d", []string{"a", "b", "c"}, "d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := logPath(t)
			appendTo(t, path, tt.content)
			age(t, path)
			s := newEnv(fastPoll).OpenSource(t, tailSpec(path, tt.args))
			r := &reader{t: t, s: s}
			if got := r.until(len(tt.want)); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			got, err := s.Next(context.Background())
			if tt.held == "" {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("Next after Close = %q, %v; want io.EOF", plugintest.Bodies(got), err)
				}
				return
			}
			if err != nil || !slices.Equal(plugintest.Bodies(got), []string{tt.held}) {
				t.Fatalf("Next after Close = %q, %v; want %q", plugintest.Bodies(got), err, tt.held)
			}
		})
	}
}

func TestTailOversizeLines(t *testing.T) {
	props := map[string]string{"flume.tail.pollperiod": "10", "flume.event.max.size.bytes": "5"}
	tests := []struct {
		args                       string
		want                       []string
		truncated, rejected, split int64
	}{
		{"", []string{"abc", "12345", "z"}, 1, 0, 0},
		{`, oversize="reject"`, []string{"abc", "z"}, 0, 1, 0},
		{`, oversize="split"`, []string{"abc", "12345", "67890", "z"}, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			path := logPath(t)
			appendTo(t, path, "abc\n1234567890\nz\n")
			e := newEnv(props)
			r := &reader{t: t, s: e.OpenSource(t, tailSpec(path, tt.args))}
			if got := r.until(len(tt.want)); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if n := e.Counter("tail.events_truncated"); n != tt.truncated {
				t.Errorf("events_truncated = %d, want %d", n, tt.truncated)
			}
			if n := e.Counter("tail.events_rejected"); n != tt.rejected {
				t.Errorf("events_rejected = %d, want %d", n, tt.rejected)
			}
			if n := e.Counter("tail.events_split"); n != tt.split {
				t.Errorf("events_split = %d, want %d", n, tt.split)
			}
		})
	}
}

// TestTailSplitLineResumesMidLine crashes the flow after the first pieces of a long line that
// is still being written: the restarted source goes on from the last piece delivered, so the
// pieces make up the line, byte for byte, once.
func TestTailSplitLineResumesMidLine(t *testing.T) {
	path := logPath(t)
	props := map[string]string{"flume.tail.pollperiod": "10", "flume.event.max.size.bytes": "4096"}
	long := strings.Repeat("0123456789", 1000)
	appendTo(t, path, long[:9000]) // two pieces, and 808 bytes waiting for the rest
	d := &flowSim{t: t, env: newEnv(props), spec: tailSpec(path, `, oversize="split"`)}
	d.run(func() bool { return len(d.got) >= 2 }, false)
	appendTo(t, path, long[9000:]+"\nshort\n")
	d.run(func() bool { return len(d.got) >= 4 }, true)
	want := []string{long[:4096], long[4096:8192], long[8192:], "short"}
	if !slices.Equal(d.got, want) {
		t.Fatalf("got pieces of %v bytes, want %v", lens(d.got), lens(want))
	}
}

func lens(ss []string) []int {
	var out []int
	for _, s := range ss {
		out = append(out, len(s))
	}
	return out
}

func TestTailNextEndsWithContextAndClose(t *testing.T) {
	path := logPath(t)
	s := newEnv(nil).OpenSource(t, tailSpec(path, "")) // default poll: 1 s
	ctx, cancel := context.WithCancel(context.Background())
	next := plugintest.GoNext(ctx, s)
	cancel()
	if r := next.Wait(t, 10*time.Second); !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("Next = %v, want context.Canceled", r.Err)
	}
	next = plugintest.GoNext(context.Background(), s)
	start := time.Now()
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := next.Wait(t, 10*time.Second); !errors.Is(r.Err, io.EOF) {
		t.Fatalf("Next = %v, want io.EOF", r.Err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Close took %v to unblock Next", d)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestTailOpenErrors(t *testing.T) {
	dir := t.TempDir()
	s, err := newEnv(nil).BuildSource(t, tailSpec(dir, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if err := s.Open(context.Background()); err == nil || !strings.Contains(err.Error(), dir) || !errors.Is(err, ErrIsDir) {
		t.Fatalf("Open = %v, want an error naming %s", err, dir)
	}
	var never plugin.Source
	if never, err = newEnv(nil).BuildSource(t, tailSpec(logPath(t), "")); err != nil {
		t.Fatal(err)
	}
	if _, err := never.Next(context.Background()); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("Next before Open = %v", err)
	}
	if err := never.Close(context.Background()); err != nil {
		t.Fatalf("Close without Open: %v", err)
	}
}

func TestTailArguments(t *testing.T) {
	tests := []struct{ spec, wantErr string }{
		{`tail("")`, "1:6: tail: argument file: empty file name"},
		{`tail("/x", delim="(")`, "1:18: tail: argument delim: error parsing regexp"},
		{`tail("/x", delim="a*")`, `1:18: tail: argument delim: delimiter "a*" matches the empty string`},
		{`tail("/x", delim=";", delimMode="around")`, `1:33: tail: argument delimMode: unknown delimiter mode "around"`},
		{`tail("/x", delimMode="prev")`, `tail: argument delimMode: needs delim="regex"`},
		{`tail("/x", "maybe")`, "argument startFromEnd"},
		{`tail("/x", true, 3)`, `too many arguments (3 given, at most 2); usage: tail("file"[, startFromEnd=false]{, delim="regex", delimMode="exclude|prev|next", oversize="truncate|reject|split"})`},
		{`tail("/x", oversize="cut")`, "argument oversize"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := newEnv(nil).BuildSource(t, tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("build = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
