package store

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
)

var errDiskFull = fmt.Errorf("injected: %w", syscall.ENOSPC)

// faultFS is the local file system with failures switched on and off by the test.
type faultFS struct {
	LocalFS
	mu       sync.Mutex
	writeErr error // writes fail with it, after writing partial bytes
	partial  int
	truncErr error
	openErr  error // Create fails with it
}

func (f *faultFS) failWrites(err error, partial int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeErr, f.partial = err, partial
}

func (f *faultFS) failTruncates(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.truncErr = err
}

func (f *faultFS) failCreates(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.openErr = err
}

func (f *faultFS) Create(name string) (File, error) {
	f.mu.Lock()
	openErr := f.openErr
	f.mu.Unlock()
	if openErr != nil {
		return nil, openErr
	}
	file, err := f.LocalFS.Create(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

type faultFile struct {
	File
	fs *faultFS
}

func (f *faultFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	err, partial := f.fs.writeErr, f.fs.partial
	f.fs.mu.Unlock()
	if err == nil {
		return f.File.Write(p)
	}
	n, _ := f.File.Write(p[:min(partial, len(p))])
	return n, err
}

func (f *faultFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	err := f.fs.truncErr
	f.fs.mu.Unlock()
	if err != nil {
		return err
	}
	return f.File.Truncate(size)
}

// A failed Write (the disk fills mid-batch) leaves nothing of itself: files it created are
// gone, files it appended to are cut back, and the Writer works again once space returns.
func TestFailedWriteLeavesNothing(t *testing.T) {
	for _, c := range []string{CompressNone, CompressGzip} {
		t.Run("compress="+c, func(t *testing.T) {
			dir := t.TempDir()
			fsys := &faultFS{}
			reg := metrics.NewRegistry()
			o := testOptions(dir, "%{tag}/f-")
			o.FS, o.Metrics, o.Compress = fsys, reg, c
			w := openWriter(t, o)
			b1 := []*event.Event{ev("a1", t0, "tag", "a")}
			s1 := mustWrite(t, w, b1)

			fsys.failWrites(errDiskFull, 5)
			big := batch(strings.Repeat("y", 1000), 300, t0) // spills mid-Write
			for _, e := range big {
				_ = e.SetAttr("tag", []byte("a"))
			}
			_, err := w.Write(append(big, ev("c1", t0, "tag", "c")))
			if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), s1[0].File+".tmp") {
				t.Fatalf("Write = %v, want ENOSPC naming the file", err)
			}
			got := tree(t, dir)
			if len(got) != 1 || decompress(t, c, []byte(got[s1[0].File+".tmp"])) != "a1\n" {
				t.Fatalf("after a failed Write: %q", got)
			}
			if n, _ := reg.Get("write_errors"); n != 1 {
				t.Errorf("write_errors = %d", n)
			}

			fsys.failWrites(nil, 0)
			b2 := []*event.Event{ev("a2", t0, "tag", "a"), ev("c2", t0, "tag", "c")}
			s2 := mustWrite(t, w, b2)
			if s2[0].File != s1[0].File || s2[0].From != s1[0].To {
				t.Errorf("span %+v, want %s from %d", s2[0], s1[0].File, s1[0].To)
			}
			if _, err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got = tree(t, dir)
			if decompress(t, c, []byte(got[s1[0].File])) != "a1\na2\n" || decompress(t, c, []byte(got[s2[1].File])) != "c2\n" {
				t.Errorf("files %q", names(got))
			}
		})
	}
}

// If the cut after a failed Write fails too, the cut is deferred and the file sealed: the
// next events go to a new file; a Sync does not fail for the deferred cut, and the file is not
// finalized before the cut is made.
func TestFailedCutSealsTheFile(t *testing.T) {
	dir := t.TempDir()
	fsys := &faultFS{}
	reg := metrics.NewRegistry()
	o := testOptions(dir, "f-")
	o.FS, o.Metrics = fsys, reg
	w := openWriter(t, o)
	s1 := mustWrite(t, w, batch("a", 1, t0))
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	fsys.failWrites(errDiskFull, 3)
	fsys.failTruncates(errors.New("injected: read-only file system"))
	if _, err := w.Write(batch("b", 1, t0)); !errors.Is(err, errDiskFull) {
		t.Fatalf("Write = %v, want the write error", err)
	}
	if n, _ := reg.Get("cuts_deferred"); n != 1 {
		t.Errorf("cuts_deferred = %d, want 1", n)
	}
	fsys.failWrites(nil, 0)
	s3 := mustWrite(t, w, batch("c", 1, t0))
	if s3[0].File == s1[0].File {
		t.Fatal("a file whose cut failed took more events")
	}
	if err := w.Sync(); err != nil {
		t.Fatalf("Sync with a cut deferred = %v, want nil", err)
	}
	if _, err := w.Roll(); err != nil {
		t.Fatalf("Roll with a cut deferred = %v, want nil: the file waits, and holds nobody back", err)
	}
	if open := w.Open(); len(open) != 1 || open[0] != s1[0].File+".tmp" {
		t.Fatalf("open files %q, want the file whose cut failed still open", open)
	}
	if got := tree(t, dir)[s1[0].File+".tmp"]; got == "" {
		t.Fatalf("the uncut file is gone: %q", names(tree(t, dir)))
	}
	fsys.failTruncates(nil)
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := tree(t, dir)
	if got[s1[0].File] != "a-0\n" || got[s3[0].File] != "c-0\n" {
		t.Errorf("files %v", got)
	}
}

// On a real full file system (a small tmpfs), Write returns ENOSPC, keeps every file made of
// whole records, and works again once space is freed, without a restart. It needs root to
// mount the tmpfs.
func TestDiskFullOnTmpfs(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	filler := path.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 160<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	w := openWriter(t, testOptions(mnt, "data/f-"))
	var written []*event.Event
	var spans []Span
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		b := batch(fmt.Sprintf("%03d-%s", i, strings.Repeat("z", 176)), 100, t0)
		var s []Span
		if s, err = w.Write(b); err == nil {
			written, spans = append(written, b...), append(spans, s...)
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Write = %v, want ENOSPC before 100 batches", err)
	}
	data, rerr := os.ReadFile(path.Join(mnt, "data", spans[0].File+".tmp"))
	if rerr != nil || string(data) != lines(written) {
		t.Fatalf("after ENOSPC the file holds %d bytes, want the %d of the successful Writes (%v)",
			len(data), len(lines(written)), rerr)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	more := batch("after", 100, t0)
	mustWrite(t, w, more)
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, rerr = os.ReadFile(path.Join(mnt, "data", spans[0].File))
	if rerr != nil || string(data) != lines(written, more) {
		t.Errorf("final file holds %d bytes, want %d (%v)", len(data), len(lines(written, more)), rerr)
	}
}

// A file that cannot be created fails the Write, and the next event of that bucket still goes
// to its own bucket, not to the one of the event before.
func TestFailedCreateDoesNotMisroute(t *testing.T) {
	dir := t.TempDir()
	fsys := &faultFS{}
	o := testOptions(dir, "%H/f-")
	o.FS = fsys
	w := openWriter(t, o)
	at10 := t0.Truncate(time.Hour).Add(5 * time.Second)
	at11 := at10.Add(time.Hour)
	mustWrite(t, w, []*event.Event{ev("ten", at10)})
	fsys.failCreates(errors.New("injected: permission denied"))
	if _, err := w.Write([]*event.Event{ev("eleven", at11)}); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("Write = %v, want the create error", err)
	}
	fsys.failCreates(nil)
	s := mustWrite(t, w, []*event.Event{ev("eleven", at11)})
	if !strings.HasPrefix(s[0].File, "11/") {
		t.Errorf("event of 11:00 went to %s", s[0].File)
	}
}

// Data written and never synced, in a file whose cut failed, is not known durable: Sync fails
// (its owner must not commit it) until the cut is made.
func TestFailedCutOfUnsyncedDataFailsSync(t *testing.T) {
	dir := t.TempDir()
	fsys := &faultFS{}
	o := testOptions(dir, "f-")
	o.FS = fsys
	w := openWriter(t, o)
	mustWrite(t, w, batch("a", 1, t0))
	fsys.failWrites(errDiskFull, 3)
	fsys.failTruncates(errors.New("injected: read-only file system"))
	if _, err := w.Write(batch("b", 1, t0)); !errors.Is(err, errDiskFull) {
		t.Fatalf("Write = %v, want the write error", err)
	}
	if err := w.Sync(); err == nil {
		t.Fatal("Sync vouched for data written before a failed cut and never synced")
	}
	fsys.failWrites(nil, 0)
	fsys.failTruncates(nil)
	if err := w.Sync(); err != nil {
		t.Fatalf("Sync once the cut is made = %v", err)
	}
}
