package store

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"time"

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
	return t, nil
}

// lastLit returns the text of the last segment if it is literal.
func lastLit(segs []segment) string {
	if s := segs[len(segs)-1]; s.esc == nil {
		return s.lit
	}
	return ""
}

// appendExpand appends the bucket key of e to dst.
func (t *pathTemplate) appendExpand(dst []byte, e *event.Event) []byte {
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
			sanitize(dst[from:])
		}
	}
	if t.hasData || (t.exact && !t.literal) {
		dst = fixComponents(dst, start, t.exact)
	}
	return dst
}

// sanitize rewrites, in place, what event data may not put in a path: separators ('/', '\\'),
// NUL and other control characters become '_', and so does every dot of a run of two or more,
// so that no expansion is or holds "..".
func sanitize(b []byte) {
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
