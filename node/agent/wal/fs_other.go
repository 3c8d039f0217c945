//go:build !linux

package wal

import (
	"errors"
	"os"
	"syscall"
)

// writeVec writes parts back to back at off in f, one after another.
func writeVec(f *os.File, parts [][]byte, off int64) (int64, error) {
	return writeParts(parts, off, func(iov [][]byte, off int64) (int, error) {
		return f.WriteAt(iov[0], off)
	})
}

// datasync makes f durable; without fdatasync, a full fsync.
func datasync(f *os.File) error { return f.Sync() }

// freeSpace is not measured on this platform: the minimum free space check is off.
func freeSpace(string) (int64, error) { return 1 << 62, nil }

// lockDir does not lock on this platform: one process per directory is the operator's duty.
func lockDir(string) (*os.File, error) { return nil, nil }

// isNoSpace says err is the filesystem running out of space.
func isNoSpace(err error) bool { return errors.Is(err, syscall.ENOSPC) }
