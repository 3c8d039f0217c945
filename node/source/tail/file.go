package tail

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/source/internal/record"
)

// fpSize is how many leading bytes of a file its fingerprint covers.
const fpSize = 256

// crcTable is the CRC-32C table of fingerprints.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// fileID is where a file lives: its device and inode. It names a file only together with a
// fingerprint: once a file is deleted and no descriptor holds it, its inode may be reused.
type fileID = record.FileID

// idOf returns the device and inode of fi, zero where the system has none.
func idOf(fi os.FileInfo) fileID { return record.IdentityOf(fi) }

// fingerprint is the CRC-32C of the first n bytes of a file (n <= fpSize: fewer while the
// file is shorter). A file that does not begin with the same n bytes is another file.
type fingerprint struct {
	n   int
	sum uint32
}

// fingerprintOf computes the fingerprint of the first n bytes of f, or of all of f if it is
// shorter.
func fingerprintOf(f *os.File, n int) (fingerprint, error) {
	var b [fpSize]byte
	n = min(n, fpSize)
	k, err := f.ReadAt(b[:n], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fingerprint{}, fmt.Errorf("read %q: %w", f.Name(), err)
	}
	return fingerprint{n: k, sum: crc32.Checksum(b[:k], crcTable)}, nil
}

// matches reports whether f begins with the bytes fp was computed from.
func (fp fingerprint) matches(f *os.File) (bool, error) {
	got, err := fingerprintOf(f, fp.n)
	return err == nil && got == fp, err
}

// stamp is what a stat says of a file's content: size and modification time. A file whose
// stamp has not changed since it was read to its end has nothing new.
type stamp struct {
	size  int64
	mtime int64
}

func stampOf(fi os.FileInfo) stamp {
	return stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

// file is a file being followed: found at a watched name, or a file that name denoted before
// (rotated away or deleted) and that is read on to its end.
type file struct {
	id   fileID
	fp   fingerprint
	path string // where the file was seen last
	tmpl event.Event
	tgt  *target // the target whose name denotes the file; nil once it is an orphan
	// owner is the index of the configured name the file was found at (tail, multitail),
	// kept in positions so that a restarted source names it alike; -1 for tailDir.
	owner int

	off   int64 // where the first record not yet returned starts, unless the file is loaded
	pos   int64 // the offset of fd: bytes read into the buffer (when fd is open)
	seen  int64 // the largest size the file was seen to have
	stamp stamp // at the last time the file was read to its end
	fd    *os.File

	orphan     bool      // no watched name denotes the file any more
	lastActive time.Time // orphans: the last time the file grew, or was orphaned
	atEOF      bool      // the file was read to its end and has not changed since
	verify     bool      // check the head before reading on: the file was at its end
	queued     bool      // the file is in the ready queue
	dropped    bool      // the file is no longer followed
	used       uint64    // when the file was last loaded, for closing the least recent
	openIdx    int       // index in Source.open while fd is open
	problem    string    // the last error reading the file, logged once
}

// newTemplate returns the event every record of a file is stamped from. Events of a batch
// share its attribute slice, which is full (len == cap): an event that is changed must be
// derived first (plugin contract), and appending to a full slice copies it.
func newTemplate(host string, name []byte) event.Event {
	e := event.Event{Priority: event.INFO, Host: host}
	_ = e.SetAttr(AttrTailSrcFile, name) // a fresh event has no attributes: cannot fail
	return e
}

// read reads from the file's descriptor at its offset.
func (f *file) read(p []byte) (int, error) {
	n, err := f.fd.Read(p)
	f.pos += int64(n)
	return n, err
}

// seek moves the descriptor to off.
func (f *file) seek(off int64) error {
	if _, err := f.fd.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("seek %q to %d: %w", f.path, off, err)
	}
	f.pos = off
	return nil
}

// refingerprint extends the fingerprint of a young file to what has been read of it, up to
// fpSize bytes, so that a saved position names the file as precisely as it can.
func (f *file) refingerprint() error {
	if f.fp.n >= fpSize || f.pos <= int64(f.fp.n) || f.fd == nil {
		return nil
	}
	fp, err := fingerprintOf(f.fd, int(min(f.pos, fpSize)))
	if err != nil {
		return err
	}
	f.fp = fp
	return nil
}

// openAt opens path and checks that it is the file f: same device, inode and fingerprint.
func (f *file) openAt(path string) (*os.File, os.FileInfo, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := fd.Stat()
	switch {
	case err != nil:
		err = fmt.Errorf("stat %q: %w", path, err)
	case idOf(fi) != f.id:
		err = errMoved
	case f.fp.n > 0:
		var ok bool
		if ok, err = f.fp.matches(fd); err == nil && !ok {
			err = errReplaced
		}
	}
	if err != nil {
		fd.Close()
		return nil, nil, err
	}
	return fd, fi, nil
}
