package store

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/flumego/flume/node/event"
)

func TestSanitize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"web1", "web1"},
		{"../../etc", "______etc"},
		{"..", "__"},
		{"...", "___"},
		{"a..b", "a__b"},
		{"a.b.c", "a.b.c"},
		{".hidden", ".hidden"},
		{"a/b", "a_b"},
		{`a\b`, "a_b"},
		{"a\x00b", "a_b"},
		{"line\nbreak\ttab\r", "line_break_tab_"},
		{"del\x7f", "del_"},
		{"ünïcode", "ünïcode"},
		{"", ""},
		{"caf\xe9", "caf\uFFFD"},
		{"\xff\xfe../x", "\uFFFD\uFFFD___x"},
		{"half \xe2\x82 euro \xe2\x82\xac", "half \uFFFD\uFFFD euro €"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			b := sanitize([]byte("pre/"+tc.in), len("pre/"))
			if string(b) != "pre/"+tc.want {
				t.Errorf("sanitize(%q) = %q, want %q", tc.in, b[len("pre/"):], tc.want)
			}
		})
	}
}

// Event data that would make a component longer than the storage takes is cut, at a rune
// boundary, and marked with a hash of the whole: the name fits, two long values that begin
// alike stay apart, the same value always names the same file, and the template's literal
// text stays where Recover looks for it.
func TestLongExpansionsAreShortened(t *testing.T) {
	long := strings.Repeat("a", 300)
	longer := long + "b"
	runes := strings.Repeat("é", 200) // 400 bytes
	tests := []struct {
		name  string
		tpl   string
		exact bool
		attr  string
	}{
		{"directory", "%{tag}/log-", false, long},
		{"file name", "logs/%{tag}-", false, long},
		{"two data escapes in a name", "%{tag}-%{host}.x-", false, long},
		{"runes", "%{tag}/%{tag}-", false, runes},
		{"exact", "out/%{tag}.log", true, long},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(t.TempDir(), tc.tpl)
			o.Exact = tc.exact
			l, err := o.parse()
			if err != nil {
				t.Fatal(err)
			}
			key := func(attr string) string {
				e := ev("x", t0, "tag", attr)
				e.Host = strings.Repeat("h", 200)
				return string(l.tpl.appendExpand(nil, e))
			}
			k := key(tc.attr)
			if !utf8.ValidString(k) {
				t.Errorf("key %q is not valid UTF-8", k)
			}
			comps := strings.Split(k, "/")
			for i, c := range comps {
				limit := maxComponent
				if i == len(comps)-1 {
					limit = l.tpl.maxName
				}
				if len(c) > limit {
					t.Errorf("component %d holds %d bytes, more than %d", i, len(c), limit)
				}
			}
			if !strings.Contains(k, "~") {
				t.Errorf("key %q is not marked as shortened", k)
			}
			if key(tc.attr) != k {
				t.Error("the same event named two keys")
			}
			if key(longer) == k || key(tc.attr+"z") == k {
				t.Error("two long values share a key")
			}
			w := openWriter(t, o)
			spans := mustWrite(t, w, []*event.Event{ev("x", t0, "tag", tc.attr)})
			if re := l.tpl.recoverPattern(l.ext); !re.MatchString(spans[0].File + ".tmp") {
				t.Errorf("pattern %s does not match written %q", re, spans[0].File)
			}
			if _, err := w.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
	// A short value is left alone.
	tpl, _ := newPathTemplate(parseSegments("%{tag}/f-", time.UTC), false)
	if got := string(tpl.appendExpand(nil, ev("x", t0, "tag", "web1"))); got != "web1/f-" {
		t.Errorf("short value expanded to %q", got)
	}
}

// A name the storage refuses fails Write, and WriteOrSkip leaves that event out and writes the
// others; a failure of the storage itself fails both.
func TestWriteOrSkipLeavesRefusedNamesOut(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir, "%{tag}/f-")
	w := openWriter(t, o)
	// A literal file where a directory is wanted: the storage refuses the name.
	if err := os.WriteFile(filepath.Join(dir, "taken"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	evs := []*event.Event{ev("a", t0, "tag", "x"), ev("b", t0, "tag", "taken"), ev("c", t0, "tag", "x")}
	if _, err := w.Write(evs); !errors.Is(err, ErrNameRefused) {
		t.Fatalf("Write = %v, want ErrNameRefused", err)
	}
	spans, skipped, err := w.WriteOrSkip(evs)
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 1 || skipped[0].Index != 1 || !errors.Is(skipped[0].Err, ErrNameRefused) {
		t.Fatalf("skipped %+v, want event 1", skipped)
	}
	if len(spans) != 1 || !strings.HasPrefix(spans[0].File, "x/") {
		t.Fatalf("spans %+v", spans)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dir)[spans[0].File]; got != "a\nc\n" {
		t.Errorf("file holds %q", got)
	}
}

func TestExpandKeys(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name  string
		tpl   string
		exact bool
		e     *event.Event
		want  string
	}{
		{"dates", "%Y-%m-%d/%H00/web-", false, ev("x", at), "2026-03-04/0500/web-"},
		{"host", "%{host}/log-", false, ev("x", at), "web1/log-"},
		{"attr traversal", "%{tag}/log-", false, ev("x", at, "tag", "../../etc"), "______etc/log-"},
		{"attr separator", "%{tag}-", false, ev("x", at, "tag", "a/b"), "a_b-"},
		{"literal dot meets data dot", "x/.%{tag}/f-", false, ev("x", at, "tag", "."), "x/__/f-"},
		{"two expansions make dots", "%{a}%{b}/f-", false, ev("x", at, "a", ".", "b", "."), "__/f-"},
		{"unset attr", "%{nope}/f-", false, ev("x", at), "/f-"},
		{"percent", "100%%/%Y", false, ev("x", at), "100%/2026"},
		{"%D makes dirs", "%D/f-", false, ev("x", at), "03/04/26/f-"},
		{"exact name from data", "logs/%{tag}", true, ev("x", at, "tag", ".."), "logs/__"},
		{"exact dot name", "logs/%{tag}", true, ev("x", at, "tag", "."), "logs/_"},
		{"exact empty name", "logs/%{tag}", true, ev("x", at), "logs/_"},
		{"body", "%{body}-", false, ev("../x\n", at), "___x_-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := newPathTemplate(parseSegments(tc.tpl, time.UTC), tc.exact)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(tpl.appendExpand(nil, tc.e)); got != tc.want {
				t.Errorf("expand %q = %q, want %q", tc.tpl, got, tc.want)
			}
		})
	}
}

func TestTemplateKinds(t *testing.T) {
	tests := []struct {
		tpl                       string
		literal, timeOnly, hasDat bool
	}{
		{"web-", true, true, false},
		{"%Y/%m/%d/%H00/web-", false, true, false},
		{"%s-%j-%k", false, true, false},
		{"%t-", false, false, false},
		{"%{nanos}-", false, false, false},
		{"%{host}-", false, false, true},
		{"%Y/%{rolltag}", false, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.tpl, func(t *testing.T) {
			p, err := newPathTemplate(parseSegments(tc.tpl, time.UTC), false)
			if err != nil {
				t.Fatal(err)
			}
			if p.literal != tc.literal || p.timeOnly != tc.timeOnly || p.hasData != tc.hasDat {
				t.Errorf("literal %v timeOnly %v hasData %v; want %v %v %v",
					p.literal, p.timeOnly, p.hasData, tc.literal, tc.timeOnly, tc.hasDat)
			}
		})
	}
}

// FAULTS.md row 24: event data naming "../../etc" writes nothing outside the sink's root.
func TestEventDataNeverLeavesRoot(t *testing.T) {
	outer := t.TempDir()
	root := filepath.Join(outer, "root")
	evil := []*event.Event{
		ev("a", t0, "tag", "../../etc"),
		ev("b", t0, "tag", ".."),
		ev("c", t0, "tag", "/abs/path"),
		ev("d", t0, "tag", "x\x00y\n"),
		ev("e", t0, "tag", `..\..\win`),
	}
	evil[0].Host = "../.."
	for _, exact := range []bool{false, true} {
		o := testOptions(root, "%{host}/%{tag}/x-%{tag}")
		o.Exact = exact
		w := openWriter(t, o)
		spans := mustWrite(t, w, evil)
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
		for _, s := range spans {
			if strings.Contains(s.File, "..") || strings.HasPrefix(s.File, "/") {
				t.Errorf("span file %q leaves the root", s.File)
			}
		}
	}
	all := tree(t, outer)
	var n int
	for name, content := range all {
		if !strings.HasPrefix(name, "root/") {
			t.Errorf("file %q written outside the root", name)
		}
		n += strings.Count(content, "\n")
	}
	if n != 2*len(evil) {
		t.Errorf("%d events written under the root, want %d: %v", n, 2*len(evil), names(all))
	}
	if _, err := os.Stat(filepath.Join(outer, "etc")); err == nil {
		t.Error("an etc directory appeared next to the root")
	}
}

func TestRecoverPatternMatchesWhatIsWritten(t *testing.T) {
	tests := []struct {
		tpl   string
		exact bool
		ext   string
		e     *event.Event
	}{
		{"%Y/%m/web-", false, "", ev("x", t0)},
		{"%{tag}/web-", false, ".log.gz", ev("x", t0)}, // empty expansion: "/web-" cleaned
		{"%{host}.log", true, "", ev("x", t0)},
		{"d/%{host}", true, ".zst", ev("x", t0)},
	}
	for _, tc := range tests {
		t.Run(tc.tpl, func(t *testing.T) {
			dir := t.TempDir()
			o := testOptions(dir, tc.tpl)
			o.Exact = tc.exact
			o.Suffix = strings.TrimSuffix(strings.TrimSuffix(tc.ext, ".gz"), ".zst")
			switch {
			case strings.HasSuffix(tc.ext, ".gz"):
				o.Compress = CompressGzip
			case strings.HasSuffix(tc.ext, ".zst"):
				o.Compress = CompressZstd
			}
			l, err := o.parse()
			if err != nil {
				t.Fatal(err)
			}
			w := openWriter(t, o)
			spans := mustWrite(t, w, []*event.Event{tc.e})
			re := l.tpl.recoverPattern(l.ext)
			if name := spans[0].File + ".tmp"; !re.MatchString(name) {
				t.Errorf("pattern %s does not match written %q", re, name)
			}
			for _, other := range []string{"unrelated.tmp", "web-.tmp", spans[0].File} {
				if re.MatchString(other) {
					t.Errorf("pattern %s matches %q", re, other)
				}
			}
		})
	}
}

// FuzzExpandStaysUnderRoot: whatever the event data, a name stays strictly under the root and
// holds no ".." component or control character.
func FuzzExpandStaysUnderRoot(f *testing.F) {
	for _, s := range []string{"../../etc", "..", ".", "", "a/b", "x\x00y", `..\..`, "...", "/abs", "\xff\xfe", strings.Repeat("é", 140)} {
		f.Add(s, s)
	}
	tpls := []*pathTemplate{}
	for _, tc := range []struct {
		tpl   string
		exact bool
	}{{"%{host}/x.%{tag}/%{tag}-", false}, {"%{tag}", true}, {".%{tag}/%{host}.%{tag}", true}, {"%{tag}%{host}", false}} {
		p, err := newPathTemplate(parseSegments(tc.tpl, time.UTC), tc.exact)
		if err != nil {
			f.Fatal(err)
		}
		tpls = append(tpls, p)
	}
	f.Fuzz(func(t *testing.T, host, tag string) {
		e := ev("body", t0, "tag", tag)
		e.Host = host
		for _, p := range tpls {
			key := string(p.appendExpand(nil, e))
			if !p.exact {
				key += "20261126-103915123+0000.0000000000001.00000001"
			}
			rel := strings.TrimLeft(path.Clean(key), "/")
			full := path.Join("/root", rel)
			if !within("/root", full) {
				t.Fatalf("host %q tag %q: %q leaves the root", host, tag, full)
			}
			comps := strings.Split(rel, "/")
			for i, c := range comps {
				if c == ".." {
					t.Fatalf("host %q tag %q: %q has a .. component", host, tag, rel)
				}
				if i < len(comps)-1 && len(c) > maxComponent {
					t.Fatalf("host %q tag %q: %q has a component of %d bytes", host, tag, rel, len(c))
				}
			}
			if name := comps[len(comps)-1]; len(name)+collisionLen+len(tmpExt) > maxComponent {
				t.Fatalf("host %q tag %q: file name %q is too long", host, tag, name)
			}
			if !utf8.ValidString(rel) {
				t.Fatalf("host %q tag %q: %q is not valid UTF-8", host, tag, rel)
			}
			if strings.ContainsFunc(rel, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
				t.Fatalf("host %q tag %q: %q holds a control character or backslash", host, tag, rel)
			}
		}
	})
}
