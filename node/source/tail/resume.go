package tail

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// candidate is a file that may be one of a saved position: a regular file in a directory the
// source watches.
type candidate struct {
	path string
	fi   os.FileInfo
}

// found is a file of a saved position found again, and its modification time.
type found struct {
	f     *file
	mtime time.Time
}

// finder finds the files of a saved position among the candidates.
type finder struct {
	byIno map[uint64][]candidate
	byFP  map[uint32][]candidate // by full fingerprint, built when a copy is looked for
}

// restore finds the files of a saved position again, at Open, and follows each from its
// offset as an orphan: the first look at the names adopts those a name still denotes; the
// others (rotated while the source was down) are read to their end first, oldest first. It
// reports whether the position is of this source.
func (s *Source) restore(st *savedState) bool {
	owners, ok := s.mapRoots(st)
	if !ok {
		s.log.Warn(s.cfg.name+": the saved position is of another source; starting as on a first run",
			"roots", st.roots)
		return false
	}
	fd := &finder{byIno: s.candidates()}
	var all []found
	latest := make(map[*target]time.Time)
	for _, e := range st.files {
		var t *target
		if e.owner >= 0 {
			if t = owners[e.owner]; t == nil {
				continue // a name no longer configured
			}
		}
		for _, x := range s.restoreFile(fd, e, t) {
			all = append(all, x)
			if t != nil && x.mtime.After(latest[t]) {
				latest[t] = x.mtime
			}
		}
	}
	slices.SortStableFunc(all, func(a, b found) int { return a.mtime.Compare(b.mtime) })
	for _, x := range all {
		s.orphans = append(s.orphans, x.f)
	}
	for _, t := range s.fixed {
		if since, ok := latest[t]; ok {
			var now fileID
			if fi, err := os.Stat(t.path); err == nil {
				now = idOf(fi)
			}
			s.findSkippedSince(t, since, now)
		}
	}
	return true
}

// mapRoots maps the roots of a saved position to the configured names. A position is of this
// source if it is of the same kind and shares a root with it.
func (s *Source) mapRoots(st *savedState) ([]*target, bool) {
	if st.kind != s.cfg.kind {
		return nil, false
	}
	if s.cfg.kind == kindDir {
		return nil, len(st.roots) == 1 && st.roots[0] == s.cfg.dir
	}
	owners := make([]*target, len(st.roots))
	shared := false
	for i, r := range st.roots {
		if t := s.targets[r]; t != nil && t.idx >= 0 {
			owners[i], shared = t, true
		}
	}
	return owners, shared
}

// candidates lists the regular files of the directories the source watches, by inode.
func (s *Source) candidates() map[uint64][]candidate {
	m := make(map[uint64][]candidate)
	if s.cfg.kind == kindDir {
		listDir(s.cfg.dir, 0, s.cfg.depth, m)
		return m
	}
	seen := make(map[string]bool)
	for _, p := range s.cfg.paths {
		if d := filepath.Dir(p); !seen[d] {
			seen[d] = true
			listDir(d, 0, 0, m)
		}
	}
	return m
}

func listDir(dir string, depth, maxDepth int, m map[uint64][]candidate) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, de := range entries {
		p := filepath.Join(dir, de.Name())
		if de.IsDir() {
			if depth < maxDepth {
				listDir(p, depth+1, maxDepth, m)
			}
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			ino := idOf(fi).Ino
			m[ino] = append(m[ino], candidate{p, fi})
		}
	}
}

// restoreFile finds the file of e: the candidate with its inode (on its device first) that
// begins with its fingerprint; or, when its inode holds other bytes now or is gone, a copy of
// it (copytruncate while the source was down). It returns what it follows, as orphans: the
// file, or the copy and the file truncated since; nothing when the file is gone.
func (s *Source) restoreFile(fd *finder, e savedFile, t *target) []found {
	// The files may be renamed while they are looked at (a writer rotating its log): a
	// candidate whose name denotes another file by the time it is opened makes a new listing.
	for attempt := 0; ; attempt++ {
		c, ok, moved := fd.byIdentity(s, e)
		if moved && !ok && attempt < 3 {
			fd.refresh(s)
			continue
		}
		if ok {
			return s.restoreFound(fd, e, t, c)
		}
		break
	}
	if cp, ok := fd.copyOf(s, e, t); ok {
		s.log.Info(s.cfg.name+": reading on from a copy of a file truncated while the source was down",
			"copy", cp.path, "offset", e.off)
		return []found{{s.restored(cp, e.fp, e.off, t), cp.fi.ModTime()}}
	}
	s.ctr.goneFiles.Inc()
	s.log.Warn(s.cfg.name+": the file of the saved position is gone; what was written to it after the offset is lost",
		"inode", e.id.Ino, "offset", e.off)
	return nil
}

// restoreFound follows c, the file of e, from e's offset; or, if it is shorter than that
// (truncated while the source was down, and its head written again), from its start, after
// the copy of its old bytes if one is found.
func (s *Source) restoreFound(fd *finder, e savedFile, t *target, c candidate) []found {
	if c.fi.Size() >= e.off {
		return []found{{s.restored(c, e.fp, e.off, t), c.fi.ModTime()}}
	}
	s.log.Warn(s.cfg.name+": a file was truncated while the source was down", "file", c.path,
		"size", c.fi.Size(), "offset", e.off)
	var out []found
	if cp, ok := fd.copyOf(s, e, t); ok {
		out = append(out, found{s.restored(cp, e.fp, e.off, t), cp.fi.ModTime()})
	}
	return append(out, found{s.restored(c, fingerprint{}, 0, t), c.fi.ModTime()})
}

// byIdentity finds the candidate with e's inode (on e's device first) that begins with e's
// fingerprint, checked on the file opened. moved reports a candidate whose name denoted
// another file when it was opened: the listing is out of date.
func (fd *finder) byIdentity(s *Source, e savedFile) (c candidate, ok, moved bool) {
	cands := fd.byIno[e.id.Ino]
	slices.SortStableFunc(cands, func(a, b candidate) int {
		return boolRank(idOf(a.fi).Dev != e.id.Dev) - boolRank(idOf(b.fi).Dev != e.id.Dev)
	})
	for _, c := range cands {
		if s.byID[idOf(c.fi)] != nil {
			continue
		}
		f, err := os.Open(c.path)
		if err != nil {
			moved = true
			continue
		}
		fi, err := f.Stat()
		match := false
		if err == nil && idOf(fi) == idOf(c.fi) {
			match, _ = e.fp.matches(f)
			c.fi = fi
		} else {
			moved = true
		}
		f.Close()
		if match {
			return c, true, moved
		}
	}
	return candidate{}, false, moved
}

// refresh lists the candidates again.
func (fd *finder) refresh(s *Source) {
	fd.byIno, fd.byFP = s.candidates(), nil
}

// restored follows the candidate c from off, as an orphan with the fingerprint fp.
func (s *Source) restored(c candidate, fp fingerprint, off int64, t *target) *file {
	name, owner := []byte(filepath.Base(c.path)), -1
	if t != nil {
		name, owner = t.name, t.idx
	}
	f := s.newFile(idOf(c.fi), c.path, name, owner)
	f.fp, f.off, f.seen, f.orphan = fp, off, c.fi.Size(), true
	s.track(f)
	return f
}

// copyOf finds a copy of e among the candidates: a file not followed that begins with e's
// fingerprint and holds at least e's offset; the largest. A short fingerprint (the file had
// fewer than 256 bytes) names a copy only among the rotated siblings of e's name.
func (fd *finder) copyOf(s *Source, e savedFile, t *target) (candidate, bool) {
	var pool []candidate
	switch {
	case e.fp.n == fpSize:
		fd.index()
		pool = fd.byFP[e.fp.sum]
	case t != nil:
		dir, base := filepath.Dir(t.path), filepath.Base(t.path)
		for _, cs := range fd.byIno {
			for _, c := range cs {
				name := filepath.Base(c.path)
				if filepath.Dir(c.path) == dir && strings.HasPrefix(name, base) &&
					rotationSuffix.MatchString(name[len(base):]) && hasPrefix(c.path, e.fp) {
					pool = append(pool, c)
				}
			}
		}
	}
	var best candidate
	ok := false
	for _, c := range pool {
		id := idOf(c.fi)
		if id == e.id || s.byID[id] != nil || c.fi.Size() < e.off || ok && c.fi.Size() <= best.fi.Size() {
			continue
		}
		best, ok = c, true
	}
	return best, ok
}

// index builds the index of the candidates by full fingerprint, once.
func (fd *finder) index() {
	if fd.byFP != nil {
		return
	}
	fd.byFP = make(map[uint32][]candidate)
	for _, cs := range fd.byIno {
		for _, c := range cs {
			if c.fi.Size() >= fpSize {
				if fp, ok := headOf(c.path); ok {
					fd.byFP[fp.sum] = append(fd.byFP[fp.sum], c)
				}
			}
		}
	}
}

// hasPrefix reports whether the file at path begins with the bytes fp was computed from.
func hasPrefix(path string, fp fingerprint) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	ok, _ := fp.matches(f)
	return ok
}

// headOf returns the full fingerprint of the file at path.
func headOf(path string) (fingerprint, bool) {
	f, err := os.Open(path)
	if err != nil {
		return fingerprint{}, false
	}
	defer f.Close()
	fp, err := fingerprintOf(f, fpSize)
	return fp, err == nil && fp.n == fpSize
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
