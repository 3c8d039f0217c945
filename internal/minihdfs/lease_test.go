package minihdfs

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/colinmarc/hdfs/v2"

	"github.com/flumego/flume/internal/testwait"
)

// startWriter creates name and writes and hflushes data, and waits until the DataNode holds
// it (Flush does not wait for acks).
func startWriter(t *testing.T, c *Cluster, cl *hdfs.Client, name string, blockSize int64, data []byte) *hdfs.FileWriter {
	t.Helper()
	w, err := cl.CreateFile(name, 1, blockSize, 0o644)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("flush %s: %v", name, err)
	}
	waitStored(t, c, name, len(data))
	return w
}

func waitStored(t *testing.T, c *Cluster, name string, n int) {
	t.Helper()
	testwait.For(t, wait, func() bool {
		b, err := c.ReadStored(name)
		return err == nil && len(b) >= n
	}, func() string { return fmt.Sprintf("%s never held %d bytes on the datanodes", name, n) })
}

func TestSecondClientGetsAlreadyBeingCreatedWhileTheHolderRenews(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{SoftLease: 30 * time.Second})
	a, b := newClient(t, c), newClient(t, c)
	w := startWriter(t, c, a, "/f", 1<<20, []byte("hello"))
	if _, err := b.CreateFile("/f", 1, 1<<20, 0o644); !isExist(err) {
		t.Fatalf("second client's create: %v, want exist (AlreadyBeingCreatedException)", err)
	}
	if _, err := b.Append("/f"); exception(err) != AlreadyBeingCreatedException {
		t.Fatalf("second client's append: %v, want %s", err, AlreadyBeingCreatedException)
	}
	if _, err := a.Append("/f"); exception(err) != AlreadyBeingCreatedException {
		t.Fatalf("holder's own append: %v, want %s", err, AlreadyBeingCreatedException)
	}
	leases := c.Leases()
	if len(leases) != 1 || leases[0].Holder != a.Name() || leases[0].Path != "/f" {
		t.Fatalf("leases: %+v, want /f held by %s", leases, a.Name())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if len(c.Leases()) != 0 {
		t.Fatalf("leases after close: %+v", c.Leases())
	}
	w2, err := b.Append("/f")
	if err != nil {
		t.Fatalf("append after the holder closed: %v", err)
	}
	if _, err := w2.Write([]byte(" world")); err != nil {
		t.Fatal(err)
	}
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, a, "/f"); string(got) != "hello world" {
		t.Fatalf("content %q", got)
	}
}

func TestLengthUnderConstructionIsWhatTheNameNodeKnows(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	a, b := newClient(t, c), newClient(t, c)
	const blockSize = 64 << 10
	data := randomBytes(blockSize+500, 1)
	w := startWriter(t, c, a, "/f", blockSize, data[:1000])
	for _, cl := range []*hdfs.Client{a, b} {
		if got := size(t, cl, "/f"); got != 0 {
			t.Fatalf("hflushed but unfinished first block counted: size %d, want 0", got)
		}
	}
	if _, err := w.Write(data[1000:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	waitStored(t, c, "/f", len(data))
	if got := size(t, b, "/f"); got != blockSize {
		t.Fatalf("size with one complete block and 500 hflushed bytes: %d, want %d", got, blockSize)
	}
	if got := readAll(t, b, "/f"); !bytes.Equal(got, data[:blockSize]) {
		t.Fatalf("a reader sees %d bytes, want the complete block's %d", len(got), blockSize)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := size(t, b, "/f"); got != int64(len(data)) {
		t.Fatalf("size after close %d, want %d", got, len(data))
	}
}

// A writer "dies" by closing its client without closing the file: the client stops renewing
// the lease, and its pipeline connection stays open as a hung process's would.
func TestSoftLimitRecoveryThroughAppendKeepsHflushedData(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{SoftLease: 300 * time.Millisecond})
	a, abandonA := doomedClient(t, c)
	b := newClient(t, c)
	w := startWriter(t, c, a, "/f", 1<<20, []byte("kept data"))
	defer w.Close()
	abandonA()

	var recovering bool
	var w2 *hdfs.FileWriter
	testwait.UntilNil(t, wait, "append after lease recovery", func() error {
		var err error
		w2, err = b.Append("/f")
		switch exception(err) {
		case RecoveryInProgressException:
			recovering = true
		case AlreadyBeingCreatedException:
			if recovering {
				t.Fatalf("AlreadyBeingCreatedException after recovery started: %v", err)
			}
		}
		return err
	})
	if !recovering {
		t.Fatalf("append succeeded without RecoveryInProgressException first")
	}
	if _, err := w2.Write([]byte(", more")); err != nil {
		t.Fatal(err)
	}
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, b, "/f"); string(got) != "kept data, more" {
		t.Fatalf("after recovery and append: %q", got)
	}
	if err := w.Close(); err == nil {
		t.Fatalf("the dead writer's close succeeded after its lease was recovered")
	}
}

func TestHardLimitClosesAnAbandonedFile(t *testing.T) {
	t.Parallel()
	// The client renews every second: a hard limit above that leaves the writer alone until it
	// is abandoned.
	c := startCluster(t, Options{SoftLease: 100 * time.Millisecond, HardLease: 1500 * time.Millisecond})
	a, abandonA := doomedClient(t, c)
	b := newClient(t, c)
	data := randomBytes(70000, 5)
	w := startWriter(t, c, a, "/f", 64<<10, data)
	defer w.Close()
	abandonA()
	testwait.Until(t, wait, "the namenode to close /f", func() bool {
		fi, err := b.Stat("/f")
		return err == nil && fi.Size() == int64(len(data)) && len(c.Leases()) == 0
	})
	if got := readAll(t, b, "/f"); !bytes.Equal(got, data) {
		t.Fatalf("recovered file has %d bytes, want %d equal ones", len(got), len(data))
	}
}

func TestRecoveryWaitsForTheDataNodeThatDiedMidBlock(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{SoftLease: 200 * time.Millisecond})
	a, abandonA := doomedClient(t, c)
	b := newClient(t, c)
	dn := c.DataNode(0)
	data := randomBytes(3000, 9)
	w := startWriter(t, c, a, "/f", 1<<20, data[:1000])
	defer w.Close()
	dn.DieAfter(500)
	testwait.Until(t, wait, "the writer to fail", func() bool {
		_, err := w.Write(data[1000:2000])
		if err == nil {
			err = w.Flush()
		}
		return err != nil
	})
	if dn.Alive() {
		t.Fatalf("datanode still alive after DieAfter")
	}
	if got, err := c.ReadStored("/f"); err != nil || !bytes.Equal(got, data[:1500]) {
		t.Fatalf("stored %d bytes (%v), want the first 1500", len(got), err)
	}
	abandonA()
	testwait.Until(t, wait, "recovery to start", func() bool {
		_, err := b.Append("/f")
		return exception(err) == RecoveryInProgressException
	})
	if _, err := b.Append("/f"); exception(err) != RecoveryInProgressException {
		t.Fatalf("append while the only datanode is down: %v, want %s", err, RecoveryInProgressException)
	}
	if err := dn.Restart(); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, wait, "recovery to finish", func() bool { return len(c.Leases()) == 0 })
	if got := readAll(t, b, "/f"); !bytes.Equal(got, data[:1500]) {
		t.Fatalf("recovered %d bytes, want the 1500 the datanode held", len(got))
	}
}

func TestKilledDataNodeFailsTheWriter(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	cl := newClient(t, c)
	w := startWriter(t, c, cl, "/f", 1<<20, []byte("first"))
	c.DataNode(0).Kill()
	testwait.Until(t, wait, "write or flush to fail", func() bool {
		_, err := w.Write([]byte("more"))
		if err == nil {
			err = w.Flush()
		}
		return err != nil
	})
	if err := w.Close(); err == nil {
		t.Fatalf("close succeeded with the pipeline's datanode dead")
	}
	if ls := c.Leases(); len(ls) != 1 || ls[0].Path != "/f" {
		t.Fatalf("the file should still be open: %+v", ls)
	}
}

func TestOpenFilesCanBeRenamedAndDeleted(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	cl := newClient(t, c)
	if err := cl.MkdirAll("/out", 0o755); err != nil {
		t.Fatal(err)
	}
	// Renamed while open: the writer goes on by file id and closes under the new name.
	w := startWriter(t, c, cl, "/out/a.tmp", 1<<20, []byte("part one, "))
	if err := cl.Rename("/out/a.tmp", "/out/a"); err != nil {
		t.Fatalf("rename of an open file: %v", err)
	}
	if _, err := w.Write([]byte("part two")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close after rename: %v", err)
	}
	if got := readAll(t, cl, "/out/a"); string(got) != "part one, part two" {
		t.Fatalf("renamed file holds %q", got)
	}
	// Deleted while open: the lease goes, and so does the writer's pipeline.
	w2 := startWriter(t, c, cl, "/out/b", 1<<20, []byte("doomed"))
	if err := cl.Remove("/out/b"); err != nil {
		t.Fatalf("remove of an open file: %v", err)
	}
	if ls := c.Leases(); len(ls) != 0 {
		t.Fatalf("leases after deleting the open file: %+v", ls)
	}
	if err := w2.Close(); err == nil {
		t.Fatalf("close of a deleted file succeeded")
	}
	if _, err := cl.Stat("/out/b"); !isNotExist(err) {
		t.Fatalf("deleted file still there: %v", err)
	}
}
