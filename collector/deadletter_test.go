package collector_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/flumego/flume/node"
	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/localcommit"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/spec"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// startNode runs flow (with %d for the collector's port) on a node c1 of its own, with commits
// as its commit point, and returns it with the port.
func startNode(t *testing.T, flow string, commits *localcommit.Log) (*node.Node, int) {
	t.Helper()
	port := freePort(t)
	n := node.New(node.Config{Name: "c1", DataDir: t.TempDir(), Commits: commits}, builtin.Registry())
	defs, err := spec.ParseNodes(fmt.Sprintf(flow, port))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(defs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopNode(t, n) })
	plugintest.Eventually(t, 5*time.Second, func() bool { return n.Statuses()["c1"].State.String() == "ACTIVE" },
		func() string { return fmt.Sprint(n.Statuses()["c1"]) })
	return n, port
}

func stopNode(t *testing.T, n *node.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// tagged returns an event with body and the attributes given as key, value pairs.
func tagged(body string, kv ...string) *event.Event {
	e := &event.Event{Body: []byte(body), Timestamp: time.Now().UnixNano(), Priority: event.INFO, Host: "web1"}
	for i := 0; i+1 < len(kv); i += 2 {
		_ = e.SetAttr(kv[i], []byte(kv[i+1]))
	}
	return e
}

// filesUnder returns the content of every file under dir, by slash-separated relative path,
// leaving out the dead-letter directory.
func filesUnder(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() && rel == "dead-letter" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			out[filepath.ToSlash(rel)] = string(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// deadLetters returns the records of the dead-letter files under root.
func deadLetters(t *testing.T, root string) []map[string]any {
	t.Helper()
	var out []map[string]any
	paths, _ := filepath.Glob(filepath.Join(root, "dead-letter", "*"))
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var r map[string]any
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: a line is not JSON: %v: %q", p, err, sc.Text())
			}
			out = append(out, r)
		}
		_ = f.Close()
	}
	return out
}

// TestPoisonEventsAreSetAside: a chunk holds good events, events whose %{tag} would make a
// name the storage refuses as it comes (bytes that are not UTF-8, 300 bytes), and an event
// whose name the storage refuses however it is made (a file stands where its directory would
// be). The chunk is acked OK at once: the good events land, the first two under names made
// valid (U+FFFD, a shortened component), the last in the dead-letter file, whole, counted, and
// in the node's status. A copy of the chunk is a duplicate and adds no dead letter; the next
// chunk is not held up.
func TestPoisonEventsAreSetAside(t *testing.T) {
	dir := t.TempDir()
	commits, err := localcommit.Open(filepath.Join(dir, "commits"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer commits.Close()
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "blocked"), []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, port := startNode(t, `c1 : collectorSource(%d) | collectorSink("`+out+`/%%{tag}/", "data-", 600000, raw) ;`, commits)
	if _, err := commits.NewEpoch(context.Background(), "agentA"); err != nil {
		t.Fatal(err)
	}
	hello := &flumev1.StreamHello{Agent: "agentA", Epoch: 1, Reliability: flumev1.Reliability_RELIABILITY_END_TO_END}
	long := strings.Repeat("x", 300)
	chunk1 := []*event.Event{
		tagged("good one", "tag", "web"),
		tagged("not utf-8", "tag", "caf\xe9"),
		tagged("three hundred", "tag", long),
		tagged("poison", "tag", "blocked", "raw", "\xff\x00bytes"),
		tagged("good two", "tag", "web"),
	}
	if ack := sendEvents(t, port, hello, 1, chunk1); ack.GetStatus() != flumev1.AckStatus_ACK_STATUS_OK {
		t.Fatalf("chunk with poison events: %v, want OK", ack)
	}

	files := filesUnder(t, out)
	byContent := map[string]string{}
	for name, content := range files {
		if !utf8.ValidString(name) {
			t.Errorf("file name %q is not valid UTF-8", name)
		}
		for _, c := range strings.Split(name, "/") {
			if len(c) > 255 {
				t.Errorf("file name %q has a component of %d bytes", name, len(c))
			}
		}
		byContent[content] = name
	}
	if name := byContent["good one\ngood two\n"]; !strings.HasPrefix(name, "web/data-") {
		t.Errorf("good events in %q; files %q", name, files)
	}
	if name := byContent["not utf-8\n"]; !strings.HasPrefix(name, "caf\uFFFD/data-") {
		t.Errorf("event of a tag that is not UTF-8 in %q; files %q", name, files)
	}
	if name := byContent["three hundred\n"]; !strings.HasPrefix(name, strings.Repeat("x", 200)) || !strings.Contains(name, "~") {
		t.Errorf("event of a 300-byte tag in %q; files %q", name, files)
	}
	if strings.Contains(fmt.Sprint(files), "poison") {
		t.Errorf("the poison event reached the output: %q", files)
	}

	dead := deadLetters(t, out)
	if len(dead) != 1 {
		t.Fatalf("dead letters %v, want the poison event", dead)
	}
	r := dead[0]
	raw := base64.StdEncoding.EncodeToString([]byte("\xff\x00bytes"))
	attrs := fmt.Sprint(r["attrs"])
	if r["body"] != "poison" || r["agent"] != "agentA" || r["seq"] != float64(1) || r["host"] != "web1" ||
		attrs != fmt.Sprintf("[[tag blocked] [raw map[base64:%s]]]", raw) ||
		!strings.Contains(fmt.Sprint(r["reason"]), "not a directory") {
		t.Errorf("dead letter %v", r)
	}
	if got, _ := n.Metrics().Get("c1.sink.collectorSink.events_dead_lettered"); got != 1 {
		t.Errorf("events_dead_lettered = %d, want 1", got)
	}
	if note := n.Statuses()["c1"].Note; !strings.Contains(note, "1 event set aside in "+filepath.Join(out, "dead-letter")) {
		t.Errorf("status note %q does not tell of the dead letter", note)
	}

	if ack := sendEvents(t, port, hello, 1, chunk1); ack.GetStatus() != flumev1.AckStatus_ACK_STATUS_DUPLICATE {
		t.Fatalf("a copy of the chunk: %v, want DUPLICATE", ack)
	}
	if ack := sendEvents(t, port, hello, 2, []*event.Event{tagged("later", "tag", "web")}); ack.GetStatus() != flumev1.AckStatus_ACK_STATUS_OK {
		t.Fatalf("the next chunk: %v, want OK", ack)
	}
	stopNode(t, n)
	if dead := deadLetters(t, out); len(dead) != 1 {
		t.Errorf("after a copy of the chunk, dead letters %v, want one", dead)
	}
	for name := range filesUnder(t, filepath.Join(out, "dead-letter")) {
		if strings.HasSuffix(name, ".tmp") {
			t.Errorf("dead-letter file %s is not finalized after the stop", name)
		}
	}
	var all strings.Builder
	for _, c := range filesUnder(t, out) {
		all.WriteString(c)
	}
	for _, line := range []string{"good one", "good two", "not utf-8", "three hundred", "later"} {
		if c := strings.Count(all.String(), line+"\n"); c != 1 {
			t.Errorf("%q is %d times in the output, want once", line, c)
		}
	}
}
