package spooldir

import (
	"context"
	"encoding/json"
	"path/filepath"
)

// position is where a spooldir source stopped, as Position gives it: the file being read, with
// what identifies it and its modification time when it was picked up, and the offset after the
// last line returned. File is empty between files.
type position struct {
	Dir   string `json:"dir"`
	File  string `json:"file,omitempty"`
	Dev   uint64 `json:"dev,omitempty"`
	Ino   uint64 `json:"ino,omitempty"`
	MTime int64  `json:"mtime,omitempty"`
	Off   int64  `json:"off,omitempty"`
}

// Position returns the position after every line Next has returned so far. Taking it
// confirms those lines: the driver takes it to save it with them, after they were delivered.
func (s *Source) Position() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = false
	p := position{Dir: s.dir}
	if c := s.cur; c != nil {
		p.File, p.Dev, p.Ino, p.MTime, p.Off = c.name, c.id.Dev, c.id.Ino, c.mtime, s.offset(c)
	}
	b, _ := json.Marshal(p) // cannot fail: plain fields
	return b
}

// Ack confirms the lines of the batch Next returned last: the driver calls it once they are
// appended. A flow whose sink keeps no position confirms a file's end this way.
func (s *Source) Ack(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = false
	return nil
}

// Resume makes the source start from pos, a Position of an earlier run: the file it names, if
// it is still there and the same file, at its offset; then the other files. A position that
// does not decode or is of another directory is ignored, with a log line. It is called before
// Open.
func (s *Source) Resume(pos []byte) error {
	var p position
	if err := json.Unmarshal(pos, &p); err != nil {
		s.log.Warn("spooldir: the position of an earlier run does not decode; starting afresh", "err", err)
		return nil
	}
	if filepath.Clean(p.Dir) != s.dir {
		s.log.Warn("spooldir: the position of an earlier run is of another directory; starting afresh",
			"dir", s.dir, "position_dir", p.Dir)
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resume = &p
	return nil
}
