package hdfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"time"

	"github.com/colinmarc/hdfs/v2"

	"github.com/flumego/flume/collector/store"
)

// Retries of a cut of a file whose writer failed: the Writer asks at every sync, and the file
// is tried at most this often, the wait doubling up to its maximum, while its lease is held.
const (
	cutRetryFirst = 250 * time.Millisecond
	cutRetryMax   = 10 * time.Second
)

// file is an HDFS file open for writing at its end.
type file struct {
	fs    *FS
	c     *hdfs.Client // the client w belongs to
	watch *watcher     // c's DataNode write connections; nil: Sync closes and reopens
	name  string
	w     *hdfs.FileWriter // nil once it failed or closed
	err   error            // why w failed

	nextTry time.Time     // a cut after a failure is not tried again before
	wait    time.Duration // and then waits this long more
}

var _ store.File = (*file)(nil)

// Write appends p.
func (f *file) Write(p []byte) (int, error) {
	if f.w == nil {
		return 0, f.gone("write")
	}
	n, err := f.w.Write(p)
	if err != nil {
		f.broke(err)
		return n, fmt.Errorf("write %s%s: %w", f.fs, f.name, err)
	}
	return n, nil
}

// Sync is hflush: it returns once every DataNode of the pipeline has acknowledged what was
// written. With close-per-commit, or when the connections to the DataNodes cannot be watched
// (SASL data transfer protection), it closes the file and reopens it for append instead.
func (f *file) Sync() error {
	if f.w == nil {
		return f.gone("sync")
	}
	if !f.fs.s.ClosePerCommit && f.watch != nil {
		err := f.w.Flush()
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
			err = f.watch.wait(ctx, f.watch.mark())
			cancel()
		}
		if err != nil {
			f.broke(err)
			return fmt.Errorf("hflush %s%s: %w", f.fs, f.name, err)
		}
		return nil
	}
	if err := f.closeW(); err != nil {
		return err
	}
	return f.reopen()
}

// Truncate cuts the file to size bytes: it closes it, copies the part to keep into a hidden
// file beside it, renames that over it, and opens it again for append. A file whose writer
// failed is cut once its lease, held by the closed client, has expired.
func (f *file) Truncate(size int64) error {
	if f.w != nil {
		if err := f.closeW(); err != nil {
			return err
		}
	} else {
		// The file's writer failed: it can be cut once the lease of the closed client has
		// expired. One quick try, then wait.
		if time.Now().Before(f.nextTry) {
			return fmt.Errorf("cut %s%s: waiting for the lease its failed writer held (%v)", f.fs, f.name, f.err)
		}
		if err := f.fs.settleOnce(f.name); err != nil {
			f.wait = min(max(2*f.wait, cutRetryFirst), cutRetryMax)
			f.nextTry = time.Now().Add(f.wait)
			return fmt.Errorf("cut %s%s after its writer failed (%v): %w", f.fs, f.name, f.err, err)
		}
		f.wait = 0
	}
	if err := cut(f.fs, f.name, size); err != nil {
		return err
	}
	return f.reopen()
}

// Close closes the file, completing its last block. A file whose writer failed cannot be
// closed: the error says so, and the NameNode closes it once the failed client's lease has
// expired (store.Settler).
func (f *file) Close() error {
	if f.w == nil {
		return f.gone("close")
	}
	return f.closeW()
}

// closeW closes w.
func (f *file) closeW() error {
	w := f.w
	f.w = nil
	if err := closeWriter(w); err != nil {
		f.broke(err)
		return fmt.Errorf("close %s%s: %w", f.fs, f.name, err)
	}
	return nil
}

// reopen opens the file again for append.
func (f *file) reopen() error {
	c, wt, err := f.fs.sh.current()
	if err == nil {
		f.c, f.watch = c, wt
		f.w, err = c.Append(f.name)
	}
	if err != nil {
		f.w, f.err = nil, err
		return fmt.Errorf("reopen %s%s for append: %w", f.fs, f.name, f.fs.mapErr(err))
	}
	return nil
}

// broke marks the file failed and closes its client, so that the file's lease expires. The
// failed writer is closed at once (an expired deadline), which stops its goroutines.
func (f *file) broke(err error) {
	if w := f.w; w != nil {
		_ = w.SetDeadline(time.Now())
		_ = w.Close()
	}
	f.w, f.err = nil, err
	f.fs.sh.fail(f.c)
	f.fs.log.Warn("an HDFS file failed; its client is closed and will be built again",
		"file", f.fs.String()+f.name, "err", err)
}

func (f *file) gone(op string) error {
	return fmt.Errorf("%s %s%s: the file failed earlier: %w", op, f.fs, f.name, errors.Join(f.err, iofs.ErrClosed))
}

// cut makes the closed file name hold its first size bytes.
func cut(fsys *FS, name string, size int64) error {
	n, err := fsys.Stat(name)
	if err != nil {
		return err
	}
	switch {
	case n == size:
		return nil
	case n < size:
		return fmt.Errorf("cut %s%s to %d bytes: it holds only %d", fsys, name, size, n)
	}
	c, err := fsys.client()
	if err != nil {
		return err
	}
	tmp := cutName(name)
	if err := c.Remove(tmp); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return fsys.mapErr(err)
	}
	r, err := c.Open(name)
	if err != nil {
		return fsys.mapErr(err)
	}
	defer r.Close()
	w, err := c.Create(tmp)
	if err != nil {
		return fsys.mapErr(err)
	}
	if _, err := io.CopyN(w, r, size); err != nil {
		w.Close()
		return fmt.Errorf("cut %s%s: copy %d bytes: %w", fsys, name, size, err)
	}
	if err := closeWriter(w); err != nil {
		return fmt.Errorf("cut %s%s: %w", fsys, name, err)
	}
	// HDFS's rename replaces name with the copy in one step.
	if err := c.Rename(tmp, name); err != nil {
		return fmt.Errorf("cut %s%s: %w", fsys, name, fsys.mapErr(err))
	}
	return nil
}
