package collector_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node"
	"github.com/flumego/flume/node/builtin"
	"github.com/flumego/flume/node/localcommit"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/spec"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeLines(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range n {
		fmt.Fprintf(w, "line %07d %s\n", i, strings.Repeat("x", 150))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
}

// countLines reads every finalized file under dir and counts each line.
func countLines(t *testing.T, dir string) (map[string]int, int) {
	t.Helper()
	seen := map[string]int{}
	tmp := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasSuffix(p, ".tmp") {
			tmp++
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if l != "" {
				seen[l]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seen, tmp
}

// TestEndToEndInOneProcess ships a file from an agent to a collector over loopback, end to
// end, and finds every line exactly once in the collector's files.
func TestEndToEndInOneProcess(t *testing.T) {
	for _, mode := range []string{"agentE2ESink", "agentDFOSink", "agentBESink"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			commits, err := localcommit.Open(filepath.Join(dir, "commits"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer commits.Close()
			const lines = 20000
			src := filepath.Join(dir, "in.log")
			writeLines(t, src, lines)
			out := filepath.Join(dir, "out")
			port := freePort(t)

			n := node.New(node.Config{Name: "host1", DataDir: filepath.Join(dir, "node"), Commits: commits}, builtin.Registry())
			stopped := false
			t.Cleanup(func() {
				if !stopped {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					_ = n.Stop(ctx)
				}
			})
			collector, err := spec.ParseNodes(fmt.Sprintf(`coll : collectorSource(%d) | collectorSink(%q, "data-", 200) ;`, port, out))
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Start(collector); err != nil {
				t.Fatal(err)
			}
			agent, err := spec.ParseNodes(fmt.Sprintf(`agent : text(%q) | %s("127.0.0.1", %d) ;`, src, mode, port))
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Start(agent); err != nil {
				t.Fatal(err)
			}
			var seen map[string]int
			var tmp int
			plugintest.Eventually(t, 30*time.Second, func() bool {
				seen, tmp = countLines(t, out)
				return len(seen) == lines && tmp == 0
			}, func() string {
				return fmt.Sprintf("%d distinct lines of %d in finalized files, %d unfinished", len(seen), lines, tmp)
			})
			for l, c := range seen {
				if c != 1 {
					t.Fatalf("%q found %d times", l, c)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			stopped = true
			if err := n.Stop(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
