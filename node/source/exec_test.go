package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin/plugintest"
)

func attr(e *event.Event, key string) string {
	v, _ := e.Attr(key)
	return string(v)
}

func TestExecTagsStdoutAndStderr(t *testing.T) {
	cmd := `sh -c 'echo out1; echo err1 >&2; echo out2'`
	evs := drain(t, newEnv(nil).OpenSource(t, fmt.Sprintf("exec(%q)", cmd)))
	byTag := map[string][]string{}
	for _, e := range evs {
		tag := attr(e, AttrProcSource)
		byTag[tag] = append(byTag[tag], string(e.Body))
		if attr(e, AttrExecCmd) != cmd || attr(e, AttrService) != "exec" {
			t.Errorf("event %q has attributes execcmd=%q service=%q", e.Body, attr(e, AttrExecCmd), attr(e, AttrService))
		}
		if e.Priority != event.INFO || e.Host != event.Hostname() || e.Timestamp == 0 {
			t.Errorf("event %+v is not stamped", e)
		}
	}
	if got := byTag[ProcStdout]; !slices.Equal(got, []string{"out1", "out2"}) {
		t.Errorf("stdout events %q", got)
	}
	if got := byTag[ProcStderr]; !slices.Equal(got, []string{"err1"}) {
		t.Errorf("stderr events %q", got)
	}
	if len(byTag) != 2 {
		t.Errorf("tags %v", byTag)
	}
}

func TestExecOutput(t *testing.T) {
	tests := []struct {
		name, spec string
		props      map[string]string
		want       []string
		truncated  int64
	}{
		{"unterminated last line", `exec("printf abc")`, nil, []string{"abc"}, 0},
		{"lines", `execStream("printf 'a\\nb\\n'")`, nil, []string{"a", "b"}, 0},
		{"non-zero exit ends quietly", `exec("sh -c 'echo x; exit 3'")`, nil, []string{"x"}, 0},
		{"aggregate", `exec("printf 'a\\nb\\n'", true)`, nil, []string{"a\nb\n"}, 0},
		{"no output, no event", `exec("true", true)`, nil, nil, 0},
		{"long line truncated", `exec("echo abcdefgh")`, map[string]string{"flume.event.max.size.bytes": "4"}, []string{"abcd"}, 1},
		{"long output truncated", `exec("echo abcdefgh", aggregate=true)`, map[string]string{"flume.event.max.size.bytes": "4"}, []string{"abcd"}, 1},
		{"long line rejected", `exec("echo abcdefgh", oversize="reject")`, map[string]string{"flume.event.max.size.bytes": "4"}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(tt.props)
			got := plugintest.Bodies(drain(t, e.OpenSource(t, tt.spec)))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			name := strings.SplitN(tt.spec, "(", 2)[0]
			if n := e.Counter(name + ".events_truncated"); n != tt.truncated {
				t.Errorf("events_truncated = %d, want %d", n, tt.truncated)
			}
		})
	}
}

func TestExecPeriodicRunsAgain(t *testing.T) {
	tests := []struct{ spec, want string }{
		{`execPeriodic("echo tick", 10)`, "tick\n"},
		{`exec("echo tock", false, true, 5)`, "tock"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s := newEnv(nil).OpenSource(t, tt.spec)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var got []string
			for len(got) < 3 {
				batch, err := s.Next(ctx)
				if err != nil {
					t.Fatalf("Next after %d events: %v", len(got), err)
				}
				for _, e := range batch {
					got = append(got, string(e.Body))
				}
			}
			for _, b := range got {
				if b != tt.want {
					t.Fatalf("events %q, want each %q", got, tt.want)
				}
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// procState returns the state letter of a process ('R', 'S', 'Z'...) or 0 if it is gone.
func procState(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

func TestExecCloseKillsTheProcessGroup(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	// The shell starts two children that would outlive it, and reports all three pids.
	cmd := `sh -c 'sleep 100 & echo $!; sleep 100 & echo $!; echo $$; wait'`
	s := newEnv(nil).OpenSource(t, fmt.Sprintf("execStream(%q)", cmd))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var pids []int
	for len(pids) < 3 {
		batch, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		for _, e := range batch {
			pid, err := strconv.Atoi(string(e.Body))
			if err != nil {
				t.Fatalf("not a pid: %q", e.Body)
			}
			pids = append(pids, pid)
		}
	}
	for _, pid := range pids {
		if st := procState(pid); st == 0 || st == 'Z' {
			t.Fatalf("pid %d is not running before Close (state %q)", pid, st)
		}
	}
	start := time.Now()
	if got, err := stop(t, s); len(got) != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("Next after Close = %q, %v; want io.EOF", got, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %v", d)
	}
	// The shell is our child: it must be reaped, not left a zombie. Its children were
	// adopted by init when it died; they must have been killed (a zombie awaiting init is
	// dead).
	shell := pids[2]
	plugintest.Eventually(t, 5*time.Second, func() bool { return procState(shell) == 0 },
		func() string { return fmt.Sprintf("shell %d not reaped", shell) })
	for _, pid := range pids[:2] {
		plugintest.Eventually(t, 5*time.Second, func() bool {
			st := procState(pid)
			return st == 0 || st == 'Z' || st == 'X'
		}, func() string { return fmt.Sprintf("child %d still alive", pid) })
	}
}

func TestExecMissingCommandIsAnOpenError(t *testing.T) {
	s, err := newEnv(nil).BuildSource(t, `exec("no-such-command-xyzzy --flag")`)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no-such-command-xyzzy") {
		t.Fatalf("Open = %v, want an error naming the command", err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestExecArguments(t *testing.T) {
	tests := []struct{ spec, wantErr string }{
		{`exec("")`, "1:6: exec: argument cmd: empty command"},
		{`exec("sh -c 'echo")`, "1:6: exec: argument cmd: unterminated quote"},
		{`exec("ls", "maybe")`, "argument aggregate"},
		{`execPeriodic("ls")`, "missing argument period"},
		{`execStream("ls", true)`, "too many arguments"},
		{`exec("ls", false, true, "soon")`, "argument period"},
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

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr error
	}{
		{"ls -l /tmp", []string{"ls", "-l", "/tmp"}, nil},
		{"  tail\t-F  x ", []string{"tail", "-F", "x"}, nil},
		{`sh -c 'echo a | wc -l'`, []string{"sh", "-c", "echo a | wc -l"}, nil},
		{`echo "a \"b\" \\ c" 'd\e'`, []string{"echo", `a "b" \ c`, `d\e`}, nil},
		{`echo a\ b`, []string{"echo", "a b"}, nil},
		{`echo '' ""`, []string{"echo", "", ""}, nil},
		{`echo x'y'"z"`, []string{"echo", "xyz"}, nil},
		{"", nil, errEmptyCommand},
		{"   ", nil, errEmptyCommand},
		{`echo 'a`, nil, errUnclosedQuote},
		{`echo "a`, nil, errUnclosedQuote},
		{`echo a\`, nil, errTrailingEscape},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := splitCommand(tt.in)
			if !errors.Is(err, tt.wantErr) || !slices.Equal(got, tt.want) {
				t.Fatalf("splitCommand(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
