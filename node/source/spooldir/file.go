package spooldir

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/source/internal/record"
)

// spoolFile is the file being read.
type spoolFile struct {
	name  string // base name in the spool directory
	path  string
	f     *os.File // nil once released
	id    record.FileID
	mtime int64 // modification time when it was picked up, unix nanoseconds
	// readOff is the count of bytes read from the file (from its start, resumed or not).
	readOff int64
	// eof is set once a read found the end and the file was unchanged then.
	eof bool
	// finished is set once every line was returned: the file is done when that is confirmed.
	finished bool
	// changed, when not empty, says how the file changed: it is to be set aside.
	changed string
	batch   *record.Batch
}

// newFile returns the state of reading the open file f from offset off. Its batch is sized
// for what is left of it, so that a small file costs a small batch.
func (s *Source) newFile(name string, f *os.File, fi os.FileInfo, off int64) *spoolFile {
	n := min(fi.Size()-off, record.MaxBatch)
	if n < 1 {
		n = 1 // nothing left but a check at the end, or a file still growing
	}
	s.buf.Discard() // what the last file left, if it was set aside
	return &spoolFile{
		name:    name,
		path:    f.Name(),
		f:       f,
		id:      record.IdentityOf(fi),
		mtime:   fi.ModTime().UnixNano(),
		readOff: off,
		batch:   record.NewBatch(int(n), s.host, event.Attr{Key: AttrSpoolSrcFile, Value: []byte(name)}),
	}
}

// release closes the file; what was read stays in the buffer.
func (c *spoolFile) release(log *slog.Logger) {
	if c.f == nil {
		return
	}
	if err := c.f.Close(); err != nil {
		log.Warn("spooldir: close", "file", c.path, "err", err)
	}
	c.f = nil
}

// offset returns the offset after the last line returned: what was read less what the buffer
// still holds.
func (s *Source) offset(c *spoolFile) int64 {
	return c.readOff - int64(s.buf.Buffered())
}

// read returns the next batch of lines of c, reading more only when none is buffered. It
// returns nil and no error when it has none to give: c finished without a last line, c
// changed, or the source is closed and nothing complete is buffered.
func (s *Source) read(ctx context.Context, c *spoolFile, closed bool) ([]*event.Event, error) {
	now := time.Now().UnixNano()
	b := c.batch
	b.Reset()
	for !b.Full() {
		if rec, ok := s.buf.Next(); ok {
			b.Add(trimCR(rec), now)
			continue
		}
		if b.Len() > 0 {
			break // reading more would overwrite the lines of this batch
		}
		if c.eof {
			// The file is complete: an unterminated last line is a line.
			if rec, ok := s.buf.Remainder(); ok {
				b.Add(trimCR(rec), now)
			}
			c.finished = true
			c.release(s.log)
			break
		}
		if closed {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err // a long line without '\n' takes many reads
		}
		n, err := s.buf.Fill(c.f.Read)
		c.readOff += int64(n)
		if err == io.EOF {
			if c.changed = s.changedAtEnd(c); c.changed != "" {
				break
			}
			c.eof = true
		} else if err != nil {
			return nil, fmt.Errorf("spooldir: read %q: %w", c.path, err)
		}
	}
	s.ctr.Count(b, s.buf)
	if b.Len() == 0 {
		return nil, nil
	}
	if c.changed != "" {
		// Cannot happen: a change is found only by a read, which comes with an empty batch.
		return nil, fmt.Errorf("spooldir: %q changed with lines in hand", c.path)
	}
	s.pending = true
	return b.Events(), nil
}

// changedAtEnd checks c when a read found its end: what was read must be its whole size, and
// its modification time the one it had when it was picked up. It says what changed, or "".
func (s *Source) changedAtEnd(c *spoolFile) string {
	fi, err := c.f.Stat()
	if err != nil {
		return fmt.Sprintf("cannot stat it at its end: %v", err)
	}
	return c.differs(fi, c.readOff)
}

// differs says how fi, a look at c's file, differs from a file of size bytes with the
// modification time c had when it was picked up; "" if it does not.
func (c *spoolFile) differs(fi os.FileInfo, size int64) string {
	switch {
	case fi.Size() < size:
		return fmt.Sprintf("it shrank: %d bytes were read, it has %d now", size, fi.Size())
	case fi.Size() > size:
		return fmt.Sprintf("it grew: %d bytes were read to its end, it has %d now", size, fi.Size())
	}
	return c.modified(fi)
}

// modified says how the modification time of fi, a look at c's file, differs from the one c
// had when it was picked up; "" if it does not.
func (c *spoolFile) modified(fi os.FileInfo) string {
	if fi.ModTime().UnixNano() == c.mtime {
		return ""
	}
	return fmt.Sprintf("it was modified: at %s when picked up, at %s now",
		time.Unix(0, c.mtime).Format(time.RFC3339Nano), fi.ModTime().Format(time.RFC3339Nano))
}

// trimCR drops one trailing '\r' (a CRLF line ending).
func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
