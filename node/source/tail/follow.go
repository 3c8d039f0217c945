package tail

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// cursor is the read position: the file being read and how many of its bytes have been read
// into the buffer. Every change of position goes through it. The offset of the first byte not
// yet returned as a record is off minus what the buffer still holds; that pair (file, offset)
// is what a checkpoint would record.
type cursor struct {
	f   *os.File
	fi  os.FileInfo // identity of f (device and inode), from f.Stat
	off int64
}

// open opens path and positions at its start, or at its end if atEnd. A path that does not
// exist is not an error: opened is false.
func (c *cursor) open(path string, atEnd bool) (opened bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return false, fmt.Errorf("stat %q: %w", path, err)
	}
	if fi.IsDir() {
		f.Close()
		return false, fmt.Errorf("%q: %w", path, ErrIsDir)
	}
	var off int64
	if atEnd {
		if off, err = f.Seek(0, io.SeekEnd); err != nil {
			f.Close()
			return false, fmt.Errorf("seek %q: %w", path, err)
		}
	}
	*c = cursor{f: f, fi: fi, off: off}
	return true, nil
}

// read reads from the current position.
func (c *cursor) read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	c.off += int64(n)
	return n, err
}

// rewind goes back to the start of the file (after it was truncated).
func (c *cursor) rewind() error {
	if _, err := c.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("seek %q: %w", c.f.Name(), err)
	}
	c.off = 0
	return nil
}

// atEnd reports whether everything in the file has been read.
func (c *cursor) atEnd() bool {
	if c.f == nil {
		return false
	}
	fi, err := c.f.Stat()
	return err == nil && c.off >= fi.Size()
}

// close closes the file, if one is open.
func (c *cursor) close() error {
	if c.f == nil {
		return nil
	}
	err := c.f.Close()
	*c = cursor{}
	return err
}

// advance makes progress on the file: it opens the file if it has appeared, reads what was
// appended, or handles a rotation or truncation found at the end of the file. progress is true
// when something changed that may give records; a rotation may add the old file's
// unterminated last record to the batch. It is called only when the batch is empty, since
// reading into the buffer invalidates the records of the batch.
func (s *Source) advance() (progress bool, err error) {
	if s.cur.f == nil {
		return s.cur.open(s.path, false)
	}
	n, err := s.buf.Fill(s.cur.read)
	if n > 0 {
		return true, nil
	}
	if err != nil && err != io.EOF {
		return false, fmt.Errorf("read %q: %w", s.path, err)
	}
	if progress, err = s.checkPath(); progress || err != nil {
		return progress, err
	}
	// Nothing more for now: a delimiter match at the end of what was read is final.
	return s.buf.Settle(), nil
}

// checkPath looks at what the path names now, at the end of the current file.
func (s *Source) checkPath() (progress bool, err error) {
	fi, err := os.Stat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		// Renamed or removed, and nothing new yet: keep the old file, a writer may still
		// be appending to it.
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !os.SameFile(fi, s.cur.fi) {
		return s.rotate()
	}
	if fi.Size() < s.cur.off {
		if s.buf.Settle() {
			return true, nil // the records that are complete first
		}
		s.log.Info("tail: file truncated, reading it again from the start", "file", s.path,
			"size", fi.Size(), "offset", s.cur.off)
		s.flushHeld()
		return true, s.cur.rewind()
	}
	return false, nil
}

// rotate finishes the old file and moves to the file the path names now. Bytes written to the
// old file after the last read are read first; the old file's unterminated record is emitted.
func (s *Source) rotate() (bool, error) {
	n, err := s.buf.Fill(s.cur.read)
	if n > 0 {
		return true, nil // records first; the rotation is seen again at the end
	}
	if err != nil && err != io.EOF {
		return false, fmt.Errorf("read %q: %w", s.path, err)
	}
	if s.buf.Settle() {
		return true, nil
	}
	s.flushHeld()
	if err := s.cur.close(); err != nil {
		s.log.Warn("tail: close rotated file", "file", s.path, "err", err)
	}
	s.log.Info("tail: file rotated, following the new file", "file", s.path)
	return s.cur.open(s.path, false)
}

// flushHeld emits the buffered unterminated record of a file that is finished (rotated away)
// or rewritten (truncated): classic Flume did the same, so that no data read is lost.
func (s *Source) flushHeld() {
	if rec, ok := s.buf.Remainder(); ok {
		s.batch.Add(rec, time.Now().UnixNano())
	}
}
