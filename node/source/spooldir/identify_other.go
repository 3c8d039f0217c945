//go:build !unix

package spooldir

import "os"

// fileID identifies a file across renames where the system gives an identity; here it gives
// none, and a file is known by its name alone.
type fileID struct{ Dev, Ino uint64 }

// identify returns the zero identity: every file looks the same.
func identify(os.FileInfo) fileID { return fileID{} }
