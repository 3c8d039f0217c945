package store

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			b := []byte(tc.in)
			sanitize(b)
			if string(b) != tc.want {
				t.Errorf("sanitize(%q) = %q, want %q", tc.in, b, tc.want)
			}
		})
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
		if err := w.Close(); err != nil {
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
	for _, s := range []string{"../../etc", "..", ".", "", "a/b", "x\x00y", `..\..`, "...", "/abs"} {
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
			for _, c := range strings.Split(rel, "/") {
				if c == ".." {
					t.Fatalf("host %q tag %q: %q has a .. component", host, tag, rel)
				}
			}
			if strings.ContainsFunc(rel, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
				t.Fatalf("host %q tag %q: %q holds a control character or backslash", host, tag, rel)
			}
		}
	})
}
