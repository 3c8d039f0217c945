package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/plugin/plugintest"
)

// terminal is the flumectl shell running on a pseudo-terminal: script(1) gives it one and
// relays what is typed into its stdin, and what the shell draws (escape sequences included),
// to this test.
type terminal struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *plugintest.Buffer
	since int // what was read of out before the last type
}

func startTerminal(t *testing.T, home string) *terminal {
	t.Helper()
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("script(1) is needed to give the shell a terminal (Debian: bsdutils): %v", err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", dir, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// The terminal script(1) makes has no size when its own input is not a terminal; line
	// editing needs one, as on any real terminal.
	cmd := exec.Command(scriptBin, "-qfec", "stty cols 100 rows 30; exec "+filepath.Join(dir, "flumectl")+" shell", "/dev/null")
	cmd.Env = append(os.Environ(), "HOME="+home, "TERM=xterm", "FLUME_MASTER=")
	tm := &terminal{t: t, cmd: cmd, out: &plugintest.Buffer{}}
	cmd.Stdout, cmd.Stderr = tm.out, tm.out
	if tm.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return tm
}

// typeKeys sends keys as typed on the terminal.
func (tm *terminal) typeKeys(keys string) {
	tm.t.Helper()
	tm.since = len(tm.out.String())
	if _, err := io.WriteString(tm.in, keys); err != nil {
		tm.t.Fatal(err)
	}
}

// waitFor waits until the screen shows want after what the last typeKeys saw.
func (tm *terminal) waitFor(want string) {
	tm.t.Helper()
	plugintest.Eventually(tm.t, 10*time.Second, func() bool {
		return strings.Contains(tm.out.String()[tm.since:], want)
	}, func() string {
		return fmt.Sprintf("the terminal does not show %q; it shows:\n%q", want, tm.out.String())
	})
}

// TestShellOnATerminal drives the interactive shell through a real terminal: the banner and
// prompts, a connection, commands, an error that does not end the session, completion with
// Tab, Ctrl-C abandoning a line, and the history kept on quit.
func TestShellOnATerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs flumectl")
	}
	addr := oneMaster(t)
	home := t.TempDir()
	tm := startTerminal(t, home)
	tm.waitFor("Flume shell. Type help for the commands, quit to leave.")
	tm.waitFor("[not connected] ")

	tm.typeKeys("getconfigs\r")
	tm.waitFor("not connected") // refused, and the session goes on
	tm.waitFor("[not connected] ")

	tm.typeKeys("connect " + addr + "\r")
	tm.waitFor("[flume " + addr + "] ")

	tm.typeKeys(`exec config web1 'tail("/var/log/web.log")' 'console'` + "\r")
	tm.waitFor("[flume " + addr + "] ")
	tm.typeKeys("getconfigs\r")
	tm.waitFor(`tail("/var/log/web.log")`)

	tm.typeKeys(`exec config web2 'tail(' 'console'` + "\r")
	tm.waitFor("web2")           // the error names what is wrong...
	tm.waitFor("[flume " + addr) // ...and the shell goes on

	tm.typeKeys("getmapp\t")
	tm.waitFor("getmappings") // completed on the line
	tm.typeKeys("\r")
	tm.waitFor("[flume " + addr + "] ")

	tm.typeKeys("exec unmapAll\x03") // Ctrl-C abandons the line: nothing runs
	tm.waitFor("[flume " + addr + "] ")

	tm.typeKeys("quit\r")
	done := make(chan error, 1)
	go func() { done <- tm.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the shell ended with %v\n%q", err, tm.out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the shell did not end on quit:\n%q", tm.out.String())
	}
	hist, err := os.ReadFile(filepath.Join(home, ".flume_history"))
	if err != nil {
		t.Fatalf("no history file: %v", err)
	}
	for _, want := range []string{"connect " + addr, "getmappings", "quit"} {
		if !strings.Contains(string(hist), want+"\n") {
			t.Errorf("the history lacks %q:\n%s", want, hist)
		}
	}
	if strings.Contains(string(hist), "unmapAll") {
		t.Errorf("a line abandoned with Ctrl-C is in the history:\n%s", hist)
	}
}
