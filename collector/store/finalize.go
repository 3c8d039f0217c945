package store

import (
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// Roll finalizes every open file: fsync, BeforeFinalize, encoder Close (a trailer), fsync,
// rename from .tmp, fsync of the directory. A file with nothing in it is removed instead.
func (w *Writer) Roll() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	return w.finalize(w.all())
}

// CloseIdle finalizes the files not written for Options.IdleAfter before now. It does nothing
// when IdleAfter is 0.
func (w *Writer) CloseIdle(now time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.o.IdleAfter <= 0 {
		return nil
	}
	var idle []*bucket
	for b := w.lruTail; b != nil; b = b.prev {
		if now.Sub(b.lastWrite) >= w.o.IdleAfter {
			idle = append(idle, b)
		}
	}
	return w.finalize(idle)
}

// finalize finalizes bs. What is written to them is made durable first, so the owner's
// BeforeFinalize can commit it; if BeforeFinalize fails, none is finalized. A file that fails
// a later step stays open (as .tmp) and is tried again by the next finalize.
func (w *Writer) finalize(bs []*bucket) error {
	if len(bs) == 0 {
		return nil
	}
	var errs []error
	ready := make([]*bucket, 0, len(bs))
	for _, b := range bs {
		if err := w.syncBucket(b); err != nil {
			errs = append(errs, err)
			continue
		}
		ready = append(ready, b)
	}
	if err := w.syncDirs(); err != nil {
		return errors.Join(append(errs, err)...)
	}
	if hook := w.o.BeforeFinalize; hook != nil {
		names := make([]string, 0, len(ready))
		for _, b := range ready {
			if b.size > 0 {
				names = append(names, b.name)
			}
		}
		if len(names) > 0 {
			if err := hook(names); err != nil {
				return errors.Join(append(errs, fmt.Errorf("before finalize: %w", err))...)
			}
		}
	}
	var done []string
	for _, b := range ready {
		name, size := b.name, b.size
		err := w.finish(b)
		if err == nil && size > 0 {
			done = append(done, name)
		}
		errs = append(errs, err)
	}
	if err := w.syncDirs(); err != nil {
		errs = append(errs, err)
	} else if hook := w.o.AfterFinalize; hook != nil && len(done) > 0 {
		hook(done)
	}
	return errors.Join(errs...)
}

// finish closes b's encoder and file and renames the file to its final name.
func (w *Writer) finish(b *bucket) error {
	var closeErr error
	if !b.closing {
		w.seal(b)
		if b.size == 0 {
			// Nothing was written, or all of it was taken back: no file to keep.
			err := errors.Join(b.f.Close(), w.l.fs.Remove(b.tmp))
			w.dirtyDirs[parentDir(b.tmp)] = struct{}{}
			w.drop(b)
			if err != nil {
				return fmt.Errorf("remove empty %q: %w", b.tmp, err)
			}
			return nil
		}
		if err := w.closeEncoder(b); err != nil {
			return err
		}
		// The file is fsynced: a failed close loses nothing, so the rename goes ahead.
		closeErr = b.f.Close()
		if closeErr != nil {
			closeErr = fmt.Errorf("close %q: %w", b.tmp, closeErr)
		}
		b.f, b.enc, b.closing = nil, nil, true
	}
	final, err := w.renameFinal(b)
	if err != nil {
		return errors.Join(closeErr, err)
	}
	w.drop(b)
	w.m.finalized.Inc()
	w.log.Debug("finalized bucket file", "file", final)
	return closeErr
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
