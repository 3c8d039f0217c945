package spooldir

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/flumego/flume/internal/atomicfile"
	"github.com/flumego/flume/node/source/internal/record"
)

// maxCollisions bounds the numbered names tried for a file whose done name is taken.
const maxCollisions = 1000

// eligible reports whether a directory entry called name is a file to read, by its name.
func (s *Source) eligible(name string) bool {
	return !strings.HasPrefix(name, ".") &&
		!strings.HasSuffix(name, s.suffix) &&
		!strings.HasSuffix(name, ChangedSuffix) &&
		s.include.MatchString(name) &&
		!s.ignore.MatchString(name)
}

// scan looks at the directory and queues the files to read, oldest modification time first,
// then by name.
func (s *Source) scan() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("spooldir: %w", err)
	}
	type candidate struct {
		name  string
		mtime int64
	}
	var found []candidate
	for _, e := range entries {
		if e.IsDir() || !s.eligible(e.Name()) {
			continue
		}
		fi, err := os.Stat(filepath.Join(s.dir, e.Name())) // through a symbolic link
		if err != nil || !fi.Mode().IsRegular() {
			continue // gone since, or not a file
		}
		found = append(found, candidate{e.Name(), fi.ModTime().UnixNano()})
	}
	slices.SortFunc(found, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.mtime, b.mtime), strings.Compare(a.name, b.name))
	})
	s.queue = s.queue[:0]
	for _, c := range found {
		s.queue = append(s.queue, c.name)
	}
	return nil
}

// pick makes the next file to read current: the file of the position to resume from, if it
// is still there, else the oldest queued file. It reports false when there is none.
func (s *Source) pick() (bool, error) {
	if p := s.resume; p != nil {
		s.resume = nil
		if ok, err := s.resumeFile(p); ok || err != nil {
			return ok, err
		}
	}
	for {
		if len(s.queue) == 0 {
			if err := s.scan(); err != nil {
				return false, err
			}
			if len(s.queue) == 0 {
				return false, nil
			}
		}
		name := s.queue[0]
		s.queue = s.queue[1:]
		f, fi, err := s.openRegular(name)
		if err != nil {
			return false, err
		}
		if f != nil {
			s.cur = s.newFile(name, f, fi, 0)
			s.pending = false
			return true, nil
		}
	}
}

// openRegular opens the file called name in the directory, if it is (still) a regular file;
// f is nil when it is not.
func (s *Source) openRegular(name string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(filepath.Join(s.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("spooldir: %w", err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("spooldir: %w", err)
		}
		return nil, nil, nil
	}
	return f, fi, nil
}

// resumeFile makes the file of position p current at p's offset. It reports false, with a log
// line, when p no longer fits: the file is gone (it was done, and the position saved before
// its rename moved on) or the name now stands for another file. A file that changed since is
// made current to be set aside.
func (s *Source) resumeFile(p *position) (bool, error) {
	if p.File == "" {
		return false, nil
	}
	f, fi, err := s.openRegular(p.File)
	if err != nil {
		return false, err
	}
	if f == nil {
		s.log.Info("spooldir: the file of the saved position is gone; it was done", "file", p.File)
		return false, nil
	}
	c := s.newFile(p.File, f, fi, p.Off)
	if c.id != (record.FileID{Dev: p.Dev, Ino: p.Ino}) {
		f.Close()
		s.log.Info("spooldir: the name of the saved position stands for another file now; reading it as a new one", "file", p.File)
		return false, nil
	}
	s.cur, s.pending = c, false
	// Compare the file with what it was when it was picked up and read to p.Off.
	c.mtime = p.MTime
	if fi.Size() < p.Off {
		c.changed = fmt.Sprintf("it shrank: %d bytes were read, it has %d now", p.Off, fi.Size())
	} else {
		c.changed = c.modified(fi)
	}
	if c.changed != "" {
		return true, nil
	}
	if _, err := f.Seek(p.Off, io.SeekStart); err != nil {
		return false, fmt.Errorf("spooldir: seek %q to %d: %w", c.path, p.Off, err)
	}
	s.log.Info("spooldir: resuming", "file", p.File, "offset", p.Off)
	return true, nil
}

// sameFile reports whether c's name still stands for c's file.
func (s *Source) sameFile(c *spoolFile) (os.FileInfo, bool, error) {
	fi, err := os.Stat(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("spooldir: %w", err)
	}
	return fi, record.IdentityOf(fi) == c.id, nil
}

// retire marks c, read and confirmed to its end, done: renamed with the suffix or removed,
// durably. A file that changed since its end was read is set aside instead.
func (s *Source) retire(c *spoolFile) error {
	fi, same, err := s.sameFile(c)
	if err != nil {
		return err
	}
	if !same {
		s.log.Warn("spooldir: a file read to its end was moved away before it was marked done", "file", c.name)
		s.cur = nil
		return nil
	}
	if c.changed = c.differs(fi, c.readOff); c.changed != "" {
		return s.setAside(c)
	}
	done := "(removed)"
	if s.deleteDone {
		err = os.Remove(c.path)
	} else {
		done, err = s.moveAside(c.name, s.suffix)
	}
	if err != nil {
		return fmt.Errorf("spooldir: mark %q done: %w", c.path, err)
	}
	s.cur = nil
	s.filesDone.Inc()
	s.log.Info("spooldir: file done", "file", c.name, "now", done, "bytes", c.readOff)
	return s.syncDir()
}

// setAside renames c, which changed after it was picked up, with ChangedSuffix, and reports
// it. What is buffered of it is dropped.
func (s *Source) setAside(c *spoolFile) error {
	c.release(s.log)
	delivered := s.offset(c)
	s.buf.Discard()
	_, same, err := s.sameFile(c)
	if err != nil {
		return err
	}
	target := "(gone)"
	if same {
		if target, err = s.moveAside(c.name, ChangedSuffix); err != nil {
			return fmt.Errorf("spooldir: set aside %q, which changed: %w", c.path, err)
		}
	}
	s.cur = nil
	s.changed.Inc()
	s.log.Warn("spooldir: a file changed after it was picked up; set aside, the rest of it is not read",
		"file", c.name, "change", c.changed, "delivered_bytes", delivered, "now", target)
	return s.syncDir()
}

// moveAside renames the file called name to name+suffix, or to name.N+suffix if that is
// taken, and returns the new name.
func (s *Source) moveAside(name, suffix string) (string, error) {
	for i := 0; i < maxCollisions; i++ {
		target := name + suffix
		if i > 0 {
			target = name + "." + strconv.Itoa(i) + suffix
		}
		to := filepath.Join(s.dir, target)
		if _, err := os.Lstat(to); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if i > 0 {
			s.log.Warn("spooldir: a file of this name was spooled before; numbering it", "file", name, "now", target)
		}
		return target, os.Rename(filepath.Join(s.dir, name), to)
	}
	return "", fmt.Errorf("%d names taken from %q", maxCollisions, name+suffix)
}

// syncDir makes the renames and removals in the directory durable.
func (s *Source) syncDir() error {
	if err := atomicfile.SyncDir(s.dir); err != nil && !errors.Is(err, syscall.EINVAL) {
		// EINVAL: the file system cannot sync a directory, and makes renames durable itself.
		return fmt.Errorf("spooldir: %w", err)
	}
	return nil
}
