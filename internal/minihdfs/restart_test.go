package minihdfs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/colinmarc/hdfs/v2"

	"github.com/flumego/flume/internal/testwait"
)

func TestNameNodeRestartKeepsFilesAndOpenFiles(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	cl := newClient(t, c)
	data := randomBytes(200000, 11)
	if err := cl.MkdirAll("/keep/sub", 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cl, "/keep/big", 64<<10, data, 30000)
	writeFile(t, cl, "/keep/gone", 64<<10, data[:10], 10)
	if err := cl.Rename("/keep/gone", "/keep/moved"); err != nil {
		t.Fatal(err)
	}
	writer, abandon := doomedClient(t, c)
	w := startWriter(t, c, writer, "/keep/open", 1<<20, []byte("flushed"))
	defer w.Close()

	c.StopNameNode()
	if _, err := cl.Stat("/keep/big"); err == nil {
		t.Fatalf("stat succeeded with the namenode stopped")
	}
	if c.Leases() != nil {
		t.Fatalf("leases listed with the namenode stopped")
	}
	if err := c.StartNameNode(); err != nil {
		t.Fatal(err)
	}
	cl2 := newClient(t, c)
	checkKept := func() {
		t.Helper()
		if got := readAll(t, cl2, "/keep/big"); !bytes.Equal(got, data) {
			t.Fatalf("/keep/big has %d bytes after restart, want %d equal ones", len(got), len(data))
		}
		if got := readAll(t, cl2, "/keep/moved"); !bytes.Equal(got, data[:10]) {
			t.Fatalf("/keep/moved after restart: %q", got)
		}
		if fi, err := cl2.Stat("/keep/sub"); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Fatalf("/keep/sub after restart: %v, %v", fi, err)
		}
		if _, err := cl2.Stat("/keep/gone"); !isNotExist(err) {
			t.Fatalf("renamed-away file back after restart: %v", err)
		}
	}
	checkKept()
	if ls := c.Leases(); len(ls) != 1 || ls[0].Path != "/keep/open" || ls[0].Holder != writer.Name() {
		t.Fatalf("leases after restart: %+v, want /keep/open held by %s", ls, writer.Name())
	}
	if _, err := cl2.Append("/keep/open"); exception(err) != AlreadyBeingCreatedException {
		t.Fatalf("append on the open file after restart: %v", err)
	}
	abandon()
	_ = w.Close()

	// A whole new cluster on the same directory.
	dir := c.opts.Dir
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2 := startCluster(t, Options{Dir: dir, SoftLease: 50 * time.Millisecond, HardLease: 100 * time.Millisecond})
	cl2 = newClient(t, c2)
	checkKept()
	testwait.Until(t, wait, "the open file's lease to be recovered", func() bool {
		fi, err := cl2.Stat("/keep/open")
		return err == nil && fi.Size() == int64(len("flushed")) && len(c2.Leases()) == 0
	})
	if got := readAll(t, cl2, "/keep/open"); string(got) != "flushed" {
		t.Fatalf("recovered open file: %q", got)
	}
}

func TestReplicasOnEveryDataNodeSurviveOneDeath(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{DataNodes: 3})
	cl := newClient(t, c)
	data := randomBytes(150000, 12)
	w, err := cl.CreateFile("/r", 3, 64<<10, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if n := c.DataNode(i).Replicas(); n != 3 {
			t.Fatalf("datanode %d holds %d replicas, want all 3 blocks", i, n)
		}
	}
	for i := 0; i < 2; i++ {
		c.DataNode(i).Kill()
		if got := readAll(t, newClient(t, c), "/r"); !bytes.Equal(got, data) {
			t.Fatalf("read with %d datanodes dead: %d bytes", i+1, len(got))
		}
	}
	// Replication is honoured up to the live DataNodes: one is left.
	writeFileRepl(t, cl, "/one", 3, []byte("x"))
	if n := c.DataNode(2).Replicas(); n != 4 {
		t.Fatalf("the live datanode holds %d replicas, want 4", n)
	}
}

func writeFileRepl(t *testing.T, cl *hdfs.Client, name string, repl int, data []byte) {
	t.Helper()
	w, err := cl.CreateFile(name, repl, 1<<20, 0o644)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close %s: %v", name, err)
	}
}

func TestTornEditLogTailIsIgnored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := startCluster(t, Options{Dir: dir})
	cl := newClient(t, c)
	writeFile(t, cl, "/a", 1<<20, []byte("durable"), 10)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "name", editsFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"counters":{"inode":99999`); err != nil { // a crash inside a write
		t.Fatal(err)
	}
	_ = f.Close()
	c2 := startCluster(t, Options{Dir: dir})
	if got := readAll(t, newClient(t, c2), "/a"); string(got) != "durable" {
		t.Fatalf("after a torn edit: %q", got)
	}
}
