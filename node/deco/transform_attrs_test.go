package deco

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
)

// attrCase is a table row for a decorator that sets or removes attributes: the decorator as
// written in a spec, the input event, and the attributes and body expected out.
type attrCase struct {
	name  string
	deco  string
	in    *event.Event
	attrs map[string]string
	body  string // the expected body; the input body if empty
}

func runAttrCases(t *testing.T, cases []attrCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := runThrough(t, testEnv(), tc.deco, []*event.Event{tc.in})
			if len(got) != 1 {
				t.Fatalf("got %d events, want 1", len(got))
			}
			if a := attrsOf(got[0]); !maps.Equal(a, tc.attrs) {
				t.Errorf("attributes %v, want %v", a, tc.attrs)
			}
			want := tc.body
			if want == "" {
				want = string(tc.in.Body)
			}
			if string(got[0].Body) != want {
				t.Errorf("body %q, want %q", got[0].Body, want)
			}
			if got[0].Timestamp != tc.in.Timestamp || got[0].Priority != tc.in.Priority || got[0].Host != tc.in.Host {
				t.Errorf("timestamp, priority or host changed: %+v", got[0])
			}
		})
	}
}

func TestValue(t *testing.T) {
	runAttrCases(t, []attrCase{
		{"constant", `value("dc", "east")`, eventOf("line", "k", "v"),
			map[string]string{"k": "v", "dc": "east"}, ""},
		{"escapes kept without escape", `value("dc", "%{host}")`, eventOf("line"),
			map[string]string{"dc": "%{host}"}, ""},
		{"escape", `value("where", "%{host}/%{k}/%Y", escape=true)`, eventOf("line", "k", "v"),
			map[string]string{"k": "v", "where": "web-1/v/" + event.Expand("%Y", eventOf(""))}, ""},
		{"escape of literal text", `value("pct", "100%%", escape=true)`, eventOf("line"),
			map[string]string{"pct": "100%"}, ""},
		{"escape given as a string", `value("b", "%{body}", escape="true")`, eventOf("line"),
			map[string]string{"b": "line"}, ""},
	})
}

func TestValueEscapePerEvent(t *testing.T) {
	in := []*event.Event{eventOf("a", "n", "1"), eventOf("b", "n", "2"), eventOf("c", "n", "3")}
	got := runThrough(t, testEnv(), `value("copy", "%{n}-%{body}", escape=true)`, in[:2], in[2:])
	for i, want := range []string{"1-a", "2-b", "3-c"} {
		if v, _ := got[i].Attr("copy"); string(v) != want {
			t.Errorf("event %d: copy = %q, want %q", i, v, want)
		}
	}
}

func TestSetExistingAttributeFails(t *testing.T) {
	cases := []struct{ deco, attr string }{
		{`value("dc", "west")`, "dc"},
		{`value("dc", "%{host}", escape=true)`, "dc"},
		{`digest("MD5", "dc")`, "dc"},
		{`regex("(l)", 1, "dc")`, "dc"},
		{`split(" ", 0, "dc")`, "dc"},
		{`regexAll("(l)(i)", "x", "dc")`, "dc"},
		{`exDate("when", "yyyy", "d")`, "dday"},
	}
	for _, tc := range cases {
		t.Run(tc.deco, func(t *testing.T) {
			sink := &testSink{}
			d := mustBuild(t, testEnv(), tc.deco, sink)
			if err := d.Open(context.Background()); err != nil {
				t.Fatal(err)
			}
			batch := []*event.Event{eventOf("line"), eventOf("line", "dc", "east", "dday", "1", "when", "2010")}
			err := appendChecked(t, d, batch...)
			if !errors.Is(err, event.ErrAttrExists) || !strings.Contains(err.Error(), `"`+tc.attr+`"`) {
				t.Fatalf("Append = %v, want an error naming attribute %q", err, tc.attr)
			}
			if !plugin.IsPermanent(err) {
				t.Errorf("error %v is not permanent: a retry fails the same way", err)
			}
			if n := len(sink.events()); n != 0 {
				t.Errorf("%d events passed on from a failed batch", n)
			}
			if err := d.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			sink.checkContract(t)
		})
	}
}

func TestMaskSelect(t *testing.T) {
	in := func() *event.Event { return eventOf("line", "a", "1", "b", "2", "c", "3") }
	runAttrCases(t, []attrCase{
		{"mask one", `mask("b")`, in(), map[string]string{"a": "1", "c": "3"}, ""},
		{"mask several", `mask("a", "c", "zz")`, in(), map[string]string{"b": "2"}, ""},
		{"mask absent", `mask("zz")`, in(), map[string]string{"a": "1", "b": "2", "c": "3"}, ""},
		{"select one", `select("b")`, in(), map[string]string{"b": "2"}, ""},
		{"select several", `select("c", "a", "zz")`, in(), map[string]string{"a": "1", "c": "3"}, ""},
		{"select all", `select("a", "b", "c")`, in(), map[string]string{"a": "1", "b": "2", "c": "3"}, ""},
		{"select none present", `select("zz")`, in(), map[string]string{}, ""},
	})
}

func TestFormat(t *testing.T) {
	runAttrCases(t, []attrCase{
		{"escapes", `format("%{host} [%{priority}] %{body} k=%{k}")`, eventOf("msg", "k", "v"),
			map[string]string{"k": "v"}, "web-1 [WARN] msg k=v"},
		{"literal", `format("constant")`, eventOf("msg"), map[string]string{}, "constant"},
	})
}

func TestFormatEmptyPattern(t *testing.T) {
	got := runThrough(t, testEnv(), `format("")`, []*event.Event{eventOf("msg")})
	if len(got) != 1 || len(got[0].Body) != 0 {
		t.Fatalf("got %v, want one event with an empty body", got)
	}
}

func TestDigest(t *testing.T) {
	runAttrCases(t, []attrCase{
		{"md5 base64", `digest("MD5", "sum", base64=true)`, eventOf("hello"),
			map[string]string{"sum": "XUFAKrxLKna5cZ2REBfFkg=="}, ""},
		{"md5 raw", `digest("md5", "sum")`, eventOf("hello"),
			map[string]string{"sum": "\x5d\x41\x40\x2a\xbc\x4b\x2a\x76\xb9\x71\x9d\x91\x10\x17\xc5\x92"}, ""},
		{"sha-1", `digest("SHA-1", "sum", base64=true)`, eventOf("hello"),
			map[string]string{"sum": "qvTGHdzF6KLavt4PO0gs2a6pQ00="}, ""},
		{"sha-256", `digest("SHA-256", "sum", base64=true)`, eventOf("hello"),
			map[string]string{"sum": "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="}, ""},
		{"sha-512 of empty body", `digest("SHA-512", "sum", base64=true)`, eventOf(""),
			map[string]string{"sum": "z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="}, ""},
	})
}

func TestDigestPerEvent(t *testing.T) {
	got := runThrough(t, testEnv(), `digest("MD5", "sum", base64=true)`,
		[]*event.Event{eventOf("hello"), eventOf("")})
	want := []string{"XUFAKrxLKna5cZ2REBfFkg==", "1B2M2Y8AsgTpgAmY7PhCfg=="}
	for i := range want {
		if v, _ := got[i].Attr("sum"); string(v) != want[i] {
			t.Errorf("event %d: sum = %q, want %q", i, v, want[i])
		}
	}
}

// TestBuildErrors checks that every bad argument is refused when the decorator is built,
// at the argument, with a message that says what is wrong.
func TestBuildErrors(t *testing.T) {
	cases := []struct{ deco, want string }{
		{`value("", "x")`, `1:7: value: argument attr: attribute name must not be empty`},
		{`value("a")`, `1:1: value: missing argument "value"`},
		{`value("a", "b", escape="maybe")`, `1:24: value: argument escape: want a boolean`},
		{`mask("a", "")`, `1:6: mask: argument attr: attribute names must not be empty`},
		{`select`, `1:1: select: missing argument "attr"`},
		{`format`, `1:1: format: missing argument "pattern"`},
		{`digest("MD4", "sum")`, `1:8: digest: argument algorithm: unknown digest "MD4"; want MD5, SHA-1`},
		{`digest("MD5", "")`, `1:15: digest: argument attr: attribute name must not be empty`},
		{`regex("a(?=b)", 0, "x")`, "1:7: regex: argument regex: error parsing regexp: invalid or " +
			"unsupported Perl syntax: `(?=` (the syntax is RE2: no lookaround, no backreferences)"},
		{`regex("a", "-1", "x")`, `1:12: regex: argument idx: must be between 0 and 2147483647, got -1`},
		{`regex("a", "one", "x")`, `1:12: regex: argument idx: want an integer, got string "one"`},
		{`regex("a", 0, "")`, `1:15: regex: argument attr: attribute name must not be empty`},
		{`regexAll("(a)\\1", "x")`, `1:10: regexAll: argument regex: error parsing regexp: invalid escape sequence: ` + "`\\1`"},
		{`regexAll("(a)")`, `1:1: regexAll: missing argument "name"`},
		{`split("(", 0, "x")`, "1:7: split: argument regex: error parsing regexp: missing closing ): `(`"},
		{`split(",", "-2", "x")`, `1:12: split: argument idx: must be between 0 and 2147483647, got -2`},
		{`split(",", 3000000000, "x")`, `1:12: split: argument idx: must be between 0 and 2147483647, got 3000000000`},
		{`exDate("d", "yyyy-MM-ddTHH")`, `1:13: exDate: argument pattern: invalid date pattern "yyyy-MM-ddTHH": ` +
			`letter 'T' at offset 10 is not a pattern letter`},
		{`exDate("d", "HH 'h")`, `1:13: exDate: argument pattern: invalid date pattern "HH 'h": quote at offset 3 is not closed`},
		{`exDate("", "yyyy")`, `1:8: exDate: argument attr: attribute name must not be empty`},
		{`exDate("d", "yyyy", "p", "sometimes")`, `1:26: exDate: argument padding: want a boolean`},
		{`batch(0)`, `1:7: batch: argument n: must be between 1 and 1048576, got 0; usage: batch(n[, maxLatencyMs=0])`},
		{`batch(2000000)`, `1:7: batch: argument n: must be between 1 and 1048576, got 2000000`},
		{`batch(10, "-5")`, `1:11: batch: argument maxLatencyMs: want a duration (milliseconds or "10s"), got string "-5"`},
		{`batch("-5")`, `1:7: batch: argument n: must be between 1 and 1048576, got -5`},
		{`batch`, `1:1: batch: missing argument n`},
		{`unbatch(1)`, `1:9: unbatch: too many arguments (1 given, at most 0)`},
		{`gzip("x")`, `1:6: gzip: too many arguments`},
		{`gunzip(level=1)`, `1:8: gunzip: unknown keyword argument "level"`},
	}
	for _, tc := range cases {
		t.Run(tc.deco, func(t *testing.T) {
			s, err := testEnv().BuildDecorator(t, tc.deco, &testSink{})
			if err == nil {
				t.Fatalf("built %T, want an error", s)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n  %v\ndoes not contain\n  %s", err, tc.want)
			}
			name, _, _ := strings.Cut(strings.TrimLeft(tc.deco, " "), "(")
			r := plugin.NewRegistry()
			registerTransforms(r)
			entry, _ := r.Lookup(plugin.KindDecorator, name)
			if usage := "; usage: " + entry.Usage(); !strings.HasSuffix(err.Error(), usage) {
				t.Errorf("error\n  %v\ndoes not end with\n  %s", err, usage)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	r := plugin.NewRegistry()
	registerTransforms(r)
	want := map[string]string{
		"value":     `value("attr", "value"{, escape=false})`,
		"mask":      `mask("attr"[, "attr"...])`,
		"select":    `select("attr"[, "attr"...])`,
		"format":    `format("pattern")`,
		"digest":    `digest("algorithm", "attr"{, base64=false})`,
		"regex":     `regex("regex", idx, "attr")`,
		"regexAll":  `regexAll("regex", "name"[, "name"...])`,
		"split":     `split("regex", idx, "attr")`,
		"exDate":    `exDate("attr", "pattern"[, prefix="date"[, padding=true]])`,
		"eventTime": `eventTime(["regex"[, "pattern"]]{, layout="Go layout", zone="Local"})`,
		"exTime":    `exTime(["regex"[, "pattern"]]{, layout="Go layout", zone="Local"})`,
		"batch":     `batch(n[, maxLatencyMs=0])`,
		"unbatch":   `unbatch`,
		"gzip":      `gzip`,
		"gunzip":    `gunzip`,
	}
	for name, usage := range want {
		e, ok := r.Lookup(plugin.KindDecorator, name)
		if !ok {
			t.Errorf("%s is not registered", name)
			continue
		}
		if e.Usage() != usage {
			t.Errorf("usage %s, want %s", e.Usage(), usage)
		}
		if e.Doc == "" {
			t.Errorf("%s has no doc line", name)
		}
	}
	if n := len(r.Entries(plugin.KindDecorator)); n != len(want) {
		t.Errorf("%d decorators registered, want %d", n, len(want))
	}
}

// TestLifecycle checks that every transforming decorator opens and closes the sink it feeds,
// and may be closed without being opened, and twice.
func TestLifecycle(t *testing.T) {
	decos := []string{`value("v", "b")`, `mask("a")`, `select("a")`, `format("x")`, `digest("MD5", "d")`,
		`regex("x", 0, "r")`, `regexAll("(x)", "r")`, `split(",", 0, "s")`, `exDate("a", "yyyy")`,
		`batch(3)`, `batch(3, 50)`, `unbatch`, `gzip`, `gunzip`}
	for _, text := range decos {
		t.Run(text, func(t *testing.T) {
			ctx := context.Background()
			unopened := &testSink{}
			d := mustBuild(t, testEnv(), text, unopened)
			for range 2 {
				if err := d.Close(ctx); err != nil {
					t.Fatalf("Close without Open: %v", err)
				}
			}
			sink := &testSink{}
			d = mustBuild(t, testEnv(), text, sink)
			if err := d.Open(ctx); err != nil {
				t.Fatal(err)
			}
			if err := appendChecked(t, d, eventOf("2010,x", "a", "2010")); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := d.Close(ctx); err != nil {
					t.Fatalf("Close: %v", err)
				}
			}
			if opens, _, closes := sink.counts(); opens != 1 || closes < 1 {
				t.Errorf("next sink opened %d times and closed %d times, want 1 and at least 1", opens, closes)
			}
			if len(sink.events()) == 0 {
				t.Error("nothing reached the next sink")
			}
			sink.checkContract(t)
		})
	}
}

func TestCounters(t *testing.T) {
	env := testEnv()
	runThrough(t, env, `mask("a")`, []*event.Event{eventOf("1"), eventOf("2")}, []*event.Event{eventOf("3")})
	if in, out := env.Counter("mask.events_in"), env.Counter("mask.events_out"); in != 3 || out != 3 {
		t.Errorf("events_in %d, events_out %d, want 3 and 3", in, out)
	}
}
