package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/flumego/flume/cmd/internal/cli"
	"github.com/flumego/flume/master"
	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/raftstore"
)

// oneMaster starts a one-member ensemble in this process and returns its admin address.
func oneMaster(t *testing.T) string {
	t.Helper()
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	al, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m, err := master.Open(master.Config{
		ID: "0", Peers: []master.Peer{{ID: "0", Raft: rl.Addr().String(), Admin: al.Addr().String()}},
		DataDir: t.TempDir(), RaftListener: rl, AdminListener: al, Registry: builtin.Registry(),
		Raft: raftstore.Config{HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
			LeaderLeaseTimeout: 150 * time.Millisecond, CommitTimeout: 10 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	plugintest.Eventually(t, 5*time.Second, m.Store().IsLeader, func() string { return "no leader" })
	return m.AdminAddr()
}

func shellRun(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, cli.Streams{In: strings.NewReader(stdin), Out: &out, Err: &errOut})
	return code, out.String(), errOut.String()
}

func TestShellScriptStopsAtTheFirstFailure(t *testing.T) {
	addr := oneMaster(t)
	script := filepath.Join(t.TempDir(), "setup.flume")
	if err := os.WriteFile(script, []byte(`# set up one agent
exec config agentA 'tail("/var/log/app.log")' "value(\"dc\", \"east\") console"
submit map host1 agentA
wait 0
getconfigs
getmappings
exec map host2 agentA
exec noop
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := shellRun(t, "", "shell", "-c", addr, "-s", script)
	if code != 1 {
		t.Fatalf("exit %d, want 1 for the failed map; stderr:\n%s", code, errOut)
	}
	for _, want := range []string{
		"[id: 1] Execed command: config agentA",
		"[id: 2] Submitted command: map host1 agentA",
		"command 2 SUCCEEDED",
		`agentA (flow default-flow, version 1): tail("/var/log/app.log") | value("dc", "east") console`,
		"host1 --> [agentA]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if want := script + ":7: command 3 failed: logical node agentA is mapped to physical node host1; unmap it first"; !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	if strings.Contains(out, "noop") {
		t.Error("the script went on after a failed command")
	}
}

func TestShellStdinGoesOnAfterErrors(t *testing.T) {
	addr := oneMaster(t)
	code, out, errOut := shellRun(t, "getmapings\nexec config b null null\nexec config c null consol\ngetconfigs\n",
		"shell", "-q", "-c", addr)
	if code != 1 {
		t.Fatalf("exit %d, want 1 after errors", code)
	}
	if !strings.Contains(errOut, `stdin:1: unknown command "getmapings"; did you mean "getmappings"?`) ||
		!strings.Contains(errOut, `stdin:3: `) || !strings.Contains(errOut, `sink:1:1: unknown sink "consol"`) {
		t.Fatalf("stderr:\n%s", errOut)
	}
	if !strings.Contains(out, "b (flow default-flow, version 1): null | null") {
		t.Fatalf("the commands after the errors did not run:\n%s", out)
	}
}

func TestShellNeedsAConnection(t *testing.T) {
	t.Setenv("FLUME_MASTER", "")
	code, _, errOut := shellRun(t, "", "shell", "-e", "getconfigs")
	if code != 1 || !strings.Contains(errOut, "not connected; use connect host[:port] first") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	addr := oneMaster(t)
	code, out, errOut := shellRun(t, "", "shell", "-e", "connect "+addr, "-e", "exec noop")
	if code != 0 || !strings.Contains(out, "Connected to Flume master 0") || !strings.Contains(out, "Command succeeded") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestSplitArgs(t *testing.T) {
	good := map[string][]string{
		`exec config a 'tail("/x")' console`:   {"exec", "config", "a", `tail("/x")`, "console"},
		`exec config a "text(\"/x\")"  "a\tb"`: {"exec", "config", "a", `text("/x")`, "a\tb"},
		"  spaced \t out  ":                    {"spaced", "out"},
		`'it''s'`:                              {"it", "s"},
		`"\u00e9t\u00e9"`:                      {"été"},
	}
	for in, want := range good {
		if got, err := splitArgs(in); err != nil || !slices.Equal(got, want) {
			t.Errorf("splitArgs(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := map[string]string{
		`exec "open`:    "column 6: unterminated \"quoted\" argument",
		`exec 'open`:    "column 6: unterminated 'quoted' argument",
		`exec "bad \q"`: "column 11:",
	}
	for in, want := range bad {
		if _, err := splitArgs(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("splitArgs(%s) error %v, want %q", in, err, want)
		}
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSaveLoadWaitOneShot(t *testing.T) {
	addr := oneMaster(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.flume")
	if err := os.WriteFile(good, []byte("a : null | console ;\nb : asciisynth(5, 10) | null ;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := shellRun(t, "", "--master", addr, "load", good); code != 0 || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("load: exit %d\n%s\n%s", code, out, errOut)
	}
	bad := filepath.Join(dir, "bad.flume")
	if err := os.WriteFile(bad, []byte("a : null | console ;\nc : nul | console ;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := shellRun(t, "", "--master", addr, "load", bad)
	if code != 1 || !strings.Contains(errOut, bad+`:2:5: unknown source "nul"; did you mean "null"?`) {
		t.Fatalf("load of a bad file: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := shellRun(t, "", "--master", addr, "config", "a", "web", "null", "null"); code != 0 {
		t.Fatalf("config: %s", errOut)
	}
	saved := filepath.Join(dir, "saved.flume")
	if err := os.WriteFile(saved, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := shellRun(t, "", "--master", addr, "save", saved); code != 0 {
		t.Fatalf("save: %s", errOut)
	}
	got, _ := os.ReadFile(saved)
	if want := "// flow web\na : null | null ;\nb : asciisynth(5, 10) | null ;\n"; string(got) != want {
		t.Fatalf("saved %q, want %q", got, want)
	}
	if old, _ := os.ReadFile(saved + "~"); string(old) != "old" {
		t.Fatalf("previous file not kept: %q", old)
	}
	if code, out, _ := shellRun(t, "", "--master", addr, "wait", "0", "1"); code != 0 || !strings.Contains(out, "command 1 SUCCEEDED") {
		t.Fatalf("wait: exit %d %s", code, out)
	}
	if code, _, errOut := shellRun(t, "", "--master", addr, "waitForNodesActive", "300", "a"); code != 1 || !strings.Contains(errOut, "timed out waiting for ACTIVE or CONFIGURING: a is") {
		t.Fatalf("waitForNodesActive with no node: exit %d %s", code, errOut)
	}
}

// TestFlumectlTriesTheNextMaster: with a dead master first in the list, commands still reach
// the live one.
func TestFlumectlTriesTheNextMaster(t *testing.T) {
	addr := oneMaster(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	code, out, errOut := shellRun(t, "", "--master", dead+","+addr, "--timeout", "5s", "noop")
	if code != 0 || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}
