package store

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flumego/flume/node/event"
)

// segment is a run of literal text or one escape of a path template.
type segment struct {
	lit  string          // the text, when esc is nil
	esc  *event.Template // one escape
	data bool            // the expansion comes from event data and is sanitized
	time bool            // the expansion depends only on the timestamp's second
	dirs int             // slashes the expansion may add (%D)
}

// parseSegments splits a pattern into literal runs and escapes, by the grammar of
// event.CompileTemplate (event.SplitTemplate).
func parseSegments(p string, loc *time.Location) []segment {
	var segs []segment
	for _, pc := range event.SplitTemplate(p) {
		if pc.Escape {
			segs = append(segs, escapeSegment(pc.Text, loc))
		} else {
			segs = append(segs, segment{lit: pc.Text})
		}
	}
	return segs
}

func escapeSegment(src string, loc *time.Location) segment {
	s := segment{esc: event.CompileTemplate(src).In(loc)}
	if src[1] == '{' {
		switch src[2 : len(src)-1] {
		case "nanos":
		case "priority":
		default: // host, hostname, body, attributes: text from the event
			s.data = true
		}
		return s
	}
	switch src[1] {
	case 't': // milliseconds change within a second
	case 'D':
		s.time, s.dirs = true, 2
	default: // dates, %s, %j, %k, and unknown letters (which expand to nothing)
		s.time = true
	}
	return s
}

// pathTemplate is the part of a Path under the root: it expands against an event to the
// bucket key, the root-relative directory and file prefix (or, in exact mode, file name).
type pathTemplate struct {
	segs     []segment
	exact    bool
	literal  bool // no escapes: one bucket
	timeOnly bool // every escape depends only on the timestamp's second
	hasData  bool // some escape expands event data
	depth    int  // most slashes an expansion can hold
	maxName  int  // most bytes of the expanded file name (setExt)
}

func newPathTemplate(segs []segment, exact bool) (*pathTemplate, error) {
	t := &pathTemplate{segs: segs, exact: exact, literal: true, timeOnly: true}
	for _, s := range segs {
		if s.esc == nil {
			for _, comp := range strings.Split(s.lit, "/") {
				if comp == ".." {
					return nil, fmt.Errorf("%w: a \"..\" component would leave the root", ErrBadPath)
				}
			}
			t.depth += strings.Count(s.lit, "/")
			continue
		}
		t.literal = false
		t.timeOnly = t.timeOnly && s.time
		t.hasData = t.hasData || s.data
		t.depth += s.dirs
	}
	if exact && (len(segs) == 0 || strings.HasSuffix(lastLit(segs), "/")) {
		return nil, fmt.Errorf("%w: no file name after the directory", ErrBadPath)
	}
	t.setExt("")
	return t, nil
}

// lastLit returns the text of the last segment if it is literal.
func lastLit(segs []segment) string {
	if s := segs[len(segs)-1]; s.esc == nil {
		return s.lit
	}
	return ""
}

// appendExpand appends the bucket key of e to dst. The expansions of event data are made safe
// for a name (sanitize), and a component of the key longer than the storage takes is shortened
// (shorten).
func (t *pathTemplate) appendExpand(dst []byte, e *event.Event) []byte {
	start := len(dst)
	dst = t.expand(dst, e, nil)
	if t.hasData && t.tooLong(dst[start:]) {
		// Rare: expand again, noting where the event data lies, to shorten only that.
		var data [][2]int
		full := t.expand(nil, e, &data)
		dst = append(dst[:start], t.shorten(full, data)...)
	}
	return dst
}

// expand appends the expansion of every segment to dst, sanitized. With data set, it records
// the span of each expansion of event data, relative to where it started.
func (t *pathTemplate) expand(dst []byte, e *event.Event, data *[][2]int) []byte {
	start := len(dst)
	for i := range t.segs {
		s := &t.segs[i]
		if s.esc == nil {
			dst = append(dst, s.lit...)
			continue
		}
		from := len(dst)
		dst = s.esc.AppendTo(dst, e)
		if s.data {
			dst = sanitize(dst, from)
			if data != nil {
				*data = append(*data, [2]int{from - start, len(dst) - start})
			}
		}
	}
	if t.hasData || (t.exact && !t.literal) {
		dst = fixComponents(dst, start, t.exact)
	}
	return dst
}

// Name lengths. A component of a path (a directory or a file name) may hold at most
// maxComponent bytes on the usual file systems (NAME_MAX; HDFS's default limit too). A file
// name also carries what the Writer adds to the expansion: the roll tag, a collision number,
// the suffix and ".tmp".
const (
	maxComponent = 255
	tagLen       = len("20261126-103915123+0000.0000000000001.00000001")
	collisionLen = len(".100") // withCollision, up to maxNameTries
	hashLen      = len("~0123456789abcdef")
)

// setExt fits the longest expanded file name to ext, the suffix and compression extension.
func (t *pathTemplate) setExt(ext string) {
	reserve := collisionLen + len(ext) + len(tmpExt)
	if !t.exact {
		reserve += tagLen
	}
	t.maxName = maxComponent - reserve
}

// limit returns the most bytes the component of a key ending at end may hold.
func (t *pathTemplate) limit(key []byte, end int) int {
	if end == len(key) {
		return t.maxName
	}
	return maxComponent
}

// tooLong reports whether a component of key is longer than it may be.
func (t *pathTemplate) tooLong(key []byte) bool {
	from := 0
	for i := 0; i <= len(key); i++ {
		if i < len(key) && key[i] != '/' {
			continue
		}
		if i-from > t.limit(key, i) {
			return true
		}
		from = i + 1
	}
	return false
}

// shorten returns key with every component that is too long cut down: the expansions of event
// data in it (data, their spans) are cut, at a rune boundary, as evenly as it takes, and the
// last of them is followed by "~" and a hash of the whole component, so that two long values
// that share their beginning still name two files. The literal text of the template stays, so
// the names still match what Recover looks for. The result depends on key alone. A component
// whose literal text alone is too long is left as it is: the storage refuses it.
func (t *pathTemplate) shorten(key []byte, data [][2]int) []byte {
	out := make([]byte, 0, len(key))
	from := 0
	for i := 0; i <= len(key); i++ {
		if i < len(key) && key[i] != '/' {
			continue
		}
		comp := key[from:i]
		var in [][2]int
		for _, d := range data {
			if d[0] >= from && d[1] <= i && d[1] > d[0] {
				in = append(in, [2]int{d[0] - from, d[1] - from})
			}
		}
		if limit := t.limit(key, i); len(comp) > limit && len(in) > 0 {
			out = appendShortened(out, comp, in, limit)
		} else {
			out = append(out, comp...)
		}
		if i < len(key) {
			out = append(out, '/')
		}
		from = i + 1
	}
	return out
}

// appendShortened appends comp cut down to limit bytes by cutting its data spans.
func appendShortened(out, comp []byte, data [][2]int, limit int) []byte {
	dataLen := 0
	lens := make([]int, len(data))
	for i, d := range data {
		lens[i] = d[1] - d[0]
		dataLen += lens[i]
	}
	room := max(limit-(len(comp)-dataLen)-hashLen, 0)
	// The largest share each span may keep so that all of them fit in room.
	sorted := slices.Clone(lens)
	slices.Sort(sorted)
	share := room
	for i, n := range sorted {
		s := room / (len(sorted) - i)
		if n > s {
			share = s
			break
		}
		room -= n
	}
	sum := fnv.New64a()
	_, _ = sum.Write(comp)
	at := 0
	for i, d := range data {
		out = append(out, comp[at:d[0]]...)
		keep := min(lens[i], share)
		for keep > 0 && keep < lens[i] && !utf8.RuneStart(comp[d[0]+keep]) {
			keep--
		}
		out = append(out, comp[d[0]:d[0]+keep]...)
		if i == len(data)-1 {
			out = append(out, '~')
			out = hex.AppendEncode(out, binary.BigEndian.AppendUint64(nil, sum.Sum64()))
		}
		at = d[1]
	}
	return append(out, comp[at:]...)
}

// sanitize rewrites what event data, from dst[from:] on, may not put in a name: bytes that
// are not valid UTF-8 become U+FFFD (names are text: the commit point records them so);
// separators ('/', '\\'), NUL and other control characters become '_', and so does every dot
// of a run of two or more, so that no expansion is or holds "..".
func sanitize(dst []byte, from int) []byte {
	if !utf8.Valid(dst[from:]) {
		bad := bytes.Clone(dst[from:])
		dst = dst[:from]
		for i := 0; i < len(bad); {
			r, n := utf8.DecodeRune(bad[i:])
			if r == utf8.RuneError && n == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, bad[i:i+n]...)
			}
			i += n
		}
	}
	b := dst[from:]
	for i, c := range b {
		if c == '/' || c == '\\' || c < 0x20 || c == 0x7f {
			b[i] = '_'
		}
	}
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '.' && b[i+1] == '.' {
			j := i
			for j < len(b) && b[j] == '.' {
				b[j] = '_'
				j++
			}
			i = j
		}
	}
	return dst
}

// fixComponents guards what sanitizing each expansion cannot: literal dots next to an
// expansion forming "..", and in exact mode a file name that is empty or ".". It rewrites the
// components of dst[start:] in place (appending for an empty name).
func fixComponents(dst []byte, start int, exact bool) []byte {
	compStart := start
	for i := start; i <= len(dst); i++ {
		if i < len(dst) && dst[i] != '/' {
			continue
		}
		if c := dst[compStart:i]; len(c) == 2 && c[0] == '.' && c[1] == '.' {
			c[0], c[1] = '_', '_'
		}
		compStart = i + 1
	}
	if exact {
		name := dst[bytes.LastIndexByte(dst[start:], '/')+1+start:]
		switch {
		case len(name) == 0:
			dst = append(dst, '_')
		case len(name) == 1 && name[0] == '.':
			name[0] = '_'
		}
	}
	return dst
}

// recoverPattern returns a regular expression matching the root-relative names of the .tmp
// files a Writer with this template and extension (suffix and compression) would make: the
// expansion, then the roll tag, unique part and sequence, or in exact mode a collision number.
func (t *pathTemplate) recoverPattern(ext string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, s := range t.segs {
		if s.esc == nil {
			// Empty expansions lose a slash when the name is cleaned ("a//b", "/b").
			b.WriteString(strings.ReplaceAll(regexp.QuoteMeta(s.lit), "/", "/?"))
		} else {
			b.WriteString(".*")
		}
	}
	if t.exact {
		b.WriteString(`(\.[0-9]+)?`)
	} else {
		b.WriteString(tagPattern)
	}
	b.WriteString(regexp.QuoteMeta(ext))
	b.WriteString(`\.tmp$`)
	return regexp.MustCompile(b.String())
}
