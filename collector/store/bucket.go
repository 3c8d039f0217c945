package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/flumego/flume/node/plugin"
)

// bucket is one open file: the current file of a key, or a file sealed against new events
// and waiting to be finalized.
type bucket struct {
	w      *Writer
	key    string // the expansion that chose it
	name   string // Span.File: the final name relative to the root
	path   string // the final name as the backend knows it
	tmp    string // path + ".tmp"
	liveID string // key of tmp among the process's live files
	f      File
	enc    plugin.Encoder
	raw    []byte // encoded bytes of the current Write not yet in the file

	size      int64     // bytes in the file
	settled   int64     // bytes its owner has made safe (Settle): the file may be finalized once all are
	synced    int64     // bytes known durable (its last successful sync)
	from      int64     // size when the current Write first touched it
	call      uint64    // the last Write that touched it
	created   uint64    // the Write that created it
	lastWrite time.Time // when a Write last succeeded on it
	cutLogged time.Time // when a failed deferred cut was last logged

	live       bool // in w.buckets: takes new events
	dirty      bool // written or cut since its last fsync
	broken     bool // its encoder cannot go on: sealed, and its encoder is not closed
	needTrunc  bool // a cut failed: cut to size before syncing or finalizing
	closing    bool // encoder and file closed; only the rename is left
	needSettle bool // its close failed on a backend that must settle it before the rename

	prev, next *bucket // the Writer's recency list
}

// Write takes what the encoder writes. Within one Write a bucket spills to its file when it
// has spillSize bytes, so a large batch does not grow memory.
func (b *bucket) Write(p []byte) (int, error) {
	if b.raw == nil {
		b.raw = b.w.takeBuf()
	}
	b.raw = append(b.raw, p...)
	if len(b.raw) >= spillSize {
		return len(p), b.spill()
	}
	return len(p), nil
}

// flush ends the Write for b: the encoder's pending block, then the buffer, go to the file.
func (b *bucket) flush() error {
	if err := b.enc.Flush(); err != nil {
		return fmt.Errorf("flush %q: %w", b.tmp, err)
	}
	return b.spill()
}

// spill writes the buffer to the file, compressed as one member or frame.
func (b *bucket) spill() error {
	if len(b.raw) == 0 {
		return nil
	}
	data, err := b.w.compress(b.raw)
	b.raw = b.raw[:0]
	if err != nil {
		return fmt.Errorf("write %q: %w", b.tmp, err)
	}
	n, err := b.f.Write(data)
	b.size += int64(n)
	if err == nil && n < len(data) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("write %q: %w", b.tmp, err)
	}
	return nil
}

// openBucket creates the file of a new bucket for key, evicting the least recently written
// bucket first if MaxOpen files are open.
func (w *Writer) openBucket(key string) (*bucket, error) {
	if w.nOpen >= w.o.maxOpen() {
		if err := w.evict(); err != nil {
			return nil, fmt.Errorf("evict to open a file for %q: %w", key, err)
		}
	}
	b := &bucket{w: w, key: key, created: w.call}
	if err := w.createFile(b); err != nil {
		return nil, err
	}
	enc, err := w.format.NewEncoder(b)
	if err != nil {
		err = fmt.Errorf("new encoder for %q: %w", b.tmp, err)
		return nil, errors.Join(err, b.f.Close(), w.l.fs.Remove(b.tmp))
	}
	b.enc, b.live = enc, true
	w.buckets[key] = b
	w.byName[b.name] = b
	w.lruPush(b)
	w.nOpen++
	w.m.opened.Inc()
	w.m.open.Set(int64(w.nOpen))
	w.log.Debug("opened bucket file", "file", b.tmp)
	return b, nil
}

// maxNameTries bounds the names tried for one file before giving up.
const maxNameTries = 100

// createFile picks b's name and creates its .tmp file exclusively.
func (w *Writer) createFile(b *bucket) error {
	now := w.o.now().In(w.l.loc)
	var lastErr error
	for try := 0; try < maxNameTries; try++ {
		var rel string
		if w.l.tpl.exact {
			rel = b.key + w.l.ext
			if try > 0 {
				rel = withCollision(rel, w.l.ext, try)
			}
		} else {
			w.seq++
			rel = string(appendTag([]byte(b.key), now, w.unique, w.seq)) + w.l.ext
		}
		// An empty expansion leaves "a//b" or "/b": clean it to a root-relative name.
		rel = strings.TrimLeft(path.Clean(rel), "/")
		full := path.Join(w.l.root, rel)
		if !within(w.l.root, full) {
			return fmt.Errorf("%w: %q: %w", ErrNameRefused, full, ErrOutsideRoot)
		}
		if !utf8.ValidString(full) {
			return fmt.Errorf("%w: %q is not valid UTF-8", ErrNameRefused, full)
		}
		if w.l.tpl.exact && exists(w.l.fs, full) {
			continue
		}
		f, err := w.create(full + tmpExt)
		if errors.Is(err, fs.ErrExist) {
			lastErr = err
			continue
		}
		if err != nil {
			if nameRefused(err) {
				err = fmt.Errorf("%w: %w", ErrNameRefused, err)
			}
			return err
		}
		b.name, b.path, b.tmp, b.f = rel, full, full+tmpExt, f
		b.liveID = liveKey(w.l.fs, b.tmp)
		addLive(b.liveID)
		w.dirtyDirs[parentDir(full)] = struct{}{}
		return nil
	}
	return fmt.Errorf("%w: no free name for %q after %d tries: %w", ErrNameRefused, b.key, maxNameTries, lastErr)
}

// nameRefused reports whether err, of creating a file or its directory, is about the name: the
// storage refuses it however often it is asked (too long, not text it takes, a directory where
// a file is, or the other way round).
func nameRefused(err error) bool {
	for _, errno := range []syscall.Errno{syscall.ENAMETOOLONG, syscall.EILSEQ, syscall.EINVAL,
		syscall.ENOTDIR, syscall.EISDIR} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// create makes the directory of name if needed and creates name. A directory removed behind
// the Writer's back is made again.
func (w *Writer) create(name string) (File, error) {
	dir := parentDir(name)
	for try := 0; ; try++ {
		if err := w.ensureDir(dir); err != nil {
			return nil, err
		}
		f, err := w.l.fs.Create(name)
		if err == nil {
			return f, nil
		}
		if try == 0 && errors.Is(err, fs.ErrNotExist) {
			clear(w.knownDirs)
			continue
		}
		return nil, fmt.Errorf("create %q: %w", name, err)
	}
}

// ensureDir makes dir and marks the parents of the directories it made for fsync.
func (w *Writer) ensureDir(dir string) error {
	if w.knownDirs[dir] {
		return nil
	}
	var missing []string
	for d := dir; !exists(w.l.fs, d); d = parentDir(d) {
		missing = append(missing, d)
		if d == parentDir(d) {
			break
		}
	}
	if err := w.l.fs.MkdirAll(dir); err != nil {
		return fmt.Errorf("create directory %q: %w", dir, err)
	}
	for _, d := range missing {
		w.dirtyDirs[parentDir(d)] = struct{}{}
	}
	if len(w.knownDirs) > 4096 {
		clear(w.knownDirs)
	}
	w.knownDirs[dir] = true
	return nil
}

// within reports whether full is strictly under root.
func within(root, full string) bool {
	switch root {
	case ".":
		return full != "." && full != ".." && !strings.HasPrefix(full, "../") && !strings.HasPrefix(full, "/")
	case "/":
		return len(full) > 1 && strings.HasPrefix(full, "/")
	}
	return strings.HasPrefix(full, root+"/")
}

// evict finalizes the least recently written file that the current Write has not touched and
// whose data is all settled. If the current Write touched them all, nothing is evicted and the
// bound is exceeded until a later Write: finalizing a file holding data of a Write in progress
// would finish it too early. If every other file holds data not settled, evict fails with
// ErrUnsettled: the owner settles what it wrote and writes again.
func (w *Writer) evict() error {
	unsettled := false
	for b := w.lruTail; b != nil; b = b.prev {
		switch {
		case b.call == w.call && !b.closing:
		case b.settled < b.size:
			unsettled = true
		default:
			return w.finalize([]*bucket{b})
		}
	}
	if unsettled {
		return ErrUnsettled
	}
	return nil
}

// seal stops b from taking new events; the next event of its key opens a new file.
func (w *Writer) seal(b *bucket) {
	if b.live {
		b.live = false
		if w.buckets[b.key] == b {
			delete(w.buckets, b.key)
		}
	}
	if w.last == b {
		w.last = nil
	}
}

// drop forgets b: its file is finalized or removed.
func (w *Writer) drop(b *bucket) {
	w.seal(b)
	delete(w.byName, b.name)
	removeLive(b.liveID)
	w.lruRemove(b)
	w.nOpen--
	w.m.open.Set(int64(w.nOpen))
	b.raw = b.raw[:0]
	w.releaseBuf(b)
	b.f, b.enc = nil, nil
}

// all returns the open buckets, least recently written first.
func (w *Writer) all() []*bucket {
	var out []*bucket
	for b := w.lruTail; b != nil; b = b.prev {
		out = append(out, b)
	}
	return out
}

func (w *Writer) lruPush(b *bucket) {
	b.prev, b.next = nil, w.lruHead
	if w.lruHead != nil {
		w.lruHead.prev = b
	}
	w.lruHead = b
	if w.lruTail == nil {
		w.lruTail = b
	}
}

func (w *Writer) lruRemove(b *bucket) {
	if b.prev != nil {
		b.prev.next = b.next
	} else if w.lruHead == b {
		w.lruHead = b.next
	}
	if b.next != nil {
		b.next.prev = b.prev
	} else if w.lruTail == b {
		w.lruTail = b.prev
	}
	b.prev, b.next = nil, nil
}

func (w *Writer) lruFront(b *bucket) {
	if w.lruHead == b {
		return
	}
	w.lruRemove(b)
	w.lruPush(b)
}
