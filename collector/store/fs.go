package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/flumego/flume/internal/atomicfile"
)

// FS is the storage a Writer writes through. The local file system implements it (file://
// and plain paths); an HDFS client can implement it too, which is why it is this small and
// speaks only of whole-file operations and appends.
//
// Names are slash-separated paths as the backend understands them (for the local file
// system, OS paths). Methods are called by one Writer, or by Recover, under their own lock:
// an implementation need not be safe for concurrent use by several Writers on one name.
type FS interface {
	// MkdirAll creates dir and its missing parents.
	MkdirAll(dir string) error
	// Create makes a new, empty file for writing at its end. It fails with an error wrapping
	// fs.ErrExist if name exists: two writers never share a file.
	Create(name string) (File, error)
	// OpenAppend opens an existing file for writing at its end (Recover truncates through it).
	OpenAppend(name string) (File, error)
	// Open opens a file for reading.
	Open(name string) (io.ReadCloser, error)
	// Rename moves from to to. It fails with an error wrapping fs.ErrExist, and changes
	// nothing, if to exists: a finalized file is never replaced.
	Rename(from, to string) error
	// Remove deletes a file.
	Remove(name string) error
	// Stat returns the size of a file, or an error wrapping fs.ErrNotExist.
	Stat(name string) (size int64, err error)
	// List returns the entries of dir.
	List(dir string) ([]fs.DirEntry, error)
	// SyncDir makes the entries of dir (files created, renamed, removed) durable.
	SyncDir(dir string) error
}

// Settler is implemented by a backend where a file left open by a writer that is gone (a
// crash) cannot be read at its full length, nor cut, until the backend has closed it: HDFS,
// until the NameNode has recovered the writer's lease. Recover calls Settle before it looks
// at such a file.
type Settler interface {
	// Settle returns once name is closed, or when ctx ends.
	Settle(ctx context.Context, name string) error
}

// File is an open file written at its end.
type File interface {
	// Write appends p.
	io.Writer
	// Truncate cuts the file to size bytes; later writes go to the new end.
	Truncate(size int64) error
	// Sync makes what was written, and a truncation, durable.
	Sync() error
	// Close releases the file.
	Close() error
}

// LocalFS is the local file system.
type LocalFS struct{}

// MkdirAll creates dir with mode 0755.
func (LocalFS) MkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

// Create creates name exclusively, mode 0644, opened for appending.
func (LocalFS) Create(name string) (File, error) {
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
}

// OpenAppend opens an existing file for appending.
func (LocalFS) OpenAppend(name string) (File, error) {
	return os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
}

// Open opens name for reading.
func (LocalFS) Open(name string) (io.ReadCloser, error) { return os.Open(name) }

// Rename moves from to to without replacing to. It links the new name and then removes the
// old one, since link(2) refuses an existing target where rename(2) would replace it. A crash
// between the two leaves both names on one file, which a later Rename of the same pair
// completes. On a file system without hard links it falls back to a check and rename(2).
func (LocalFS) Rename(from, to string) error {
	err := os.Link(from, to)
	if err == nil {
		return os.Remove(from)
	}
	if errors.Is(err, fs.ErrExist) {
		if same(from, to) {
			return os.Remove(from)
		}
		return err
	}
	var le *os.LinkError
	if errors.As(err, &le) && (errors.Is(le.Err, syscall.EPERM) || errors.Is(le.Err, syscall.ENOTSUP) ||
		errors.Is(le.Err, syscall.EOPNOTSUPP) || errors.Is(le.Err, syscall.EMLINK)) {
		if _, serr := os.Lstat(to); serr == nil {
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: fs.ErrExist}
		}
		return os.Rename(from, to)
	}
	return err
}

func same(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// Remove deletes name.
func (LocalFS) Remove(name string) error { return os.Remove(name) }

// Stat returns the size of name.
func (LocalFS) Stat(name string) (int64, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return 0, err
	}
	if fi.IsDir() {
		return 0, fmt.Errorf("stat %q: is a directory", name)
	}
	return fi.Size(), nil
}

// List reads dir.
func (LocalFS) List(dir string) ([]fs.DirEntry, error) { return os.ReadDir(dir) }

// SyncDir fsyncs dir.
func (LocalFS) SyncDir(dir string) error { return atomicfile.SyncDir(dir) }

// exists reports whether name exists according to fsys (a directory counts).
func exists(fsys FS, name string) bool {
	_, err := fsys.Stat(name)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// parentDir returns the directory holding name.
func parentDir(name string) string { return filepath.Dir(name) }
