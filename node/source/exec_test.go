package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
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
		{"long line split", `exec("echo abcdefghij", oversize="split")`, map[string]string{"flume.event.max.size.bytes": "4"}, []string{"abcd", "efgh", "ij"}, 0},
		{"long output split", `exec("echo abcdefghij", aggregate=true, oversize="split")`, map[string]string{"flume.event.max.size.bytes": "4"}, []string{"abcd", "efgh", "ij\n"}, 0},
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
	const want = `exec "no-such-command-xyzzy": executable file not found in $PATH`
	if err == nil || err.Error() != want || !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("Open = %v, want %q wrapping exec.ErrNotFound", err, want)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestExecMissingCommandUnderAShell checks that under a shell, where the shell is what starts,
// the shell's complaint is delivered and the run counted as failed.
func TestExecMissingCommandUnderAShell(t *testing.T) {
	e := newEnv(nil)
	evs := drain(t, e.OpenSource(t, `exec("no-such-command-xyzzy", shell=true)`))
	if len(evs) != 1 || attr(evs[0], AttrProcSource) != ProcStderr ||
		!strings.Contains(string(evs[0].Body), "no-such-command-xyzzy") {
		t.Fatalf("events %q, want the shell's complaint on stderr", plugintest.Bodies(evs))
	}
	if runs, failed := e.Counter("exec.runs"), e.Counter("exec.run_failures"); runs != 1 || failed != 1 {
		t.Errorf("runs = %d, run_failures = %d; want 1 and 1", runs, failed)
	}
}

// TestExecRunsWithoutAShellUnlessAsked checks that shell syntax is passed to the command as
// text unless shell= asks for a shell, and that shell= runs the shell named.
func TestExecRunsWithoutAShellUnlessAsked(t *testing.T) {
	tests := []struct {
		spec string
		want []string
	}{
		{`exec("echo a | tr a b")`, []string{"a | tr a b"}},
		{`exec("echo $HOME *")`, []string{"$HOME *"}},
		{`exec("echo a | tr a b", shell=true)`, []string{"b"}},
		{`exec("echo a | tr a b", shell=false)`, []string{"a | tr a b"}},
		{`exec("echo $0", shell="sh -c")`, []string{"sh"}},
		{`execStream("echo x; echo y >&2", shell=true)`, []string{"x", "y"}},
		{`execPeriodic("echo a | tr a c", 10, shell=true)`, []string{"c\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s := newEnv(nil).OpenSource(t, tt.spec)
			var got []string
			if strings.HasPrefix(tt.spec, "execPeriodic") {
				// It runs for ever: the first run is enough.
				batch, err := s.Next(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				got = plugintest.Bodies(batch[:1])
			} else {
				got = plugintest.Bodies(drain(t, s))
				slices.Sort(got) // stdout and stderr are read apart
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("events %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRestartDelay(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name                  string
		period, throttle, ran time.Duration
		failed                bool
		want                  time.Duration
	}{
		{"period paces successful runs", 10 * ms, 1000 * ms, 2 * ms, false, 10 * ms},
		{"quick failure waits for the throttle", 10 * ms, 1000 * ms, 2 * ms, true, 998 * ms},
		{"no period: quick success waits for the throttle", 0, 1000 * ms, 300 * ms, false, 700 * ms},
		{"long failed run restarts at once", 0, 1000 * ms, time.Hour, true, 0},
		{"long failed run keeps its period", 50 * ms, 1000 * ms, time.Hour, true, 50 * ms},
		{"period longer than the throttle", 5000 * ms, 1000 * ms, 2 * ms, true, 5000 * ms},
		{"throttle off", 0, 0, 0, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := restartDelay(tt.period, tt.throttle, tt.ran, tt.failed); got != tt.want {
				t.Fatalf("restartDelay(%v, %v, %v, %v) = %v, want %v", tt.period, tt.throttle, tt.ran, tt.failed, got, tt.want)
			}
		})
	}
}

// TestExecRestartIsThrottled checks that a command restarted in a loop, failing at once or
// restarted without a period, is started at most once per restartThrottle.
func TestExecRestartIsThrottled(t *testing.T) {
	const throttle = 300 * time.Millisecond
	tests := []struct {
		spec        string
		wantFailure bool
	}{
		{`exec("sh -c 'echo x; exit 1'", restart=true, restartThrottle=300)`, true},
		{`exec("echo x", restart=true, restartThrottle="300ms")`, false},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			e := newEnv(nil)
			s := e.OpenSource(t, tt.spec)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var stamps []int64
			for len(stamps) < 3 {
				batch, err := s.Next(ctx)
				if err != nil {
					t.Fatalf("Next after %d events: %v", len(stamps), err)
				}
				for _, ev := range batch {
					stamps = append(stamps, ev.Timestamp)
				}
			}
			// Three runs span two throttle periods at least. The events are stamped when read,
			// a little after each start: allow some slack for that. Unthrottled, the three
			// would come within milliseconds.
			if d := time.Duration(stamps[2] - stamps[0]); d < 2*throttle-150*time.Millisecond {
				t.Errorf("three runs within %v, want at least %v", d, 2*throttle)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			failures := e.Counter("exec.run_failures")
			if runs := e.Counter("exec.runs"); runs < 3 || (failures >= 2) != tt.wantFailure {
				t.Errorf("runs = %d, run_failures = %d", runs, failures)
			}
		})
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
		{`exec("ls", shell="'sh")`, "1:18: exec: argument shell: unterminated quote"},
		{`exec("  ", shell=true)`, "1:6: exec: argument cmd: empty command"},
		{`exec("ls", restartThrottle="-1")`, "argument restartThrottle"},
		{`execStream("ls", restartThrottle=5)`, "restartThrottle"},
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
