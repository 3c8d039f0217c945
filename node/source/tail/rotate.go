package tail

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// rotationSuffix matches what rotation appends to a name: a separator and digits, as in
// name.1, name-20240101, name.2024-01-01_10. Compressed rotations (name.1.gz) do not match:
// they cannot be read as lines.
var rotationSuffix = regexp.MustCompile(`^[._-][0-9][0-9._-]*$`)

// truncated handles a loaded file that shrank below what was read of it, or whose head
// changed (truncated, then written past the offset). The rest of what it held is read from a
// copy, if one is found; what can be read from nowhere is counted. The file is read again
// from its start, after the copy. prevSeen is the largest size it was seen to have before.
func (s *Source) truncated(f *file, size, prevSeen int64) {
	s.ctr.truncations.Inc()
	if size >= f.pos {
		// Written past the offset again before the truncation was seen: the sizes seen may
		// be the new content's; what was lost is not known.
		prevSeen = f.pos
	}
	path, cfi, cfd := s.copyOf(f)
	var c *file
	lost := prevSeen - f.pos
	switch {
	case cfd == nil:
		// The unterminated record of the old content is emitted, as classic tail did: its
		// end is gone.
		if rec, ok := s.buf.Remainder(); ok {
			s.batch.add(&f.tmpl, rec, time.Now().UnixNano())
		}
	case s.byID[idOf(cfi)] != nil:
		// The copy is followed itself (tailDir): it is read whole, what was buffered too.
		cfd.Close()
		lost = prevSeen - cfi.Size()
	default:
		lost = prevSeen - cfi.Size()
		c = s.copyFile(f, path, cfi, cfd)
	}
	lost = max(lost, 0)
	s.ctr.lostTruncated.Add(lost)
	s.log.Warn(s.cfg.name+": file truncated: reading it again from its start", "file", f.path,
		"size", size, "read", f.pos, "copy", path, "bytes_lost", lost)
	if c != nil {
		// The bytes buffered for f are the copy's too: the copy goes on from there.
		c.pos, s.loaded = f.pos, c
	} else {
		s.buf.Discard()
		s.loaded = nil
	}
	if c != nil && f.tgt != nil && s.cfg.kind != kindDir {
		// Copies made by later rotations, before this look at the file, hold what was
		// written to it between the truncations: they are read too, after the copy.
		s.findSkippedSince(f.tgt, cfi.ModTime(), f.id)
	}
	f.off, f.seen, f.fp, f.stamp = 0, size, fingerprint{}, stamp{}
	f.atEOF, f.verify = false, false
	s.ready.push(f, f.orphan)
	if c != nil {
		s.ready.push(c, true)
	}
}

// copyFile follows the copy of a truncated file f from where f was read to, as an orphan.
func (s *Source) copyFile(f *file, path string, fi os.FileInfo, fd *os.File) *file {
	c := s.newFile(idOf(fi), path, nil, f.owner)
	c.tmpl, c.fp, c.orphan, c.seen, c.fd = f.tmpl, f.fp, true, fi.Size(), fd
	if err := c.seek(f.pos); err != nil {
		fd.Close()
		s.log.Warn(s.cfg.name+": cannot read the copy of a truncated file", "file", path, "err", err)
		return nil
	}
	s.makeRoom()
	c.openIdx = len(s.open)
	s.open = append(s.open, c)
	s.ctr.opened.Set(int64(len(s.open)))
	s.clock++
	c.used = s.clock
	s.track(c)
	s.orphans = append(s.orphans, c)
	return c
}

// copyOf looks in f's directory for a copy of f: another regular file that begins with the
// bytes f began with and holds at least what was read of f. The largest is taken; it is
// returned open.
func (s *Source) copyOf(f *file) (string, os.FileInfo, *os.File) {
	if f.fp.n == 0 || f.pos == 0 {
		return "", nil, nil
	}
	dir := filepath.Dir(f.path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", nil, nil
	}
	var (
		best   *os.File
		bestFI os.FileInfo
		path   string
	)
	for _, de := range entries {
		if de.IsDir() {
			continue
		}
		p := filepath.Join(dir, de.Name())
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || idOf(fi) == f.id || fi.Size() < f.pos ||
			best != nil && fi.Size() <= bestFI.Size() {
			continue
		}
		fd, err := os.Open(p)
		if err != nil {
			continue
		}
		if ok, _ := f.fp.matches(fd); !ok {
			fd.Close()
			continue
		}
		if best != nil {
			best.Close()
		}
		best, bestFI, path = fd, fi, p
	}
	return path, bestFI, best
}

// copyOfFollowed reports whether the file at path begins as a file of t that is followed:
// a copy (copytruncate) of it. It is read from where that file was read to, if that file is
// truncated; read whole now, it would repeat what was read.
func (s *Source) copyOfFollowed(t *target, path string) bool {
	for _, f := range s.byID {
		if f.owner == t.idx && f.fp.n > 0 && hasPrefix(path, f.fp) {
			return true
		}
	}
	return false
}

// findSkipped looks for rotated siblings of t's name that were written after old (the file the
// name denoted) stopped being written: files that were created and rotated away between two
// looks at the name. exclude is the file the name denotes now.
func (s *Source) findSkipped(t *target, old *file, exclude fileID) {
	since := time.Unix(0, old.stamp.mtime)
	if old.fd != nil {
		if fi, err := old.fd.Stat(); err == nil {
			since = fi.ModTime()
		}
	}
	if since.UnixNano() <= 0 {
		return
	}
	s.findSkippedSince(t, since, exclude)
}

// findSkippedSince follows, as orphans read whole, the rotated siblings of t's name modified
// at or after since that are not followed, oldest first: they were written after the last file the
// source knew of, so no look saw them under the name.
func (s *Source) findSkippedSince(t *target, since time.Time, exclude fileID) {
	dir, base := filepath.Dir(t.path), filepath.Base(t.path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type sibling struct {
		path string
		fi   os.FileInfo
	}
	var found []sibling
	for _, de := range entries {
		name := de.Name()
		if de.IsDir() || !strings.HasPrefix(name, base) || !rotationSuffix.MatchString(name[len(base):]) {
			continue
		}
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		// Not before since, rather than after: file times tick coarsely (a few ms), and a
		// file written in the same tick as the last one known may be newer.
		if err != nil || !fi.Mode().IsRegular() || fi.ModTime().Before(since) {
			continue
		}
		if id := idOf(fi); id == exclude || s.byID[id] != nil || s.copyOfFollowed(t, p) {
			continue
		}
		found = append(found, sibling{p, fi})
	}
	slices.SortFunc(found, func(a, b sibling) int { return a.fi.ModTime().Compare(b.fi.ModTime()) })
	for _, sb := range found {
		s.log.Info(s.cfg.name+": reading a rotated file that was never seen under its name",
			"file", sb.path, "name", t.path)
		f := s.newFile(idOf(sb.fi), sb.path, t.name, t.idx)
		f.orphan, f.seen = true, sb.fi.Size()
		s.track(f)
		s.orphans = append(s.orphans, f)
		s.ctr.added.Inc()
		s.ready.push(f, false)
	}
}
