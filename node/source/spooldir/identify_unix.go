//go:build unix

package spooldir

import (
	"os"
	"syscall"
)

// fileID identifies a file across renames: its device and inode.
type fileID struct{ Dev, Ino uint64 }

// identify returns the device and inode of the file fi describes.
func identify(fi os.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}
	}
	return fileID{}
}
