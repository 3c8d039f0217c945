package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flumego/flume/cmd/internal/cli"
	"github.com/flumego/flume/node/plugin/plugintest"
)

func TestMain(m *testing.M) {
	binaries.pkg, _ = os.Getwd()
	code := m.Run()
	if binaries.dir != "" {
		_ = os.RemoveAll(binaries.dir)
	}
	os.Exit(code)
}

func flumed(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = run(ctx, args, cli.Streams{In: strings.NewReader("from stdin\n"), Out: &out, Err: &errOut})
	return code, out.String(), errOut.String()
}

func TestNodeOneshot(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // the cases without --data-dir keep their state in ./data
	in := filepath.Join(dir, "in.log")
	if err := os.WriteFile(in, []byte("alpha\nbeta\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	specFile := filepath.Join(dir, "flows.flume")
	if err := os.WriteFile(specFile, []byte(fmt.Sprintf("f : text(%q) | console(raw) ;\n", in)), 0o644); err != nil {
		t.Fatal(err)
	}
	confDir := filepath.Join(dir, "conf")
	if err := os.Mkdir(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	site := "<configuration>\n  <property>\n    <name>flume.event.max.size.bytes</name>\n    <value>3</value>\n  </property>\n" +
		"  <property>\n    <name>flume.tail.pollperiod</name>\n    <value>often</value>\n  </property>\n</configuration>\n"
	if err := os.WriteFile(filepath.Join(confDir, "flume-site.xml"), []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	badSpec := filepath.Join(dir, "bad.flume")
	if err := os.WriteFile(badSpec, []byte("f : text(\"x\") | consol ;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    string
		wantErrHas string
	}{
		{"text to console", []string{"node", "--oneshot", "-n", "t", "-c", fmt.Sprintf(`f : text(%q) | console(raw) ;`, in)},
			0, "alpha\nbeta\n", ""},
		{"short flags", []string{"node", "-1", "-s", "-c", `f : stdin | console(raw) ;`}, 0, "from stdin\n", ""},
		{"spec file", []string{"node", "--oneshot", "-c", "@" + specFile}, 0, "alpha\nbeta\n", ""},
		{"two logical nodes", []string{"node", "--oneshot", "-c", `a : asciisynth(2, 5) | null ; b : stdin | console(raw) ;`},
			0, "from stdin\n", ""},
		{"spec error", []string{"node", "--oneshot", "-c", `f : text("x") | console(raw ;`}, 2, "", "-c:1:29: expected ')' after argument list, found ';'"},
		{"spec file error", []string{"node", "--oneshot", "-c", "@" + badSpec}, 2, "",
			badSpec + `:1:17: unknown sink "consol"; did you mean "console"?`},
		{"duplicate node", []string{"node", "--oneshot", "-c", `a : null | null ; a : null | null ;`}, 2, "",
			`logical node "a" is defined twice`},
		{"missing input", []string{"node", "--oneshot", "-c", `f : text("/nonexistent/in.log") | console ;`}, 1, "",
			"/nonexistent/in.log"},
		{"failing sink", []string{"node", "--oneshot", "-c", `f : asciisynth(3, 5) | fail("disk on fire") ;`}, 1, "",
			"disk on fire"},
		{"no spec", []string{"node", "--oneshot"}, 2, "", "-c is required"},
		{"bad define", []string{"node", "--oneshot", "-D", "novalue", "-c", "f : null | null ;"}, 2, "", "want name=value"},
		{"bad property", []string{"node", "--oneshot", "-D", "flume.event.max.size.bytes=big", "-c", "f : null | null ;"}, 2, "",
			`-D: property flume.event.max.size.bytes: "big" is not an integer`},
		{"conf file bad value", []string{"node", "--oneshot", "--conf", confDir, "-c", "f : null | null ;"}, 2, "",
			filepath.Join(confDir, "flume-site.xml") + `:8: property flume.tail.pollperiod: "often" is not a duration`},
		{"conf file applies, -D overrides it", []string{"node", "--oneshot", "--conf", confDir, "-D", "flume.tail.pollperiod=20",
			"-c", fmt.Sprintf(`f : text(%q) | console(raw) ;`, in)}, 0, "alp\nbet\n", ""},
		{"missing conf dir", []string{"node", "--oneshot", "--conf", filepath.Join(dir, "nope"), "-c", "f : null | null ;"}, 2, "",
			"configuration directory not found"},
		{"misspelt property warns", []string{"node", "--oneshot", "-D", "flume.tail.polperiod=5", "-c", "f : null | null ;"}, 0, "",
			"did you mean flume.tail.pollperiod?"},
		{"bad log level", []string{"node", "--oneshot", "--log-level", "loud", "-c", "f : null | null ;"}, 2, "", "--log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := flumed(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, errOut)
			}
			if tt.wantCode == 0 && out != tt.wantOut {
				t.Fatalf("stdout %q, want %q", out, tt.wantOut)
			}
			if !strings.Contains(errOut, tt.wantErrHas) {
				t.Fatalf("stderr lacks %q:\n%s", tt.wantErrHas, errOut)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := flumed(t, "version")
	if code != 0 || !strings.HasPrefix(out, "flumed ") {
		t.Fatalf("exit %d, %q", code, out)
	}
}

// TestNodeProcessStopsGracefullyOnSIGTERM runs a real flumed process that tails a file into
// both the console and a buffered text file. Once the console shows every line, SIGTERM must
// stop the process cleanly with every line flushed to the file too.
func TestNodeProcessStopsGracefullyOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the flumed binary")
	}
	t.Parallel()
	bin := filepath.Join(buildBinaries(t), "flumed")
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.log"), filepath.Join(dir, "out.log")
	var want strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if err := os.WriteFile(in, []byte(want.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr plugintest.Buffer
	cmd := exec.Command(bin, "node", "-n", "proc", "--data-dir", filepath.Join(dir, "data"),
		"-D", "flume.tail.pollperiod=20", "-c", fmt.Sprintf(`f : tail(%q) | [ console(raw), text(%q) ] ;`, in, out))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	plugintest.Eventually(t, 20*time.Second, func() bool { return stdout.String() == want.String() },
		func() string {
			return fmt.Sprintf("console shows %d of %d bytes; stderr:\n%s", len(stdout.String()), want.Len(), stderr.String())
		})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("flumed exited with %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("flumed did not exit within 30 s of SIGTERM")
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Fatalf("text sink file has %d bytes after SIGTERM, want all %d", len(got), want.Len())
	}
}
