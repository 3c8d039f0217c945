package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// Roll finalizes every open file whose data is settled: fsync, encoder Close (a trailer),
// fsync, rename from .tmp, fsync of the directory. A file with nothing in it is removed
// instead. It returns the files finished (Span.File names), those an eviction finished since
// the last report included. A file holding data not settled stays open, and the error wraps
// ErrUnsettled.
func (w *Writer) Roll() ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	err := w.finalize(w.all())
	return w.takeFinished(), err
}

// CloseIdle finalizes, as Roll does, the files not written for Options.IdleAfter before now.
// It does nothing when IdleAfter is 0.
func (w *Writer) CloseIdle(now time.Time) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	if w.o.IdleAfter <= 0 {
		return w.takeFinished(), nil
	}
	var idle []*bucket
	for b := w.lruTail; b != nil; b = b.prev {
		if now.Sub(b.lastWrite) >= w.o.IdleAfter {
			idle = append(idle, b)
		}
	}
	err := w.finalize(idle)
	return w.takeFinished(), err
}

// Tidy finalizes, as Roll does, the files that are done taking events: those sealed (full, by
// Options.RollBytes) and those idle for Options.IdleAfter before now, when their data is
// settled. Others are left alone, without error. It returns the files finished.
func (w *Writer) Tidy(now time.Time) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	var done []*bucket
	for b := w.lruTail; b != nil; b = b.prev {
		idle := w.o.IdleAfter > 0 && now.Sub(b.lastWrite) >= w.o.IdleAfter
		if (!b.live || idle) && b.settled >= b.size {
			done = append(done, b)
		}
	}
	err := w.finalize(done)
	return w.takeFinished(), err
}

// takeFinished returns the files finished since the last call.
func (w *Writer) takeFinished() []string {
	out := w.finished
	w.finished = nil
	return out
}

// finalize finalizes those of bs whose data is settled; the others stay open, and the error
// names them. A file that fails a step stays open (as .tmp) and is tried again by the next
// finalize.
func (w *Writer) finalize(bs []*bucket) error {
	if len(bs) == 0 {
		return nil
	}
	var errs []error
	var unsettled, deferred []string
	for _, b := range bs {
		if b.settled < b.size && !b.closing {
			unsettled = append(unsettled, b.name)
			continue
		}
		if err := w.syncBucket(b); err != nil {
			if b.needTrunc {
				// A deferred cut waits (for a lease on HDFS): the file stays open for a
				// later finalize, and holds nobody else back.
				deferred = append(deferred, b.name)
				w.deferredCutFailed(b, err)
				continue
			}
			errs = append(errs, err)
			continue
		}
		name, size := b.name, b.size
		if err := w.finish(b); err != nil {
			errs = append(errs, err)
		} else if size > 0 {
			w.finished = append(w.finished, name)
		}
	}
	errs = append(errs, w.syncDirs())
	if len(unsettled) > 0 {
		errs = append(errs, fmt.Errorf("%w: %s", ErrUnsettled, strings.Join(unsettled, ", ")))
	}
	if len(deferred) > 0 {
		w.log.Debug("files wait for a deferred cut before they are finalized", "files", deferred)
	}
	return errors.Join(errs...)
}

// finish closes b's encoder and file and renames the file to its final name.
func (w *Writer) finish(b *bucket) error {
	var closeErr error
	if !b.closing {
		w.seal(b)
		if b.size == 0 {
			// Nothing was written, or all of it was taken back: no file to keep. One that
			// cannot be removed now stays open (empty) for the next finalize.
			if b.f != nil {
				_ = b.f.Close()
				b.f = nil
			}
			if err := w.l.fs.Remove(b.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove empty %q: %w", b.tmp, err)
			}
			w.dirtyDirs[parentDir(b.tmp)] = struct{}{}
			w.drop(b)
			return nil
		}
		if err := w.closeEncoder(b); err != nil {
			return err
		}
		closeErr = b.f.Close()
		if closeErr != nil {
			closeErr = fmt.Errorf("close %q: %w", b.tmp, closeErr)
			// On the local disk the file is fsynced: a failed close loses nothing, and the
			// rename goes ahead. On HDFS the file stays open for the NameNode until its
			// lease is recovered: it is renamed once it is settled.
			_, b.needSettle = w.l.fs.(Settler)
		}
		b.f, b.enc, b.closing = nil, nil, true
	}
	if b.needSettle {
		if err := w.settle(b); err != nil {
			return errors.Join(closeErr, err)
		}
	}
	final, err := w.renameFinal(b)
	if err != nil {
		return errors.Join(closeErr, err)
	}
	w.drop(b)
	w.m.finalized.Inc()
	w.log.Debug("finalized bucket file", "file", final)
	return nil
}

// settleTry bounds one try, within a finalize, to settle a file whose close failed.
const settleTry = 100 * time.Millisecond

// settle makes the file of b, whose close failed, closed by the backend at its size: it waits
// a little for its lease (a later finalize tries again), and cuts what the backend kept beyond
// what the Writer wrote.
func (w *Writer) settle(b *bucket) error {
	ctx, cancel := context.WithTimeout(context.Background(), settleTry)
	err := w.l.fs.(Settler).Settle(ctx, b.tmp)
	cancel()
	if err != nil {
		return fmt.Errorf("%q waits to be closed by its backend: %w", b.tmp, err)
	}
	n, err := w.l.fs.Stat(b.tmp)
	if err != nil {
		return err
	}
	switch {
	case n < b.size:
		return fmt.Errorf("%q holds %d bytes once closed, fewer than the %d written to it", b.tmp, n, b.size)
	case n > b.size:
		f, err := w.l.fs.OpenAppend(b.tmp)
		if err != nil {
			return err
		}
		err = f.Truncate(b.size)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("cut %q to %d after its close failed: %w", b.tmp, b.size, err)
		}
	}
	b.needSettle = false
	return nil
}

// closeEncoder lets b's encoder write its trailer and makes it durable. A failed trailer is
// cut off again: the records before it are what matters.
func (w *Writer) closeEncoder(b *bucket) error {
	if b.broken {
		return nil
	}
	before := b.size
	err := b.enc.Close()
	if err == nil {
		err = b.spill()
	}
	if err != nil {
		b.raw = b.raw[:0]
		if terr := b.f.Truncate(before); terr != nil {
			b.needTrunc, b.broken = true, true
			return errors.Join(fmt.Errorf("close encoder of %q: %w", b.tmp, err), terr)
		}
		b.size = before
		w.log.Warn("dropped a failed trailer", "file", b.tmp, "err", err)
	}
	b.broken = true // closed: never again
	if b.size != before || err != nil {
		if serr := b.f.Sync(); serr != nil {
			return fmt.Errorf("fsync %q: %w", b.tmp, serr)
		}
	}
	return nil
}

// renameFinal renames b's .tmp file to its final name, or, if another file took that name,
// to the first free ".n" variant of it.
func (w *Writer) renameFinal(b *bucket) (string, error) {
	final := b.path
	for n := 1; ; n++ {
		err := w.l.fs.Rename(b.tmp, final)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || n > maxNameTries {
			return "", fmt.Errorf("rename %q: %w", b.tmp, err)
		}
		final = withCollision(b.path, w.l.ext, n)
	}
	if final != b.path {
		w.log.Warn("final name taken; renamed to another", "file", b.path, "renamed", final)
	}
	w.dirtyDirs[parentDir(final)] = struct{}{}
	return final, nil
}
