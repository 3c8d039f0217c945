package tail

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// One read buffer serves every file: the file it holds bytes of is the loaded one. Records are
// slices of the buffer, valid until it is filled again; a batch that spans files has the
// records of the files it left copied into the arena (stash). A file that is unloaded keeps
// its committed offset (the start of the first record not returned); the unterminated record
// the buffer held for it is read again when the file is loaded again.

// visitResult says what a visit left to do.
type visitResult int

const (
	// visitDone: the file was read to its end (or cannot be read now).
	visitDone visitResult = iota
	// visitMore: the file has more to read, after the batch is returned.
	visitMore
	// visitHandled: the visit queued what comes next itself (a truncation).
	visitHandled
)

// pump reads the queued files into the batch until it is full, until it holds records that a
// further read would overwrite, or until no file is queued.
func (s *Source) pump() {
	for !s.batch.full() {
		f := s.ready.pop()
		if f == nil {
			return
		}
		if s.loaded != f && s.batch.inBuffer() && !s.stash() {
			s.ready.push(f, true)
			return
		}
		switch s.visit(f) {
		case visitMore:
			// Rotated files go first, so that a name's lines keep their order; the others
			// take turns.
			s.ready.push(f, f.orphan)
			return
		case visitHandled, visitDone:
		}
	}
}

// visit reads f into the batch: the records it has buffered, then reads, until its end.
func (s *Source) visit(f *file) visitResult {
	if err := s.load(f); err != nil {
		s.loadFailed(f, err)
		return visitDone
	}
	if f.verify {
		// It was at its end and changed since: check that it was not truncated and written
		// past the offset before reading on.
		f.verify = false
		if done, res := s.checkHead(f); done {
			return res
		}
	}
	for stalled := 0; ; {
		s.collect(f)
		// A read overwrites the buffer: the records of the batch that are in it go to the
		// arena first, or the batch is returned.
		if s.batch.full() || s.batch.inBuffer() && !s.stash() {
			return visitMore
		}
		n, err := s.buf.Fill(f.read)
		if n > 0 {
			stalled = 0
			if f.fp.n < fpSize {
				if err := f.refingerprint(); err != nil {
					s.readFailed(f, err)
					return visitDone
				}
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			s.readFailed(f, fmt.Errorf("read %q: %w", f.path, err))
			return visitDone
		}
		again, res := s.atEnd(f)
		if stalled++; !again || stalled > 2 {
			return res // a file that says it has more but gives nothing is tried at the next look
		}
	}
}

// collect moves the complete records that are buffered into the batch.
func (s *Source) collect(f *file) {
	now := time.Now().UnixNano()
	for !s.batch.full() {
		rec, ok := s.buf.Next()
		if !ok {
			return
		}
		s.batch.add(&f.tmpl, rec, now)
	}
}

// atEnd handles a read that found nothing: more bytes came meanwhile, a delimiter at the end
// of what was read is now final, the file was truncated or rewritten, or it is at its end. It
// reports whether visit goes on reading.
func (s *Source) atEnd(f *file) (again bool, res visitResult) {
	fi, err := f.fd.Stat()
	if err != nil {
		s.readFailed(f, fmt.Errorf("stat %q: %w", f.path, err))
		return false, visitDone
	}
	size, prevSeen := fi.Size(), f.seen
	f.seen = max(f.seen, size)
	if size > f.pos {
		return true, visitDone // appended since the read
	}
	if s.buf.Settle() {
		return true, visitDone // a delimiter match at the end of what was read is final
	}
	st := stampOf(fi)
	rewritten := false
	if size == f.pos && st != f.stamp && f.fp.n > 0 {
		// It changed since it was last at its end: check that its head is still the one
		// read (a truncation followed by as many bytes as were read is no growth).
		ok, err := f.fp.matches(f.fd)
		if err != nil {
			s.readFailed(f, err)
			return false, visitDone
		}
		rewritten = !ok
	}
	if size < f.pos || rewritten {
		s.truncated(f, size, prevSeen)
		return false, visitHandled
	}
	if st != f.stamp {
		f.lastActive = time.Now() // it grew (or is new) since it was last at its end
	}
	f.stamp, f.atEOF, f.verify = st, true, true
	if t := f.tgt; t != nil && s.cfg.kind != kindDir {
		// At its end a file may have been rotated: look at the name now, not at the
		// next poll, so that the new file follows at once.
		s.checkTarget(t)
		return false, visitDone
	}
	if f.orphan && time.Since(f.lastActive) >= s.cfg.idle {
		s.release(f)
	}
	return false, visitDone
}

// checkHead checks, before a loaded file that was at its end is read on, that its head is
// still the one read: a file truncated and written past the offset meanwhile does not look
// truncated by its size. It reports whether it handled a truncation.
func (s *Source) checkHead(f *file) (bool, visitResult) {
	if f.fp.n == 0 || f.pos == 0 {
		return false, visitDone
	}
	ok, err := f.fp.matches(f.fd)
	if err != nil {
		s.readFailed(f, err)
		return true, visitDone
	}
	if ok {
		return false, visitDone
	}
	fi, err := f.fd.Stat()
	if err != nil {
		s.readFailed(f, fmt.Errorf("stat %q: %w", f.path, err))
		return true, visitDone
	}
	s.truncated(f, fi.Size(), f.seen)
	return true, visitHandled
}

// release ends the following of an orphan that was read to its end and stayed idle: its
// unterminated last record is emitted (the batch does not hold records of another file that
// are still in the buffer: f is loaded).
func (s *Source) release(f *file) {
	if s.loaded == f {
		if rec, ok := s.buf.Remainder(); ok {
			s.batch.add(&f.tmpl, rec, time.Now().UnixNano())
		}
		f.off = f.pos
		s.loaded = nil
	}
	s.log.Info(s.cfg.name+": released a rotated or deleted file read to its end", "file", f.path)
	s.drop(f)
}

// committed returns the offset of the first byte of f not returned in a record.
func (s *Source) committed(f *file) int64 {
	if s.loaded == f && s.buf != nil {
		return f.pos - int64(s.buf.Buffered())
	}
	return f.off
}

// load makes f the file the buffer holds bytes of. The file loaded before keeps its committed
// offset: the unterminated record buffered for it is read again when it is loaded again.
func (s *Source) load(f *file) error {
	if s.loaded == f {
		return nil
	}
	s.unload()
	if err := s.openFile(f); err != nil {
		return err
	}
	s.clearProblem(f)
	if f.pos != f.off {
		if err := f.seek(f.off); err != nil {
			return err
		}
	}
	s.clock++
	f.used = s.clock
	s.loaded = f
	return nil
}

// unload gives the buffer up: the loaded file keeps its committed offset.
func (s *Source) unload() {
	if f := s.loaded; f != nil {
		f.off = s.committed(f)
		s.buf.Discard()
		s.loaded = nil
	}
}

// openFile gives f a descriptor, opening it by name again if it was closed, checking that the
// name still denotes it. A young file's fingerprint is completed.
func (s *Source) openFile(f *file) error {
	if f.fd != nil {
		return nil
	}
	s.makeRoom()
	fd, fi, err := f.openAt(f.path)
	if err != nil {
		return err
	}
	f.fd, f.pos = fd, 0
	f.openIdx = len(s.open)
	s.open = append(s.open, f)
	s.ctr.opened.Set(int64(len(s.open)))
	f.seen = max(f.seen, fi.Size())
	if f.fp.n < fpSize && fi.Size() > int64(f.fp.n) {
		fp, err := fingerprintOf(fd, int(min(fi.Size(), fpSize)))
		if err != nil {
			return err
		}
		f.fp = fp
	}
	return nil
}

// closeFile closes the descriptor of f.
func (s *Source) closeFile(f *file) {
	if f.fd == nil {
		return
	}
	if s.loaded == f {
		s.unload()
	}
	if err := f.fd.Close(); err != nil {
		s.log.Warn(s.cfg.name+": close", "file", f.path, "err", err)
	}
	f.fd = nil
	last := s.open[len(s.open)-1]
	s.open[f.openIdx], last.openIdx = last, f.openIdx
	s.open[len(s.open)-1] = nil
	s.open = s.open[:len(s.open)-1]
	s.ctr.opened.Set(int64(len(s.open)))
}

// makeRoom closes a descriptor when as many are open as allowed: the least recently loaded
// file, preferring files at their end to files with bytes to read, and those to orphans (which
// may not be found by name again). The loaded file keeps its descriptor.
func (s *Source) makeRoom() {
	if len(s.open) < s.cfg.maxOpen {
		return
	}
	var victim *file
	rank := func(f *file) int {
		r := 0
		if !f.atEOF {
			r++
		}
		if f.orphan {
			r += 2
		}
		return r
	}
	for _, f := range s.open {
		if f == s.loaded {
			continue
		}
		if victim == nil || rank(f) < rank(victim) || rank(f) == rank(victim) && f.used < victim.used {
			victim = f
		}
	}
	if victim != nil {
		s.closeFile(victim)
	}
}

// loadFailed handles a file that could not be opened again by name: if the name denotes
// another file now, the file is looked for in its directory; a file that is gone is dropped,
// what it was seen to hold beyond what was read counted as lost. Other errors (permission
// denied) are logged once and tried again at the next look.
func (s *Source) loadFailed(f *file, err error) {
	switch {
	case errors.Is(err, errMoved) || errors.Is(err, fs.ErrNotExist):
		if p, ok := s.relocate(f); ok {
			f.path = p
			s.ready.push(f, f.orphan)
			return
		}
	case errors.Is(err, errReplaced):
	default:
		s.readFailed(f, err)
		return
	}
	if lost := f.seen - s.committed(f); lost > 0 {
		s.ctr.lostDeleted.Add(lost)
		s.log.Warn(s.cfg.name+": a file was deleted or replaced before it was read to its end",
			"file", f.path, "bytes_lost", lost)
	}
	t := f.tgt
	s.drop(f)
	if t != nil {
		s.checkTarget(t)
	}
}

// clearProblem notes that f can be read again.
func (s *Source) clearProblem(f *file) {
	if f.problem != "" {
		f.problem = ""
		s.nProblems--
	}
}

// readFailed logs an error reading f once, reports it, and closes the file: it is opened again
// at the next look.
func (s *Source) readFailed(f *file, err error) {
	if msg := err.Error(); msg != f.problem {
		if f.problem == "" {
			s.nProblems++
		}
		f.problem = msg
		s.log.Error(s.cfg.name+": cannot read a file; trying again", "file", f.path, "err", err)
	}
	s.closeFile(f)
	f.stamp = stamp{}
	s.setNote(fmt.Sprintf("%s: %v", s.cfg.name, err))
}
