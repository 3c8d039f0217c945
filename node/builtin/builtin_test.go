package builtin

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/flumego/flume/node/flow"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/spec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fencedBlocks returns the bodies of the ```lang blocks of a markdown file.
func fencedBlocks(t *testing.T, path, lang string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)```" + regexp.QuoteMeta(lang) + "\n(.*?)```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	return out
}

// TestDocumentedExamplesBuild builds every example of the language documentation and the
// demo spec against the real registry: a documented example that the node would refuse is a
// documentation bug.
func TestDocumentedExamplesBuild(t *testing.T) {
	reg := Registry()
	blocks := fencedBlocks(t, "../../docs/spec-language.md", "flume")
	demo, err := os.ReadFile("../../deploy/demo/demo.flume")
	if err != nil {
		t.Fatal(err)
	}
	blocks = append(blocks, string(demo))
	if len(blocks) < 10 {
		t.Fatalf("found %d examples; the documentation has more", len(blocks))
	}
	for i, text := range blocks {
		defs, err := spec.ParseNodes(text)
		if err != nil {
			t.Errorf("example %d does not parse: %v\n%s", i, err, text)
			continue
		}
		for _, d := range defs {
			if err := flow.Validate(reg, d.Source, d.Sink); err != nil {
				t.Errorf("example %d, node %s: %v\n%s", i, d.Name, err, text)
			}
		}
	}
}

func TestEveryComponentIsDocumented(t *testing.T) {
	reg := Registry()
	for _, k := range []plugin.Kind{plugin.KindSource, plugin.KindSink, plugin.KindDecorator, plugin.KindFormat} {
		entries := reg.Entries(k)
		if len(entries) == 0 {
			t.Fatalf("no %s registered", k)
		}
		for _, e := range entries {
			if e.Doc == "" {
				t.Errorf("%s %s has no description", k, e.Name())
			}
			if !strings.HasPrefix(e.Usage(), e.Name()) {
				t.Errorf("%s %s: usage %q does not start with its name", k, e.Name(), e.Usage())
			}
		}
	}
}

// TestClassicCatalogIsRegistered checks the local components of the classic catalog are all
// there under their classic names.
func TestClassicCatalogIsRegistered(t *testing.T) {
	reg := Registry()
	want := map[plugin.Kind][]string{
		plugin.KindSource: {"null", "stdin", "text", "tail", "synth", "asciisynth", "nonlsynth",
			"synthrndsize", "exec", "execStream", "execPeriodic", "fail"},
		plugin.KindSink: {"null", "console", "text", "counter", "fail"},
		plugin.KindDecorator: {"nullDeco", "value", "mask", "select", "format", "digest", "regex",
			"regexAll", "split", "exDate", "batch", "unbatch", "gzip", "gunzip", "intervalSampler",
			"probSampler", "reservoirSampler", "delay", "mult", "lazyOpen", "insistentOpen",
			"insistentAppend", "stubbornAppend", "flakeyAppend", "intervalFlakeyAppend",
			"intervalDroppyAppend", "choke"},
		plugin.KindFormat: {"raw", "debug", "json", "log4j", "syslog", "avrojson", "avrodata", "default"},
	}
	for k, names := range want {
		for _, n := range names {
			if _, ok := reg.Lookup(k, n); !ok {
				t.Errorf("%s %q is not registered", k, n)
			}
		}
	}
}

// run builds and runs text to its end and returns the flow's metrics.
func run(t *testing.T, text string) *metrics.Registry {
	t.Helper()
	defs, err := spec.ParseNodes(text)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.NewRegistry()
	bc := &plugin.BuildContext{Registry: Registry(), Metrics: m, Stdout: &bytes.Buffer{}}
	f, err := flow.Build(bc, defs[0])
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := flow.NewDriver(f, flow.DriverOptions{})
	if err := d.Run(ctx); err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	if s := d.Status(); s.State != flow.StateIdle {
		t.Fatalf("%s: ended %v: %v", text, s.State, s.Err)
	}
	return m
}

// TestCollectorUnpacksBatchedCompressedEvents sends batched and gzipped events into the generic
// collector, which must count every original event at its sink.
func TestCollectorUnpacksBatchedCompressedEvents(t *testing.T) {
	m := run(t, `n : asciisynth(1000, 50) | batch(64) gzip collector(60000) { counter("got") } ;`)
	var got []metrics.Value
	for _, v := range m.Snapshot() {
		if strings.HasSuffix(v.Name, ".got") {
			got = append(got, v)
		}
	}
	if len(got) != 1 || got[0].Value != 1000 {
		t.Fatalf("collector sink counters %v, want one counter ending in .got at 1000", got)
	}
}

// TestTextToTextWithDecoratorsKeepsEveryLine runs a file through decorators into a file and
// checks the output line for line.
func TestTextToTextWithDecoratorsKeepsEveryLine(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.log"), filepath.Join(dir, "out.log")
	var want strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&want, "line %d status=%d\n", i, 200+i%3)
	}
	if err := os.WriteFile(in, []byte(want.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, fmt.Sprintf(`n : text(%q) | regex("status=(\\d+)", 1, "status") value("dc", "east") `+
		`batch(100) unbatch text(%q) ;`, in, out))
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Fatalf("output differs from input: %d bytes vs %d", len(got), want.Len())
	}
}

// TestFormatsThroughTextSink checks that the text sink writes each output format.
func TestFormatsThroughTextSink(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"raw", "json", "debug", "log4j", "syslog", "avrojson", "avrodata"} {
		out := filepath.Join(dir, f+".out")
		run(t, fmt.Sprintf(`n : asciisynth(10, 20) | text(%q, %s) ;`, out, f))
		st, err := os.Stat(out)
		if err != nil || st.Size() == 0 {
			t.Fatalf("format %s: output %v, %v", f, st, err)
		}
	}
}

// TestTailDeliversItsPartialLastLineWhenStopped: a line without its newline is held while the
// file may still grow, and delivered when the flow stops, as classic tail did on close, once
// the file has been idle for tail's grace period (a file written just now may be in the middle
// of a write: that head of a line is read whole by the next run).
func TestTailDeliversItsPartialLastLineWhenStopped(t *testing.T) {
	in := filepath.Join(t.TempDir(), "app.log")
	if err := os.WriteFile(in, []byte("complete line\npartial"), 0o644); err != nil {
		t.Fatal(err)
	}
	idle := time.Now().Add(-time.Minute)
	if err := os.Chtimes(in, idle, idle); err != nil {
		t.Fatal(err)
	}
	defs, err := spec.ParseNodes(fmt.Sprintf(`n : tail(%q) | console(raw) ;`, in))
	if err != nil {
		t.Fatal(err)
	}
	out := &plugintest.Buffer{}
	f, err := flow.Build(&plugin.BuildContext{Registry: Registry(), Stdout: out,
		Props: map[string]string{"flume.tail.pollperiod": "10"}}, defs[0])
	if err != nil {
		t.Fatal(err)
	}
	d := flow.NewDriver(f, flow.DriverOptions{})
	d.Start()
	plugintest.Eventually(t, 10*time.Second, func() bool { return out.String() == "complete line\n" },
		func() string { return fmt.Sprintf("console shows %q, want the complete line", out.String()) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "complete line\npartial\n" {
		t.Fatalf("after stop the console shows %q, want the partial line delivered too", got)
	}
}
