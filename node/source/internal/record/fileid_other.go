//go:build !unix

package record

import "os"

// FileID is where a file lives; this system gives no identity, so every file has the zero one
// and is known by its name alone.
type FileID struct{ Dev, Ino uint64 }

// IdentityOf returns the zero identity.
func IdentityOf(os.FileInfo) FileID { return FileID{} }
