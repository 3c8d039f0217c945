package hdfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/colinmarc/hdfs/v2"

	"github.com/flumego/flume/collector/store"
)

// Java exception classes the backend tells apart.
const (
	excAlreadyBeingCreated = "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException"
	excRecoveryInProgress  = "org.apache.hadoop.hdfs.protocol.RecoveryInProgressException"
	excParentNotDirectory  = "org.apache.hadoop.fs.ParentNotDirectoryException"
	excPathTooLong         = "org.apache.hadoop.hdfs.protocol.FSLimitException$PathComponentTooLongException"
	excInvalidPath         = "org.apache.hadoop.fs.InvalidPathException"
)

// settleMaxWait is the longest wait between two tries of Settle: a NameNode recovers a lease
// within seconds of its soft limit.
const settleMaxWait = time.Second

// closeTries bounds the Close calls of a file whose last block the NameNode has not seen
// replicated yet (ErrReplicating), as the Java client retries them.
const closeTries = 8

// FS is the store.FS of one NameNode (or nameservice) and user.
type FS struct {
	t   Target
	s   Settings
	sh  *shared
	log *slog.Logger
}

var (
	_ store.FS      = (*FS)(nil)
	_ store.Settler = (*FS)(nil)
)

// New returns the FS of an hdfs:// URL. It does no I/O: the client connects on first use.
func New(raw string, s Settings, log *slog.Logger) (*FS, error) {
	t, err := Resolve(raw, s)
	if err != nil {
		return nil, err
	}
	sh, err := sharedFor(t, s)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &FS{t: t, s: s, sh: sh, log: log}, nil
}

// Unconnected returns an FS that reaches no cluster, for flows built only to be checked:
// nothing may be called on it.
func Unconnected() *FS { return &FS{} }

// Target returns where the FS writes.
func (f *FS) Target() Target { return f.t }

// Hold keeps the shared client while a sink is open; call the func returned when it closes.
func (f *FS) Hold() func() { return f.sh.hold() }

// String names the FS in messages.
func (f *FS) String() string { return "hdfs://" + f.t.Authority }

// client returns the shared client.
func (f *FS) client() (*hdfs.Client, error) { return f.sh.get() }

// MkdirAll creates dir and its parents.
func (f *FS) MkdirAll(dir string) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	return f.mapErr(c.MkdirAll(dir, 0o755))
}

// Create makes name, which must not exist, and opens it for writing.
func (f *FS) Create(name string) (store.File, error) {
	c, wt, err := f.sh.current()
	if err != nil {
		return nil, err
	}
	var w *hdfs.FileWriter
	if f.s.Replication == 0 && f.s.BlockSize == 0 {
		w, err = c.Create(name)
	} else {
		repl, bs := f.s.Replication, f.s.BlockSize
		if repl == 0 || bs == 0 {
			d, derr := c.ServerDefaults()
			if derr != nil {
				return nil, f.mapErr(derr)
			}
			if repl == 0 {
				repl = d.Replication
			}
			if bs == 0 {
				bs = d.BlockSize
			}
		}
		if _, serr := c.Stat(name); serr == nil {
			return nil, &os.PathError{Op: "create", Path: name, Err: iofs.ErrExist}
		}
		w, err = c.CreateFile(name, repl, bs, 0o644)
	}
	if err != nil {
		return nil, f.mapErr(err)
	}
	return &file{fs: f, c: c, watch: wt, name: name, w: w}, nil
}

// OpenAppend opens name for writing at its end, once its lease is free (Settle).
func (f *FS) OpenAppend(name string) (store.File, error) {
	c, wt, err := f.sh.current()
	if err != nil {
		return nil, err
	}
	w, err := c.Append(name)
	if err != nil {
		return nil, f.mapErr(err)
	}
	return &file{fs: f, c: c, watch: wt, name: name, w: w}, nil
}

// Open opens name for reading.
func (f *FS) Open(name string) (io.ReadCloser, error) {
	c, err := f.client()
	if err != nil {
		return nil, err
	}
	r, err := c.Open(name)
	if err != nil {
		return nil, f.mapErr(err)
	}
	return r, nil
}

// Rename moves from to to, and fails with fs.ErrExist if to exists: HDFS's rename, as the
// client calls it, would replace it.
func (f *FS) Rename(from, to string) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	if _, err := c.Stat(to); err == nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: iofs.ErrExist}
	} else if !errors.Is(err, iofs.ErrNotExist) {
		return f.mapErr(err)
	}
	return f.mapErr(c.Rename(from, to))
}

// Remove deletes name, even a file another writer holds open.
func (f *FS) Remove(name string) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	return f.mapErr(c.Remove(name))
}

// Stat returns the size of name. Of a file being written, HDFS counts only the completed
// blocks (Settle first to know all of a dead writer's file).
func (f *FS) Stat(name string) (int64, error) {
	c, err := f.client()
	if err != nil {
		return 0, err
	}
	fi, err := c.Stat(name)
	if err != nil {
		return 0, f.mapErr(err)
	}
	if fi.IsDir() {
		return 0, fmt.Errorf("stat %q: is a directory", name)
	}
	return fi.Size(), nil
}

// List returns the entries of dir.
func (f *FS) List(dir string) ([]iofs.DirEntry, error) {
	c, err := f.client()
	if err != nil {
		return nil, err
	}
	fis, err := c.ReadDir(dir)
	if err != nil {
		return nil, f.mapErr(err)
	}
	out := make([]iofs.DirEntry, len(fis))
	for i, fi := range fis {
		out[i] = iofs.FileInfoToDirEntry(fi)
	}
	return out, nil
}

// SyncDir does nothing: the NameNode has logged a change when its call returns.
func (f *FS) SyncDir(string) error { return nil }

// Settle waits until name, left open by a writer that is gone, is closed, so that its whole
// length can be read and it can be cut: it asks to append to it, which after the lease's soft
// limit makes the NameNode recover the lease, and closes it again at once. It also removes
// what an interrupted cut of name left. It returns when ctx ends.
func (f *FS) Settle(ctx context.Context, name string) error {
	wait := 250 * time.Millisecond
	logged := false
	for {
		err := f.settleOnce(name)
		if err == nil || !leaseHeld(err) {
			return err
		}
		if !logged {
			f.log.Info("waiting for the lease of a file left open by a writer that is gone",
				"file", f.String()+name, "err", err)
			logged = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("settle %q: %w (last: %v)", name, ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, settleMaxWait)
	}
}

// settleOnce tries once to take and release name's lease.
func (f *FS) settleOnce(name string) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	if err := c.Remove(cutName(name)); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return f.mapErr(err)
	}
	w, err := c.Append(name)
	if err != nil {
		return f.mapErr(err)
	}
	return closeWriter(w)
}

// leaseHeld reports whether err says another writer still holds a file's lease.
func leaseHeld(err error) bool {
	exc := exception(err)
	return exc == excAlreadyBeingCreated || exc == excRecoveryInProgress
}

// exception returns the Java exception class of err, if it came from HDFS.
func exception(err error) string {
	var he hdfs.Error
	if errors.As(err, &he) {
		return he.Exception()
	}
	return ""
}

// mapErr makes err say what the store needs to know: a name HDFS refuses however often it
// is asked (too long, a file where a directory must be) wraps syscall.ENAMETOOLONG or
// ENOTDIR.
func (f *FS) mapErr(err error) error {
	if err == nil {
		return nil
	}
	switch exception(err) {
	case excParentNotDirectory:
		return fmt.Errorf("%s: %w: %w", f, syscall.ENOTDIR, err)
	case excPathTooLong:
		return fmt.Errorf("%s: %w: %w", f, syscall.ENAMETOOLONG, err)
	case excInvalidPath:
		return fmt.Errorf("%s: %w: %w", f, syscall.EINVAL, err)
	}
	if errors.Is(err, iofs.ErrExist) && strings.Contains(err.Error(), "mkdir") {
		// A file where a directory must be.
		return fmt.Errorf("%s: %w: %w", f, syscall.ENOTDIR, err)
	}
	return fmt.Errorf("%s: %w", f, err)
}

// cutName is the hidden file a cut of name copies into.
func cutName(name string) string {
	dir, base := path.Split(name)
	return dir + "." + base + ".cut"
}

// closeWriter closes w, trying again while the NameNode waits for the last block's replicas.
func closeWriter(w *hdfs.FileWriter) error {
	wait := 50 * time.Millisecond
	var err error
	for try := 0; try < closeTries; try++ {
		if err = w.Close(); err == nil || !hdfs.IsErrReplicating(err) {
			return err
		}
		time.Sleep(wait) // the Java client's backoff between complete calls
		wait *= 2
	}
	return err
}
