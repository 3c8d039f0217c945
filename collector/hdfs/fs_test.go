package hdfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/flumego/flume/collector/store"
	"github.com/flumego/flume/internal/hadoop/codec"
	"github.com/flumego/flume/internal/minihdfs"
	"github.com/flumego/flume/internal/testwait"
	"github.com/flumego/flume/node/event"
)

// softLease is the test cluster's lease soft limit: a dead writer's file is recovered this
// long after its client stopped renewing.
const softLease = 500 * time.Millisecond

// startCluster starts a test HDFS with a short soft lease limit.
func startCluster(t *testing.T, datanodes int) *minihdfs.Cluster {
	t.Helper()
	c, err := minihdfs.Start(minihdfs.Options{Dir: t.TempDir(), DataNodes: datanodes, SoftLease: softLease})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newFS returns an FS for url on the cluster, holding its client for the test.
func newFS(t *testing.T, url string, s Settings) *FS {
	t.Helper()
	if s.User == "" {
		s.User = "flume"
	}
	f, err := New(url, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	release := f.Hold()
	t.Cleanup(release)
	return f
}

// crash closes the FS's client as a dead process would leave it: files open, leases no longer
// renewed.
func crash(t *testing.T, f *FS) {
	t.Helper()
	c, err := f.client()
	if err != nil {
		t.Fatal(err)
	}
	f.sh.fail(c)
}

// readAll reads a file through a fresh client.
func readAll(t *testing.T, f *FS, name string) string {
	t.Helper()
	r, err := f.Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

func events(prefix string, n int) []*event.Event {
	out := make([]*event.Event, n)
	for i := range out {
		out[i] = &event.Event{Body: fmt.Appendf(nil, "%s-%d", prefix, i), Timestamp: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC).UnixNano()}
	}
	return out
}

// The file writer works on HDFS as on a local disk: writes, hflush, a rollback cut by copy,
// and a roll that renames to the final name without replacing anything.
func TestWriterOnHDFS(t *testing.T) {
	c := startCluster(t, 1)
	fsys := newFS(t, "hdfs://"+c.NameNodeAddr()+"/flume/", Settings{})
	o := store.Options{Path: "hdfs://" + c.NameNodeAddr() + "/flume/%Y-%m-%d/web-", FS: fsys, ManualSettle: true}
	w, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	first, err := w.Write(events("a", 3))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	w.Settle(first)
	dup, err := w.Write(events("dup", 2))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Rollback(dup); err != nil {
		t.Fatalf("Rollback (a cut by copy): %v", err)
	}
	more, err := w.Write(events("b", 1))
	if err != nil {
		t.Fatal(err)
	}
	if more[0].File != first[0].File || more[0].From != first[0].To {
		t.Fatalf("after the cut the file goes on at %+v, want %s from %d", more[0], first[0].File, first[0].To)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	w.Settle(more)
	done, err := w.Close()
	if err != nil || len(done) != 1 {
		t.Fatalf("Close = %q, %v", done, err)
	}
	if got := readAll(t, fsys, "/flume/"+done[0]); got != "a-0\na-1\na-2\nb-0\n" {
		t.Errorf("finished file holds %q", got)
	}
	entries, err := fsys.List("/flume/2026-12-07")
	if err != nil || len(entries) != 1 {
		t.Errorf("directory holds %v, %v: want the finished file alone (no .tmp, no .cut)", entries, err)
	}
}

// A file whose writer died keeps its lease: Recover waits for the NameNode to recover it, then
// keeps exactly the committed part of the file, hflushed data after it cut away.
func TestRecoverAfterTheWriterDied(t *testing.T) {
	c := startCluster(t, 1)
	url := "hdfs://" + c.NameNodeAddr() + "/logs/"
	dead := newFS(t, url, Settings{})
	o := store.Options{Path: url + "web-", FS: dead, ManualSettle: true}
	w, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := w.Write(events("kept", 100))
	if err == nil {
		_, err = w.Write(events("lost", 50)) // written and hflushed, never committed
	}
	if err == nil {
		err = w.Sync()
	}
	if err != nil {
		t.Fatal(err)
	}
	crash(t, dead)   // the writer is gone, its file open
	_, _ = w.Close() // forget it in this process; nothing is settled, so nothing is finished

	name := committed[0].File
	keep := func(file string) int64 {
		if file == name {
			return committed[0].To
		}
		return store.KeepUnknown
	}
	again := newFS(t, url, Settings{})
	o.FS = again
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	st, err := store.Recover(ctx, o, keep)
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if st.Truncated != 1 || st.Finalized != 1 {
		t.Errorf("stats %+v, want one file cut and finalized", st)
	}
	if waited := time.Since(start); waited < softLease/2 {
		t.Errorf("Recover took %v: it cannot have waited for the lease", waited)
	}
	var want strings.Builder
	for i := range 100 {
		fmt.Fprintf(&want, "kept-%d\n", i)
	}
	if got := readAll(t, again, "/logs/"+name); got != want.String() {
		t.Errorf("recovered file holds %d bytes, want the %d committed ones", len(got), want.Len())
	}
	if _, err := again.Stat("/logs/" + name + ".tmp"); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("stat of the .tmp file = %v, want it gone", err)
	}
}

// A DataNode that dies mid-block fails the writes of its pipeline: the Writer cuts the failed
// file once the failed client's lease has expired, and writes new files meanwhile.
func TestDataNodeDeathMidBlock(t *testing.T) {
	c := startCluster(t, 1)
	url := "hdfs://" + c.NameNodeAddr() + "/dn/"
	fsys := newFS(t, url, Settings{})
	o := store.Options{Path: url + "web-", FS: fsys, ManualSettle: true}
	w, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	first, err := w.Write(events("a", 10))
	if err == nil {
		err = w.Sync()
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Settle(first)
	c.DataNode(0).DieAfter(100)
	// As the committer does: a batch whose sync fails is rolled back (the cut waits for the
	// failed client's lease), and its agent sends it again.
	if lost, err := w.Write(events("b", 1000)); err == nil {
		if err = w.Sync(); err == nil {
			t.Fatal("writes through a dead DataNode succeeded")
		}
		if err := w.Rollback(lost); err != nil {
			t.Fatalf("Rollback after the failed sync: %v", err)
		}
	}
	if err := c.DataNode(0).Restart(); err != nil {
		t.Fatal(err)
	}
	// New events go to a new file while the failed one waits for its lease.
	var next []store.Span
	testwait.UntilNil(t, 20*time.Second, "a write to a new file", func() error {
		var err error
		if next, err = w.Write(events("c", 5)); err == nil {
			err = w.Sync()
		}
		if err == nil && len(next) == 1 && next[0].File == first[0].File {
			return fmt.Errorf("the failed file took more events")
		}
		return err
	})
	w.Settle(next)
	testwait.UntilNil(t, 20*time.Second, "a roll of every file", func() error {
		if _, err := w.Roll(); err != nil {
			return err
		}
		if open := w.Open(); len(open) > 0 {
			return fmt.Errorf("files still open: %q", open)
		}
		return nil
	})
	if got := readAll(t, fsys, "/dn/"+first[0].File); got != "a-0\na-1\na-2\na-3\na-4\na-5\na-6\na-7\na-8\na-9\n" {
		t.Errorf("failed file holds %q, want its committed part", got)
	}
	if got := readAll(t, fsys, "/dn/"+next[0].File); got != "c-0\nc-1\nc-2\nc-3\nc-4\n" {
		t.Errorf("new file holds %q", got)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMain fails the package's tests if a goroutine outlives them. A write to a DataNode that
// died leaves the client's acknowledgement reader blocked for good, and a writer abandoned the
// way a crashed process leaves it keeps its heartbeat goroutine (both in the client).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/colinmarc/hdfs/v2/internal/transfer.(*blockWriteStream).ackPackets"),
		goleak.IgnoreTopFunction("github.com/colinmarc/hdfs/v2/internal/transfer.(*blockWriteStream).writeHeartbeats"))
}

// A NameNode restart under an open file fails the file's close: the file is renamed only once
// the NameNode has closed it (the failed client's lease expired), so the finished file holds
// all that was written to it.
func TestNameNodeRestartMidFile(t *testing.T) {
	c := startCluster(t, 1)
	url := "hdfs://" + c.NameNodeAddr() + "/nn/"
	fsys := newFS(t, url, Settings{})
	w, err := store.Open(context.Background(), store.Options{Path: url + "web-", FS: fsys, ManualSettle: true})
	if err != nil {
		t.Fatal(err)
	}
	spans, err := w.Write(events("a", 1000))
	if err == nil {
		err = w.Sync()
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Settle(spans)
	c.StopNameNode()
	if err := c.StartNameNode(); err != nil {
		t.Fatal(err)
	}
	testwait.UntilNil(t, 30*time.Second, "the file finalized", func() error {
		_, err := w.Roll()
		if open := w.Open(); len(open) > 0 {
			return fmt.Errorf("files still open: %q (%v)", open, err)
		}
		return err
	})
	var want strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&want, "a-%d\n", i)
	}
	if got := readAll(t, fsys, "/nn/"+spans[0].File); got != want.String() {
		t.Errorf("finished file holds %d bytes, want %d", len(got), want.Len())
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRealCluster runs the Writer against a real HDFS when FLUME_TEST_HDFS names a directory
// on one (hdfs://host:8020/tmp/flume-test; the user from HADOOP_USER_NAME or the OS, the
// Hadoop configuration from HADOOP_CONF_DIR): writes, a cut, a roll, and the files read back.
func TestRealCluster(t *testing.T) {
	url := os.Getenv("FLUME_TEST_HDFS")
	if url == "" {
		t.Skip("FLUME_TEST_HDFS is not set")
	}
	s, err := LoadSettings(func(_, def string) string { return def })
	if err != nil {
		t.Fatal(err)
	}
	run := fmt.Sprintf("/run-%d", time.Now().UnixNano())
	fsys := newFS(t, url, s)
	dir := strings.TrimSuffix(fsys.Target().Path, "/") + run
	o := store.Options{Path: strings.TrimSuffix(url, "/") + run + "/web-", FS: fsys, ManualSettle: true, Compress: "GzipCodec"}
	w, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := w.Write(events("kept", 1000))
	if err == nil {
		err = w.Sync()
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Settle(kept)
	dup, err := w.Write(events("dup", 10))
	if err == nil {
		err = w.Rollback(dup)
	}
	if err != nil {
		t.Fatal(err)
	}
	done, err := w.Close()
	if err != nil || len(done) != 1 {
		t.Fatalf("Close = %q, %v", done, err)
	}
	t.Cleanup(func() { _ = fsys.Remove(dir + "/" + done[0]) })
	r, err := fsys.Open(dir + "/" + done[0])
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	zr, err := lookupGzip().NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "kept-"); n != 1000 || strings.Contains(string(b), "dup-") {
		t.Errorf("file holds %d kept lines, duplicates cut: %v", n, !strings.Contains(string(b), "dup-"))
	}
}

func lookupGzip() codec.Codec {
	c, _ := codec.Lookup("GzipCodec")
	return c
}

// Refusals of the cluster reach the Writer's caller with the path and the reason: a quota,
// permission denied, a file where a directory must be (a name refused for good).
func TestRefusalsSayWhatAndWhere(t *testing.T) {
	c := startCluster(t, 1)
	url := "hdfs://" + c.NameNodeAddr()
	fsys := newFS(t, url+"/", Settings{})
	open := func(p string) *store.Writer {
		w, err := store.Open(context.Background(), store.Options{Path: url + p, FS: fsys})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = w.Close() })
		return w
	}

	w := open("/quota/web-")
	if err := c.SetQuota("/quota", 100); err != nil {
		t.Fatal(err)
	}
	_, err := w.Write(events(strings.Repeat("x", 200), 10))
	if err == nil {
		err = w.Sync()
	}
	if err == nil || !strings.Contains(err.Error(), "/quota/web-") {
		t.Errorf("write over a quota = %v, want an error naming the file", err)
	}

	if err := fsys.MkdirAll("/denied"); err != nil {
		t.Fatal(err)
	}
	c.SetAccess("/denied", minihdfs.AccessDenied)
	if _, err := store.Open(context.Background(), store.Options{Path: url + "/denied/web-", FS: fsys}); !errors.Is(err, iofs.ErrPermission) || !strings.Contains(err.Error(), "/denied") {
		t.Errorf("a sink where access is denied = %v, want permission denied naming the directory", err)
	}
	c.SetAccess("/denied", minihdfs.AccessNormal)
	w = open("/denied/web-")
	c.SetAccess("/denied", minihdfs.AccessReadOnly)
	if _, err := w.Write(events("a", 1)); !errors.Is(err, iofs.ErrPermission) || !strings.Contains(err.Error(), "/denied/web-") {
		t.Errorf("a write where access is denied = %v, want permission denied naming the file", err)
	}

	if err := fsys.MkdirAll("/block"); err != nil {
		t.Fatal(err)
	}
	r, err := fsys.Create("/block/blocker")
	if err == nil {
		err = r.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	w = open("/block/%{host}/web-")
	_, skipped, err := w.WriteOrSkip([]*event.Event{{Body: []byte("x"), Host: "blocker"}})
	if err != nil || len(skipped) != 1 || !errors.Is(skipped[0].Err, store.ErrNameRefused) {
		t.Errorf("a file where a directory must be: skipped %v, err %v; want the event refused by its name", skipped, err)
	}
}
