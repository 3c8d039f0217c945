package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// What a keep function passed to Recover may return besides a length.
const (
	// KeepAll keeps the whole file.
	KeepAll int64 = -1
	// KeepSkip leaves the file alone: it is not the caller's (another writer's, still open).
	KeepSkip int64 = -2
	// KeepUnknown says the owner has no record of the file: nothing of it was committed. On a
	// backend that the owner has to itself (the local disk) the file is removed; on one that
	// other collectors write to beside it (a Settler: HDFS) it is left alone, since it may be
	// another's.
	KeepUnknown int64 = -3
)

// unknown says what to keep of a file its owner has no record of: nothing, when it is the
// owner's (the backend is the owner's alone, or the name carries Options.Owner), and the file
// is left alone otherwise.
func (r *recoverer) unknown(rel string) int64 {
	if _, shared := r.l.fs.(Settler); !shared {
		return 0
	}
	if r.o.Owner == "" || r.l.tpl.exact {
		return KeepSkip
	}
	m := r.tag.FindStringSubmatch(rel)
	if m == nil {
		return KeepSkip
	}
	unique, err := strconv.ParseUint(m[1], 10, 64)
	if err != nil || !ownedBy(unique, r.o.Owner) {
		return KeepSkip
	}
	return 0
}

// RecoverStats counts what Recover did.
type RecoverStats struct {
	Files        int   // .tmp files of this naming scheme found
	Skipped      int   // left alone: keep returned KeepSkip
	Truncated    int   // cut to the length the owner vouches for
	Removed      int   // removed: empty, or a container's header alone
	Finalized    int   // renamed to their final names
	Short        int   // the owner vouched for more than the file holds: kept whole
	BytesDropped int64 // bytes cut off
	// Done names the files finalized or removed (as Span.File names them): an owner that kept
	// their committed lengths may forget them.
	Done []string
}

// Recover handles the .tmp files a crash left under the root of o: only names that a Writer
// with these options makes (the template, the roll tag or exact name, the suffix). For each,
// keep(file) (file as in Span.File) returns the length the owner vouches for (the committed
// part), KeepAll, or KeepSkip. Recover cuts the file to that length, removes it if it is then
// empty or holds only a container header, and finalizes it otherwise. A nil keep keeps every
// file whole. Run it before Open of a Writer on the same root, while no Writer writes there.
func Recover(ctx context.Context, o Options, keep func(file string) int64) (RecoverStats, error) {
	var st RecoverStats
	l, err := o.parse()
	if err != nil {
		return st, err
	}
	format := o.Format
	if format == nil {
		format = rawFormat{}
	}
	hasHeader, headerLen, err := probeHeader(format)
	if err != nil {
		return st, err
	}
	re := l.tpl.recoverPattern(l.ext)
	var found []string
	if err := walk(ctx, l.fs, l.root, "", l.tpl.depth, re, &found); err != nil {
		return st, err
	}
	slices.Sort(found)
	r := recoverer{ctx: ctx, l: l, o: &o, tag: regexp.MustCompile(tagPattern + regexp.QuoteMeta(l.ext) + `\.tmp$`), hasHeader: hasHeader, headerLen: headerLen, dirs: map[string]struct{}{}}
	var errs []error
	for _, rel := range found {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		st.Files++
		n := KeepAll
		final := strings.TrimSuffix(rel, tmpExt)
		if keep != nil {
			n = keep(final)
		}
		if n == KeepUnknown {
			n = r.unknown(rel)
		}
		if n == KeepSkip || isLive(liveKey(l.fs, path.Join(l.root, rel))) {
			st.Skipped++
			continue
		}
		err := r.one(final, n, &st)
		if err == nil {
			st.Done = append(st.Done, final)
		}
		errs = append(errs, err)
	}
	for d := range r.dirs {
		if err := l.fs.SyncDir(d); err != nil {
			errs = append(errs, fmt.Errorf("fsync directory %q: %w", d, err))
		}
	}
	return st, errors.Join(errs...)
}

// walk lists dir (root-relative rel) and the directories under it up to depth levels,
// appending the files whose root-relative names match re.
func walk(ctx context.Context, fsys FS, root, rel string, depth int, re *regexp.Regexp, found *[]string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := path.Join(root, rel)
	entries, err := fsys.List(dir)
	if err != nil {
		if rel == "" && errors.Is(err, fs.ErrNotExist) {
			return nil // no root: nothing was ever written
		}
		return fmt.Errorf("list %q: %w", dir, err)
	}
	for _, e := range entries {
		name := path.Join(rel, e.Name())
		if e.IsDir() {
			if depth > 0 {
				if err := walk(ctx, fsys, root, name, depth-1, re, found); err != nil {
					return err
				}
			}
			continue
		}
		if strings.HasSuffix(name, tmpExt) && re.MatchString(name) {
			*found = append(*found, name)
		}
	}
	return nil
}

type recoverer struct {
	ctx       context.Context
	tag       *regexp.Regexp // the roll tag at the end of a name
	l         *layout
	o         *Options
	hasHeader bool
	headerLen int64
	dirs      map[string]struct{}
}

// one recovers the file whose final name is final, keeping n bytes (or all when n < 0).
func (r *recoverer) one(final string, n int64, st *RecoverStats) error {
	full := path.Join(r.l.root, final)
	tmp := full + tmpExt
	if n == 0 {
		// Nothing of it is kept: remove it as it is (HDFS removes a file another writer
		// holds open, and its lease with it).
		size, _ := r.l.fs.Stat(tmp) // of a file still open on HDFS, its completed blocks
		if err := r.l.fs.Remove(tmp); err != nil {
			return fmt.Errorf("recover: remove %q: %w", tmp, err)
		}
		st.Removed++
		st.BytesDropped += size
		r.dirs[parentDir(full)] = struct{}{}
		return nil
	}
	if s, ok := r.l.fs.(Settler); ok {
		// The file's writer died with it open: its full length is known once it is closed.
		if err := s.Settle(r.ctx, tmp); err != nil {
			return fmt.Errorf("recover %q: %w", tmp, err)
		}
	}
	size, err := r.l.fs.Stat(tmp)
	if err != nil {
		return fmt.Errorf("recover %q: %w", tmp, err)
	}
	log := r.o.logger()
	switch {
	case n > size:
		st.Short++
		log.Error("recovered file is shorter than its committed length; keeping it whole",
			"file", tmp, "size", size, "committed", n)
	case n >= 0 && n < size:
		if err := r.truncate(tmp, n); err != nil {
			return err
		}
		st.Truncated++
		st.BytesDropped += size - n
		size = n
	}
	dir := parentDir(full)
	if size == 0 || (r.hasHeader && r.headerOnly(tmp)) {
		if err := r.l.fs.Remove(tmp); err != nil {
			return fmt.Errorf("recover: remove %q: %w", tmp, err)
		}
		r.dirs[dir] = struct{}{}
		st.Removed++
		return nil
	}
	to := full
	for try := 1; ; try++ {
		err := r.l.fs.Rename(tmp, to)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || try > maxNameTries {
			return fmt.Errorf("recover: rename %q: %w", tmp, err)
		}
		to = withCollision(full, r.l.ext, try)
	}
	r.dirs[dir] = struct{}{}
	st.Finalized++
	log.Info("recovered file", "file", to, "bytes", size)
	return nil
}

// truncate cuts name to n bytes durably.
func (r *recoverer) truncate(name string, n int64) error {
	f, err := r.l.fs.OpenAppend(name)
	if err != nil {
		return fmt.Errorf("recover: open %q: %w", name, err)
	}
	err = f.Truncate(n)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("recover: truncate %q to %d: %w", name, n, err)
	}
	return nil
}

// headerOnly reports whether name holds, once decompressed, no more than a container header.
// A file that cannot be read is kept: it is not known to be empty.
func (r *recoverer) headerOnly(name string) bool {
	f, err := r.l.fs.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	var rd io.Reader = f
	if c := r.l.codec; c != nil {
		cr, err := c.NewReader(f)
		if err != nil {
			return false
		}
		defer cr.Close()
		rd = cr
	}
	n, err := io.Copy(io.Discard, io.LimitReader(rd, r.headerLen+1))
	return err == nil && n <= r.headerLen
}
