package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// writeVec writes parts back to back at off in f with pwritev(2): one call for up to iovMax
// parts, more if the kernel writes less than it was given. It returns the bytes written.
func writeVec(f *os.File, parts [][]byte, off int64) (int64, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int64
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		n, werr = writeParts(parts, off, func(iov [][]byte, off int64) (int, error) {
			for {
				n, err := unix.Pwritev(int(fd), iov, off)
				if err != unix.EINTR {
					return n, err
				}
			}
		})
		return true
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return n, &os.PathError{Op: "pwritev", Path: f.Name(), Err: err}
	}
	return n, nil
}

// datasync makes f's data durable. fdatasync skips the inode's times, which a log does not
// need; the size it does flush.
func datasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}

// freeSpace returns the bytes an unprivileged process may still write in dir's filesystem.
func freeSpace(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %q: %w", dir, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// lockDir takes an exclusive flock on dir/LOCK so that two logs never write one directory.
// The lock goes with the process: a killed writer leaves no stale lock behind.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	rc, err := f.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) {
			err = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
		})
		if cerr != nil {
			err = cerr
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("open wal %q: %w", dir, ErrInUse)
		}
		return nil, fmt.Errorf("open wal: lock %s: %w", path, err)
	}
	return f, nil
}

// isNoSpace says err is the filesystem running out of space or quota: a condition that passes,
// unlike an I/O error.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
