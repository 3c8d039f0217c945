package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/colinmarc/hdfs/v2"

	"github.com/flumego/flume/internal/minihdfs"
	"github.com/flumego/flume/node/plugin/plugintest"
)

// hdfsLines is how many lines an HDFS scenario ships (FLUME_HDFS_LINES; the test HDFS runs in
// the test's own process, built with the race detector).
func hdfsLines(t *testing.T) int {
	if v := os.Getenv("FLUME_HDFS_LINES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("FLUME_HDFS_LINES=%q: want a positive number", v)
		}
		return n
	}
	return 200_000
}

// testHDFS is the project's test HDFS and a Hadoop configuration naming it as the nameservice
// "namenode", as the classic walkthrough's paths do.
type testHDFS struct {
	c       *minihdfs.Cluster
	confDir string
}

func startHDFS(t *testing.T, datanodes int) *testHDFS {
	t.Helper()
	c, err := minihdfs.Start(minihdfs.Options{Dir: t.TempDir(), DataNodes: datanodes, SoftLease: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	h := &testHDFS{c: c, confDir: t.TempDir()}
	props := map[string]map[string]string{
		"core-site.xml": {"fs.defaultFS": "hdfs://namenode"},
		"hdfs-site.xml": {"dfs.nameservices": "namenode", "dfs.ha.namenodes.namenode": "nn1",
			"dfs.namenode.rpc-address.namenode.nn1": c.NameNodeAddr()},
	}
	for name, m := range props {
		var b strings.Builder
		b.WriteString("<?xml version=\"1.0\"?>\n<configuration>\n")
		for k, v := range m {
			fmt.Fprintf(&b, "  <property><name>%s</name><value>%s</value></property>\n", k, v)
		}
		b.WriteString("</configuration>\n")
		if err := os.WriteFile(filepath.Join(h.confDir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// nodeArgs are the flags that give a collector node the test HDFS.
func (h *testHDFS) nodeArgs() []string {
	return []string{"-D", "flume.hdfs.conf.dir=" + h.confDir, "-D", "flume.hdfs.user=flume",
		"-D", "flume.collector.output.format=raw"}
}

// hdfsFiles are directories on the test HDFS, read through the client.
type hdfsFiles struct {
	h    *testHDFS
	dirs []string
}

// walk lists the directories through a client of its own (a NameNode restart leaves an old
// client waiting for a while). A file whose name starts with a dot (a cut in progress) counts
// as unfinished, as .tmp does.
func (f hdfsFiles) walk(fn func(string, int64, func() ([]byte, error)) error) error {
	c, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{f.h.c.NameNodeAddr()}, User: "flume"})
	if err != nil {
		return nil // the NameNode is away: nothing to see now
	}
	defer c.Close()
	for _, dir := range f.dirs {
		err := c.Walk(dir, func(p string, fi fs.FileInfo, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if fi.IsDir() {
				return nil
			}
			name := p
			if strings.HasPrefix(path.Base(p), ".") {
				name += ".tmp"
			}
			return fn(name, fi.Size(), func() ([]byte, error) { return c.ReadFile(p) })
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// newHDFSDataplane is a master, collectors writing to the test HDFS under /flume/<name>/ and
// an input of lines lines.
func newHDFSDataplane(t *testing.T, h *testHDFS, collectors, lines int) *dataplane {
	bin := buildBinaries(t)
	d := &dataplane{e: newSecureEnsemble(t, bin, 1, nil), dir: t.TempDir(), lines: lines}
	d.input = filepath.Join(d.dir, "in.log")
	writeNumbered(t, d.input, d.lines)
	tree := hdfsFiles{h: h}
	for i := range collectors {
		name := fmt.Sprintf("col%d", i+1)
		d.ports = append(d.ports, freePort(t))
		d.cols = append(d.cols, d.e.node(name, h.nodeArgs()...))
		dir := "/flume/" + name + "/"
		tree.dirs = append(tree.dirs, dir)
		d.e.mustCtl(0, "config", name, fmt.Sprintf("collectorSource(%d)", d.ports[i]),
			fmt.Sprintf("collectorSink(%q, \"data-\", 500, raw)", "hdfs://namenode"+dir))
	}
	d.tree = tree
	return d
}

// waitOpenFile waits until the collectors have a file open that was not open before (seen
// holds those seen so far): a fault then lands mid-file, while the stream flows.
func (d *dataplane) waitOpenFile(seen map[string]bool) {
	t := d.e.t
	t.Helper()
	plugintest.Eventually(t, 3*time.Minute, throttle(filePoll, func() bool {
		fresh := false
		_ = d.files().walk(func(p string, _ int64, _ func() ([]byte, error)) error {
			if strings.HasSuffix(p, ".tmp") && !seen[p] {
				seen[p], fresh = true, true
			}
			return nil
		})
		return fresh
	}), func() string {
		return fmt.Sprintf("the collector never had a new file open: %+v\n%s", d.outputs(), d.logs())
	})
}

// TestHDFSWalkthrough runs the classic walkthrough's collector, named "collector", with its
// sink line as written: collectorSink("hdfs://namenode/flume/", "syslog"), the NameNode found
// through the Hadoop configuration. An end-to-end agent ships into it; every line lands once in
// the finished files, read back through the HDFS client.
func TestHDFSWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	t.Parallel()
	h := startHDFS(t, 1)
	bin := buildBinaries(t)
	d := &dataplane{e: newSecureEnsemble(t, bin, 1, nil), dir: t.TempDir(), lines: 20_000}
	d.input = filepath.Join(d.dir, "in.log")
	writeNumbered(t, d.input, d.lines)
	port := freePort(t)
	d.ports = []int{port}
	d.cols = []*proc{d.e.node("collector", h.nodeArgs()...)}
	d.e.mustCtl(0, "config", "collector", fmt.Sprintf("collectorSource(%d)", port),
		`collectorSink("hdfs://namenode/flume/", "syslog")`)
	d.tree = hdfsFiles{h: h, dirs: []string{"/flume/"}}
	d.startAgent(fmt.Sprintf("agentE2ESink(\"127.0.0.1\", %d)", port))
	ta := d.waitQuiet(2 * time.Minute)
	d.check(ta, "walkthrough into HDFS", "")
}

// TestHDFSCollectorKilledMidFile kills the collector with SIGKILL twice while it writes into
// HDFS, and starts it again each time: its open files keep the dead process's lease until the
// NameNode's soft limit passes, and the restarted collector saves their committed part. Every
// line lands exactly once in the finished files.
func TestHDFSCollectorKilledMidFile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	t.Parallel()
	h := startHDFS(t, 1)
	d := newHDFSDataplane(t, h, 1, 2*hdfsLines(t))
	d.startAgent(d.chain("E2E"))
	seen := map[string]bool{}
	for range 2 {
		d.waitOpenFile(seen)
		d.cols[0].kill()
		d.cols[0].start()
	}
	ta := d.waitQuiet(5 * time.Minute)
	recovered := strings.Count(d.cols[0].log.String(), "recovered file")
	d.check(ta, "collector killed twice while writing to HDFS", fmt.Sprintf("files recovered=%d", recovered))
	if recovered == 0 {
		t.Errorf("the restarted collector recovered no file: the kills found none open\n%s", d.cols[0].log.String())
	}
}

// hdfsFault ships lines end to end into the test HDFS, runs fault while the collector has a
// file open, and checks that every line lands once in the finished files.
func hdfsFault(t *testing.T, lines int, what string, fault func(*testHDFS)) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	t.Parallel()
	h := startHDFS(t, 1)
	d := newHDFSDataplane(t, h, 1, lines)
	d.startAgent(d.chain("E2E"))
	d.waitOpenFile(map[string]bool{})
	fault(h)
	ta := d.waitQuiet(5 * time.Minute)
	d.check(ta, what, "")
}

// TestHDFSDataNodeDiesMidBlock kills the DataNode the collector writes through, and brings it
// back: the collector's writes fail, the agent keeps what was not acked, and the collector
// saves the committed part of the failed files once their leases expire.
func TestHDFSDataNodeDiesMidBlock(t *testing.T) {
	hdfsFault(t, 2*hdfsLines(t), "DataNode died mid-block", func(h *testHDFS) {
		h.c.DataNode(0).Kill()
		if err := h.c.DataNode(0).Restart(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestHDFSNameNodeAway stops the NameNode for a while (FLUME_HDFS_NN_DOWN, 30 s by default)
// while the agent ships, then restarts it: acks are withheld while the collector cannot write,
// the agent keeps the data, and delivery resumes by itself.
func TestHDFSNameNodeAway(t *testing.T) {
	down := 30 * time.Second
	if v := os.Getenv("FLUME_HDFS_NN_DOWN"); v != "" {
		var err error
		if down, err = time.ParseDuration(v); err != nil {
			t.Fatalf("FLUME_HDFS_NN_DOWN=%q: %v", v, err)
		}
	}
	hdfsFault(t, hdfsLines(t), fmt.Sprintf("NameNode away for %v", down), func(h *testHDFS) {
		h.c.StopNameNode()
		<-time.After(down) // the length of the outage, not a wait for a state
		if err := h.c.StartNameNode(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestHDFSNameNodeRestart restarts the NameNode at once while the agent ships.
func TestHDFSNameNodeRestart(t *testing.T) {
	hdfsFault(t, hdfsLines(t), "NameNode restarted", func(h *testHDFS) {
		h.c.StopNameNode()
		if err := h.c.StartNameNode(); err != nil {
			t.Fatal(err)
		}
	})
}
