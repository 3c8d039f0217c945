//go:build unix

package record

import (
	"os"
	"syscall"
)

// FileID is where a file lives: its device and inode. It identifies a file across renames; a
// file deleted and no longer open may see its inode reused, so sources that must tell files
// apart over time pair it with a fingerprint of the file's first bytes.
type FileID struct{ Dev, Ino uint64 }

// IdentityOf returns the device and inode of the file fi describes.
func IdentityOf(fi os.FileInfo) FileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}
	}
	return FileID{}
}
