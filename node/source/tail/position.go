package tail

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// A position is, after a magic and version, the kind of source, its roots (the configured
// names, or tailDir's directory) and every followed file, sorted by device and inode:
//
//	head     uvarint: (owner+1)<<2 | newDevice<<1 | fullFingerprint
//	device   uvarint, when newDevice (always for the first file)
//	inode    uvarint, the difference from the previous inode of the same device
//	fpLength uvarint, unless fullFingerprint (256 bytes)
//	fpSum    4 bytes, little endian
//	offset   uvarint
//
// owner is the index of the root the file was found at (-1: none, tailDir). A file takes
// about 10 bytes.

// posMagic begins every position: a name and a version.
const posMagic = "tl\x01"

// savedFile is a followed file as a position has it.
type savedFile struct {
	id    fileID
	fp    fingerprint
	off   int64
	owner int
}

// savedState is a decoded position.
type savedState struct {
	kind  kind
	roots []string
	files []savedFile
}

// Position returns the identity and offset of every followed file after the last event Next
// returned (plugin.Checkpointer). It is valid after Close as well: it then counts the records
// the last Nexts handed out.
func (s *Source) Position() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opened && s.resume != nil {
		return encodePosition(s.resume) // not opened yet: the position resumed from
	}
	s.sortFiles()
	w := newPosWriter(s.cfg.kind, s.roots(), len(s.files))
	for _, f := range s.files {
		w.file(savedFile{id: f.id, fp: f.fp, off: s.committed(f), owner: f.owner})
	}
	return w.b
}

// sortFiles drops the files no longer followed from s.files and sorts it by identity.
func (s *Source) sortFiles() {
	if s.nDropped > 0 {
		s.files = slices.DeleteFunc(s.files, func(f *file) bool { return f.dropped })
		s.nDropped = 0
	}
	if s.unsorted {
		slices.SortFunc(s.files, func(a, b *file) int {
			return cmp.Or(cmp.Compare(a.id.Dev, b.id.Dev), cmp.Compare(a.id.Ino, b.id.Ino))
		})
		s.unsorted = false
	}
}

// roots returns the configured names, or tailDir's directory.
func (s *Source) roots() []string {
	if s.cfg.kind == kindDir {
		return []string{s.cfg.dir}
	}
	return s.cfg.paths
}

// encodePosition encodes st; its files must be sorted by identity.
func encodePosition(st *savedState) []byte {
	w := newPosWriter(st.kind, st.roots, len(st.files))
	for _, f := range st.files {
		w.file(f)
	}
	return w.b
}

// posWriter encodes a position.
type posWriter struct {
	b     []byte
	prev  fileID
	first bool
}

// newPosWriter begins a position of n files.
func newPosWriter(k kind, roots []string, n int) *posWriter {
	size := len(posMagic) + 1 + binary.MaxVarintLen64*(2+len(roots)) + 16*n
	for _, r := range roots {
		size += len(r)
	}
	w := &posWriter{b: make([]byte, 0, size), first: true}
	w.b = append(w.b, posMagic...)
	w.b = append(w.b, byte(k))
	w.b = binary.AppendUvarint(w.b, uint64(len(roots)))
	for _, r := range roots {
		w.b = binary.AppendUvarint(w.b, uint64(len(r)))
		w.b = append(w.b, r...)
	}
	w.b = binary.AppendUvarint(w.b, uint64(n))
	return w
}

// file encodes the next file; files come sorted by identity.
func (w *posWriter) file(f savedFile) {
	head := uint64(f.owner+1) << 2
	if w.first || f.id.Dev != w.prev.Dev {
		head |= 2
		w.prev = fileID{}
	}
	if f.fp.n == fpSize {
		head |= 1
	}
	b := binary.AppendUvarint(w.b, head)
	if head&2 != 0 {
		b = binary.AppendUvarint(b, f.id.Dev)
	}
	b = binary.AppendUvarint(b, f.id.Ino-w.prev.Ino)
	if head&1 == 0 {
		b = binary.AppendUvarint(b, uint64(f.fp.n))
	}
	b = binary.LittleEndian.AppendUint32(b, f.fp.sum)
	w.b = binary.AppendUvarint(b, uint64(f.off))
	w.prev, w.first = f.id, false
}

// posReader reads the fields of a position, keeping the first error.
type posReader struct {
	b   []byte
	err error
}

func (r *posReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{errBadPosition}, args...)...)
	}
}

func (r *posReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated or overlong number")
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a number of items of at least size bytes each, bounded by what is left.
func (r *posReader) count(size int) int {
	v := r.uvarint()
	if v > uint64(len(r.b)/size) {
		r.fail("%d items in %d bytes", v, len(r.b))
		return 0
	}
	return int(v)
}

func (r *posReader) bytes(n int) []byte {
	if n > len(r.b) {
		r.fail("truncated")
		r.b = nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// decodePosition decodes a position. It never panics, whatever b holds.
func decodePosition(b []byte) (*savedState, error) {
	if !bytes.HasPrefix(b, []byte(posMagic)) {
		return nil, errBadPosition
	}
	r := &posReader{b: b[len(posMagic):]}
	kb := r.bytes(1)
	if r.err != nil {
		return nil, r.err
	}
	st := &savedState{kind: kind(kb[0])}
	roots := r.count(1)
	for range roots {
		st.roots = append(st.roots, string(r.bytes(r.count(1))))
	}
	files := r.count(7) // head, inode, sum and offset: 7 bytes at least
	st.files = make([]savedFile, 0, files)
	var prev fileID
	for i := 0; i < files && r.err == nil; i++ {
		f := savedFile{fp: fingerprint{n: fpSize}}
		head := r.uvarint()
		if owner := head >> 2; owner > uint64(len(st.roots)) {
			r.fail("file %d: owner %d of %d roots", i, owner, len(st.roots))
		} else {
			f.owner = int(owner) - 1
		}
		switch {
		case head&2 != 0:
			dev := r.uvarint()
			if i > 0 && dev <= prev.Dev {
				r.fail("file %d: device out of order", i)
			}
			prev = fileID{Dev: dev}
		case i == 0:
			r.fail("first file without a device")
		}
		delta := r.uvarint()
		if delta > math.MaxUint64-prev.Ino || i > 0 && delta == 0 && head&2 == 0 {
			r.fail("file %d: inode out of order", i)
		}
		f.id = fileID{Dev: prev.Dev, Ino: prev.Ino + delta}
		if head&1 == 0 {
			if n := r.uvarint(); n < fpSize {
				f.fp.n = int(n)
			} else {
				r.fail("file %d: fingerprint of %d bytes", i, n)
			}
		}
		if sum := r.bytes(4); len(sum) == 4 {
			f.fp.sum = binary.LittleEndian.Uint32(sum)
		}
		if off := r.uvarint(); off <= math.MaxInt64 {
			f.off = int64(off)
		} else {
			r.fail("file %d: offset %d", i, off)
		}
		st.files = append(st.files, f)
		prev = f.id
	}
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d bytes after the files", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return st, nil
}

// Resume makes Open start from pos, a Position of an earlier run (plugin.Checkpointer). A
// position that does not decode, or that is of another source, is ignored with a log line:
// the source then starts as on a first run.
func (s *Source) Resume(pos []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened {
		s.log.Warn(s.cfg.name + ": a position given after Open is ignored")
		return nil
	}
	st, err := decodePosition(pos)
	if err != nil {
		s.log.Warn(s.cfg.name+": the saved position does not decode; starting as on a first run", "err", err)
		return nil
	}
	s.resume = st
	return nil
}
