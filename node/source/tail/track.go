package tail

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// target is a followed name: a name given to tail or multitail, or a file name tailDir found.
type target struct {
	path    string
	name    []byte // the base name: tailSrcFile
	idx     int    // the index among the configured names; -1 for tailDir
	cur     *file  // the file the name denotes, once there is one
	last    *file  // the file the name denoted before it disappeared, until another comes
	gen     uint64 // tailDir: the last scan that saw the name
	problem string // the last problem logged
	busy    bool   // checkTarget is at work on it: names swapped by renames do not loop
}

func (s *Source) addTarget(path string, idx int) *target {
	t := &target{path: path, name: []byte(filepath.Base(path)), idx: idx}
	s.targets[path] = t
	return t
}

// checkTarget looks at what t's name denotes now, and follows it.
func (s *Source) checkTarget(t *target) {
	t.busy = true
	defer func() { t.busy = false }()
	fi, err := os.Stat(t.path)
	if err == nil && !fi.Mode().IsRegular() {
		kindErr := ErrNotRegular
		if fi.IsDir() {
			kindErr = ErrIsDir
		}
		err = fmt.Errorf("%q: %w", t.path, kindErr)
	}
	if err != nil {
		s.lostName(t, err)
		return
	}
	t.problem = ""
	id := idOf(fi)
	if cur := t.cur; cur != nil && cur.id == id {
		// What the file holds beyond what was read: should it be truncated before it is
		// read, that much is known lost.
		cur.seen = max(cur.seen, fi.Size())
		if stampOf(fi) != cur.stamp {
			cur.atEOF = false
			s.ready.push(cur, false)
		}
		return
	}
	old := t.last
	if t.cur != nil {
		old = t.cur
		s.detach(t)
	}
	if old != nil {
		s.ctr.rotations.Inc()
		s.log.Info(s.cfg.name+": the name denotes another file: reading the old one to its end, then the new one",
			"file", t.path)
		if s.cfg.kind != kindDir {
			s.findSkipped(t, old, id)
		}
	}
	t.last = nil
	s.attach(t, id, fi)
}

// lostName handles a name that denotes no file it can follow. A file it denoted is read on to
// its end; a tailDir name is forgotten.
func (s *Source) lostName(t *target, err error) {
	gone := errors.Is(err, fs.ErrNotExist)
	if gone || s.cfg.kind == kindDir {
		if t.cur != nil {
			t.last = t.cur
			s.detach(t)
		}
		if s.cfg.kind == kindDir {
			delete(s.targets, t.path)
		}
		t.problem = ""
		return
	}
	if msg := err.Error(); msg != t.problem {
		t.problem = msg
		s.log.Error(s.cfg.name+": cannot follow a name; trying again", "file", t.path, "err", err)
	}
	if t.cur != nil {
		s.detach(t)
	}
}

// detach makes t's file an orphan: no name denotes it, it is read on to its end.
func (s *Source) detach(t *target) {
	f := t.cur
	t.cur, f.tgt = nil, nil
	f.orphan, f.lastActive = true, time.Now()
	s.orphans = append(s.orphans, f)
	s.ready.push(f, true)
}

// attach makes the file with id, which t's name denotes, t's file: a file followed already
// (renamed to this name, or found again by a position) or a new one.
func (s *Source) attach(t *target, id fileID, fi os.FileInfo) {
	if f := s.byID[id]; f != nil {
		if f.tgt != nil && f.tgt != t && !f.tgt.busy {
			// Followed under another name: renamed from it (a look at that name finds it
			// gone, and makes the file an orphan), or a link (then it stays there).
			s.checkTarget(f.tgt)
		}
		if f.tgt == nil {
			s.adopt(t, f)
		}
		return
	}
	f := s.newFile(id, t.path, t.name, t.idx)
	f.seen = fi.Size()
	if s.fromEnd {
		f.off = fi.Size() // the fingerprint is taken when the file is opened
	}
	f.tgt, t.cur = t, f
	s.track(f)
	s.ctr.added.Inc()
	s.ready.push(f, false)
}

// adopt makes the followed file f, which t's name denotes, t's file.
func (s *Source) adopt(t *target, f *file) {
	if f.orphan {
		f.orphan = false
		s.orphans = slices.DeleteFunc(s.orphans, func(o *file) bool { return o == f })
	}
	f.tgt, t.cur, f.path = t, f, t.path
	f.atEOF = false
	s.ready.push(f, false)
}

func (s *Source) newFile(id fileID, path string, name []byte, owner int) *file {
	return &file{
		id:         id,
		path:       path,
		tmpl:       newTemplate(s.host, name),
		owner:      owner,
		openIdx:    -1,
		lastActive: time.Now(),
	}
}

// track adds f to the followed files.
func (s *Source) track(f *file) {
	s.byID[f.id] = f
	s.files = append(s.files, f)
	s.unsorted = true
	s.ctr.tracked.Set(int64(len(s.byID)))
}

// drop stops following f.
func (s *Source) drop(f *file) {
	if s.loaded == f {
		s.unload()
	}
	s.closeFile(f)
	if s.byID[f.id] == f {
		delete(s.byID, f.id)
	}
	if f.tgt != nil {
		f.tgt.cur = nil
		f.tgt = nil
	}
	if f.orphan {
		s.orphans = slices.DeleteFunc(s.orphans, func(o *file) bool { return o == f })
	}
	s.clearProblem(f)
	f.dropped = true
	if s.nDropped++; s.nDropped > 64 && s.nDropped > len(s.files)/2 {
		s.sortFiles() // drops them from files, which is otherwise done by Position
	}
	s.ctr.released.Inc()
	s.ctr.tracked.Set(int64(len(s.byID)))
}

// tick is the periodic look: at the configured names, or a scan of tailDir's tree, and at the
// orphans, which are queued when they grew or stayed idle long enough to be released.
func (s *Source) tick(now time.Time) {
	if s.cfg.kind == kindDir {
		if s.rescan || !now.Before(s.nextWalk) {
			s.w.retry()
			s.walk()
			every := s.cfg.poll
			if s.w.complete() {
				every *= 10 // notifications tell of changes; the scan is a safety net
			}
			s.nextWalk = now.Add(every)
		}
	} else {
		for _, t := range s.fixed {
			s.checkTarget(t)
		}
	}
	s.rescan = false
	for _, f := range s.orphans {
		if f.queued {
			continue
		}
		if f.fd == nil || !f.atEOF || now.Sub(f.lastActive) >= s.cfg.idle {
			s.ready.push(f, true)
			continue
		}
		if fi, err := f.fd.Stat(); err != nil || stampOf(fi) != f.stamp {
			f.atEOF = false
			s.ready.push(f, true)
		}
	}
	s.updateNote()
}

// walk scans tailDir's tree: names that match are followed, names that are gone forgotten.
func (s *Source) walk() {
	s.gen++
	s.walkDir(s.cfg.dir, 0)
	for _, t := range s.targets {
		if t.gen != s.gen {
			s.checkTarget(t) // not seen: gone, unless the scan missed it
		}
	}
}

// walkDir scans dir, at depth levels below tailDir's directory.
func (s *Source) walkDir(dir string, depth int) {
	s.w.add(dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		if dir == s.cfg.dir {
			s.setNote(fmt.Sprintf("%s: waiting for directory %s: %v", s.cfg.name, dir, err))
		}
		return
	}
	for _, de := range entries {
		name := de.Name()
		p := filepath.Join(dir, name)
		if de.IsDir() {
			if depth < s.cfg.depth {
				s.walkDir(p, depth+1)
			}
			continue
		}
		if !s.cfg.match.MatchString(name) {
			continue
		}
		t := s.targets[p]
		if t == nil {
			t = s.addTarget(p, -1)
		}
		t.gen = s.gen
		s.checkTarget(t)
	}
}

// handleDirty handles the names notifications were reported for.
func (s *Source) handleDirty() {
	defer s.updateNote()
	for name := range s.dirty {
		delete(s.dirty, name)
		if t := s.targets[name]; t != nil {
			s.checkTarget(t)
			continue
		}
		if s.cfg.kind == kindDir {
			s.discover(name)
			continue
		}
		for _, f := range s.orphans {
			if f.path == name {
				f.atEOF = false
				s.ready.push(f, true)
			}
		}
	}
}

// discover looks at a name of tailDir's tree that is not followed: a new file, or a new
// directory to scan.
func (s *Source) discover(name string) {
	rel, err := filepath.Rel(s.cfg.dir, name)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return
	}
	level := strings.Count(rel, string(filepath.Separator))
	fi, err := os.Stat(name)
	switch {
	case err != nil || level > s.cfg.depth:
	case fi.IsDir():
		if level < s.cfg.depth {
			s.walkDir(name, level+1)
		}
	case fi.Mode().IsRegular() && s.cfg.match.MatchString(filepath.Base(name)):
		t := s.addTarget(name, -1)
		t.gen = s.gen
		s.checkTarget(t)
	}
}

// relocate looks for f in its directory under another name (it was renamed while it had no
// descriptor), checking its identity. It opens it when found.
func (s *Source) relocate(f *file) (string, bool) {
	entries, err := os.ReadDir(filepath.Dir(f.path))
	if err != nil {
		return "", false
	}
	for _, de := range entries {
		p := filepath.Join(filepath.Dir(f.path), de.Name())
		fi, err := os.Stat(p)
		if err != nil || idOf(fi) != f.id || !fi.Mode().IsRegular() {
			continue
		}
		f.path = p
		return p, s.openFile(f) == nil
	}
	return "", false
}

// setNote sets what Condition reports.
func (s *Source) setNote(msg string) { s.note.Store(&msg) }

// updateNote reports the first name that cannot be followed, or clears the note.
func (s *Source) updateNote() {
	for _, t := range s.fixed {
		if t.problem != "" {
			s.setNote(s.cfg.name + ": " + t.problem)
			return
		}
	}
	if s.nProblems > 0 {
		return // set by readFailed
	}
	if s.cfg.kind == kindDir {
		if _, err := os.Stat(s.cfg.dir); err != nil {
			return // set by walkDir
		}
	}
	s.note.Store(nil)
}
