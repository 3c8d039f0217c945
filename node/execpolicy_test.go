package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/node/flow"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/source"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// touchPath returns the absolute path of touch: the commands of these tests create a file when
// they run, so a test can tell whether a command ran.
func touchPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("touch")
	if err != nil {
		t.Skipf("no touch command: %v", err)
	}
	return p
}

// execNode returns a node with policy, stopped at the end of the test, and the buffer its logs
// go to.
func execNode(t *testing.T, policy *ExecPolicy) (*Node, *plugintest.Buffer) {
	t.Helper()
	logs := &plugintest.Buffer{}
	n := New(Config{Name: "phys", DataDir: t.TempDir(), ExecPolicy: policy,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Props:  map[string]string{"flume.node.close.timeout": "2000"}},
		builtin.Registry())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Stop(ctx)
	})
	return n, logs
}

// push applies, as the masters' session does, the logical node x of version v running src.
func push(t *testing.T, n *Node, v uint64, src string) {
	t.Helper()
	n.Apply([]Assigned{{Name: "x", Version: v, Def: parse(t, "x : "+src+" | null ;")[0]}})
}

// waitState waits until logical node x is in state want and returns its status.
func waitState(t *testing.T, n *Node, want flow.State) flow.Status {
	t.Helper()
	plugintest.Eventually(t, 10*time.Second, func() bool { return n.Statuses()["x"].State == want },
		func() string {
			s := n.Statuses()["x"]
			return fmt.Sprintf("x is %v (err %v), want %v", s.State, s.Err, want)
		})
	return n.Statuses()["x"]
}

// waitFile waits until the file at path exists.
func waitFile(t *testing.T, path string) {
	t.Helper()
	plugintest.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Stat(path)
		return err == nil
	}, func() string { return path + " was never created: the command did not run" })
}

// checkRefused checks that x is in ERROR with an ErrExecRefused that says every one of want,
// and that nothing of its flow ran: no file at never, no component built (no metric of x),
// even once the node has stopped every flow it runs.
func checkRefused(t *testing.T, n *Node, never string, want ...string) {
	t.Helper()
	st := waitState(t, n, flow.StateError)
	if !errors.Is(st.Err, ErrExecRefused) {
		t.Fatalf("x failed with %v, want an ErrExecRefused", st.Err)
	}
	for _, w := range want {
		if !strings.Contains(st.Err.Error(), w) {
			t.Fatalf("error %q does not say %q", st.Err, w)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = n.Stop(ctx) // a flow started by mistake would have been opened by now
	if _, err := os.Stat(never); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused command ran: %s exists (%v)", never, err)
	}
	if m := n.Metrics().Sub("x").Snapshot(); len(m) != 0 {
		t.Fatalf("the refused flow was built: metrics %v", m)
	}
}

func TestPushedExecSourcesAreRefusedByDefault(t *testing.T) {
	touch := touchPath(t)
	falsePolicy, err := ParseExecPolicy("false")
	if err != nil {
		t.Fatal(err)
	}
	for name, policy := range map[string]*ExecPolicy{"nil": nil, "false": falsePolicy} {
		for form, src := range map[string]string{
			"exec": `exec(%q)`, "keyword": `exec(cmd=%q)`, "shell": `exec(%q, shell=true)`,
			"execStream": `execStream(%q)`, "execPeriodic": `execPeriodic(%q, 10)`,
			"namedShell": `execPeriodic(cmd=%q, period="10ms", shell="/bin/sh -c")`,
		} {
			// Subtest names make the directory of out: keep them free of the shell's syntax.
			t.Run(name+"/"+form, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "ran")
				n, _ := execNode(t, policy)
				push(t, n, 1, fmt.Sprintf(src, touch+" "+out))
				checkRefused(t, n, out, "this node runs no commands pushed by the masters",
					"flume.node.exec.allow is false")
			})
		}
	}
}

func TestPushedExecSourcesRunWhenAllowedAll(t *testing.T) {
	touch := touchPath(t)
	for name, src := range map[string]string{"exec": `exec(%q)`, "shell": `exec(%q, shell=true)`,
		"execStream": `execStream(cmd=%q)`, "execPeriodic": `execPeriodic(%q, 60000)`} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "ran")
			n, _ := execNode(t, AllowAllExec())
			push(t, n, 1, fmt.Sprintf(src, touch+" "+out))
			waitFile(t, out)
			if st := n.Statuses()["x"]; st.State == flow.StateError {
				t.Fatalf("x failed: %v", st.Err)
			}
		})
	}
}

// TestFilePolicyAllowsOnlyListedPrefixesWithoutAShell lists one prefix, written with quotes:
// the commands that begin with its words run, whichever exec source runs them; a command whose
// words differ, even by a word's end, or that asks for a shell, is refused, and the error names
// the file.
func TestFilePolicyAllowsOnlyListedPrefixesWithoutAShell(t *testing.T) {
	touch := touchPath(t)
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	allow := filepath.Join(t.TempDir(), "exec.allow")
	text := fmt.Sprintf("# what the masters may run here\n\n  %q '%s'\n/usr/bin/tail -F\n", touch, ran)
	if err := os.WriteFile(allow, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	policy, err := ParseExecPolicy(allow)
	if err != nil {
		t.Fatal(err)
	}
	if policy.String() != allow {
		t.Fatalf("policy is %q, want the file", policy.String())
	}
	for i, src := range []string{`exec(%q)`, `execStream(cmd=%q)`, `execPeriodic(%q, 60000)`} {
		t.Run("allowed/"+src, func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprint("allowed", i))
			n, _ := execNode(t, policy)
			push(t, n, 1, fmt.Sprintf(src, touch+" "+ran+" "+out))
			waitFile(t, out)
			if st := n.Statuses()["x"]; st.State == flow.StateError {
				t.Fatalf("x failed: %v", st.Err)
			}
		})
	}
	refused := []struct {
		name, src string
		want      []string
	}{
		{"a word that only begins like the prefix's", `exec("{touch} {ran}x {out}")`, []string{"matches no prefix of " + allow, "(flume.node.exec.allow)"}},
		{"another word", `execStream("{touch} {out}")`, []string{"matches no prefix of " + allow}},
		{"fewer words than the prefix", `exec(cmd="{touch}")`, []string{"matches no prefix of " + allow}},
		{"shell=true", `exec("{touch} {ran} {out}", shell=true)`, []string{"asks for a shell", "flume.node.exec.allow allows only when true", allow}},
		{"a named shell", `execPeriodic(cmd="{touch} {ran} {out}", period=10, shell="/bin/sh -c")`, []string{"asks for a shell", allow}},
	}
	for i, tt := range refused {
		t.Run("refused/"+tt.name, func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprint("refused", i))
			n, _ := execNode(t, policy)
			push(t, n, 1, strings.NewReplacer("{touch}", touch, "{ran}", ran, "{out}", out).Replace(tt.src))
			checkRefused(t, n, out, tt.want...)
		})
	}
}

func TestExecPolicyMatchesWholeWords(t *testing.T) {
	allow := filepath.Join(t.TempDir(), "exec.allow")
	if err := os.WriteFile(allow, []byte("/usr/bin/tail -F\n/usr/bin/tai\n'/opt/my tool'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	policy, err := ParseExecPolicy(allow)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		cmd   string
		allow bool
	}{
		{"/usr/bin/tail -F /var/log/x", true},
		{"/usr/bin/tail   '-F'  /var/log/x", true}, // the same words, written otherwise
		{"/usr/bin/tail -F", true},
		{"/usr/bin/tail /var/log/x", false},
		{"/usr/bin/tail -f /var/log/x", false},
		{"/usr/bin/tailor -F", false},
		{"/usr/bin/tail", false},
		{"'/opt/my tool' --all", true},
		{"/opt/my tool", false}, // two words: /opt/my and tool
		{"/usr/bin/tail -F 'unterminated", false},
	} {
		err := policy.allow(source.Command{Line: tt.cmd})
		if (err == nil) != tt.allow {
			t.Errorf("%q: allowed %v (%v), want %v", tt.cmd, err == nil, err, tt.allow)
		}
		if err != nil && !errors.Is(err, ErrExecRefused) {
			t.Errorf("%q: %v is not an ErrExecRefused", tt.cmd, err)
		}
	}
}

func TestParseExecPolicy(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := write("empty", "")
	comments := write("comments", "# nothing yet\n\n   \n")
	bad := write("bad", "# ok\n/bin/echo ok\n/bin/echo 'unterminated\n")
	missing := filepath.Join(dir, "missing")
	for _, tt := range []struct {
		value, want, err string
	}{
		{value: "false", want: "false"},
		{value: " FALSE ", want: "false"},
		{value: "true", want: "true"},
		{value: "True", want: "true"},
		{value: empty, want: empty},
		{value: comments, want: comments},
		{value: missing, err: missing + ": no such file or directory"},
		{value: dir, err: dir + ": is a directory"},
		{value: bad, err: bad + ":3: unterminated quote"},
		{value: "", err: "want false, true or the path of a file"},
	} {
		p, err := ParseExecPolicy(tt.value)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseExecPolicy(%q) = %v, want an error saying %q", tt.value, err, tt.err)
			}
		case err != nil:
			t.Errorf("ParseExecPolicy(%q): %v", tt.value, err)
		case p.String() != tt.want:
			t.Errorf("ParseExecPolicy(%q) is %q, want %q", tt.value, p.String(), tt.want)
		}
	}
	// A file that lists nothing allows nothing.
	for _, file := range []string{empty, comments} {
		p, err := ParseExecPolicy(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.allow(source.Command{Line: "/bin/echo ok"}); !errors.Is(err, ErrExecRefused) {
			t.Errorf("%s allows /bin/echo ok: %v", file, err)
		}
	}
	if s := (*ExecPolicy)(nil).String(); s != "false" {
		t.Errorf("the nil policy is %q, want false", s)
	}
}

// TestLocalExecFlowsRunWithoutPolicy: what the node's owner gives it (Start) runs any command,
// whatever the policy for the masters' flows.
func TestLocalExecFlowsRunWithoutPolicy(t *testing.T) {
	touch := touchPath(t)
	dir := t.TempDir()
	n, _ := execNode(t, nil)
	if err := n.Start(parse(t, fmt.Sprintf(`x : exec(%q) | null ; y : exec(%q, shell=true) | null ;`,
		touch+" "+filepath.Join(dir, "x"), touch+" "+filepath.Join(dir, "y")))); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"x", "y"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("local flow %s did not run its command: %v", f, err)
		}
	}
}

// TestExecRefusalIsLoggedOncePerVersion: the masters send an assignment again and again (every
// change of any logical node); the node says it refuses a version once.
func TestExecRefusalIsLoggedOncePerVersion(t *testing.T) {
	n, logs := execNode(t, nil)
	count := func() int { return strings.Count(logs.String(), "refusing a command pushed by the masters") }
	push(t, n, 1, `exec("/bin/echo x")`)
	push(t, n, 1, `exec("/bin/echo x")`)
	waitState(t, n, flow.StateError)
	if got := count(); got != 1 {
		t.Fatalf("logged %d refusals of version 1, want 1:\n%s", got, logs)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("refusal not logged at warn:\n%s", logs)
	}
	push(t, n, 2, `exec("/bin/echo y")`)
	if got := count(); got != 2 {
		t.Fatalf("logged %d refusals after version 2, want 2:\n%s", got, logs)
	}
}

// TestSessionReportsAnExecRefusal: the refusal is in the heartbeat's status of the logical
// node, which is how the masters and flumectl status show it.
func TestSessionReportsAnExecRefusal(t *testing.T) {
	m := startFake(t, assignment(&flumev1.NodeAssignment{Nodes: []*flumev1.TranslatedConfig{
		tc("x", 1, `exec("id", shell=true)`, "null")}}))
	_, _ = runSession(t, m.addr) // runSession's node has no ExecPolicy
	plugintest.Eventually(t, 10*time.Second, func() bool {
		for _, ls := range m.beat().GetStatuses() {
			if ls.GetNode() == "x" && ls.GetState() == flumev1.LogicalNodeState_LOGICAL_NODE_STATE_ERROR &&
				strings.Contains(ls.GetError(), "exec source refused") &&
				strings.Contains(ls.GetError(), "flume.node.exec.allow is false") {
				return true
			}
		}
		return false
	}, func() string { return "heartbeat " + m.beat().String() })
}
