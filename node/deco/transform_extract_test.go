package deco

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
)

func TestRegex(t *testing.T) {
	// The examples of classic Flume's RegexExtractor, and the corner cases it defines.
	const re = `regex("(\\d+):(\\d+):(\\d+)", %d, "x")`
	cases := []struct {
		idx        int
		body, want string
	}{
		{3, "123:456:789", "789"},
		{3, "abc:def:xyz", ""}, // no match
		{3, "11:22", ""},       // no match of all three groups
		{3, "55:66:33:22", "33"},
		{0, "at 1:2:3 then", "1:2:3"},
		{1, "a 7:8:9 b 4:5:6", "7"}, // the first match
		{4, "1:2:3", ""},            // group out of range
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d/%s", tc.idx, tc.body), func(t *testing.T) {
			got := runThrough(t, testEnv(), fmt.Sprintf(re, tc.idx), []*event.Event{eventOf(tc.body)})
			if v, ok := got[0].Attr("x"); !ok || string(v) != tc.want {
				t.Errorf("x = %q (set: %v), want %q", v, ok, tc.want)
			}
		})
	}
}

func TestRegexGroupNotInMatch(t *testing.T) {
	got := runThrough(t, testEnv(), `regex("(a)|(b)", 1, "x")`, []*event.Event{eventOf("b")})
	if v, ok := got[0].Attr("x"); !ok || len(v) != 0 {
		t.Errorf("x = %q (set: %v), want set to \"\"", v, ok)
	}
}

func TestRegexAll(t *testing.T) {
	cases := []struct {
		name, deco, body string
		want             map[string]string
	}{
		{"classic 1", `regexAll("(\\d+):(\\d+):(\\d+)", "s1", "s2", "s3")`, "123:456:789",
			map[string]string{"s1": "123", "s2": "456", "s3": "789"}},
		{"fewer names than groups", `regexAll("(\\d+):(\\d+):(\\d+)", "s1", "s2")`, "123:456:789",
			map[string]string{"s1": "123", "s2": "456"}},
		{"empty name skips its group", `regexAll("(\\d+):(\\d+):(\\d+)", "s1", "", "s2")`, "123:456:789",
			map[string]string{"s1": "123", "s2": "789"}},
		{"more names than groups", `regexAll("(\\d+)", "s1", "s2")`, "123",
			map[string]string{"s1": "123"}},
		{"group not in the match", `regexAll("(a)|(b)", "x", "y")`, "b",
			map[string]string{"y": "b"}},
		{"empty group ignored", `regexAll("(a*)(b)", "x", "y")`, "b",
			map[string]string{"y": "b"}},
		{"alternatives to one name", `regexAll("n=(\\d+)|(\\d+)=n", "num", "num")`, "7=n",
			map[string]string{"num": "7"}},
		{"no match", `regexAll("(\\d+)", "x")`, "none", map[string]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := runThrough(t, testEnv(), tc.deco, []*event.Event{eventOf(tc.body)})
			if a := attrsOf(got[0]); !maps.Equal(a, tc.want) {
				t.Errorf("attributes %v, want %v", a, tc.want)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	// Java's String.split: the expected fields are what "body".split(regex) gives.
	cases := []struct {
		regex, body string
		fields      []string
	}{
		{",", "a,b,c", []string{"a", "b", "c"}},
		{",", "a,,b,,", []string{"a", "", "b"}},
		{",", ",a", []string{"", "a"}},
		{",", "abc", []string{"abc"}},
		{",", "", []string{""}},
		{",", ",", nil},
		{" +", "GET  /index.html   200", []string{"GET", "/index.html", "200"}},
		{"", "abc", []string{"a", "b", "c"}}, // no empty first field from a zero-width match
		{"(?:)", "ab", []string{"a", "b"}},
		{"\\b", "hi there", []string{"hi", " ", "there"}},
	}
	for _, tc := range cases {
		for idx := 0; idx <= len(tc.fields); idx++ {
			want := ""
			if idx < len(tc.fields) {
				want = tc.fields[idx]
			}
			deco := fmt.Sprintf("split(%q, %d, \"f\")", tc.regex, idx)
			t.Run(deco+"/"+tc.body, func(t *testing.T) {
				got := runThrough(t, testEnv(), deco, []*event.Event{eventOf(tc.body)})
				if v, ok := got[0].Attr("f"); !ok || string(v) != want {
					t.Errorf("f = %q (set: %v), want %q", v, ok, want)
				}
			})
		}
	}
}

func TestExDate(t *testing.T) {
	all := func(prefix, day, month, year, hr, min, sec string) map[string]string {
		return map[string]string{prefix + "day": day, prefix + "month": month, prefix + "year": year,
			prefix + "hr": hr, prefix + "min": min, prefix + "sec": sec}
	}
	cases := []struct {
		name, deco, value string
		want              map[string]string // without the source attribute
	}{
		{"classic example", `exDate("d", "yyyy-MM-dd HH:mm")`, "2010-07-29 12:00",
			all("date", "29", "07", "2010", "12", "00", "00")},
		{"prefix", `exDate("d", "yyyy-MM-dd", "mydate_")`, "2010-07-09",
			all("mydate_", "09", "07", "2010", "00", "00", "00")},
		{"no padding", `exDate("d", "yyyy-MM-dd HH:mm:ss", "p", false)`, "2010-07-09 03:04:05",
			all("p", "9", "7", "2010", "3", "4", "5")},
		{"padding given as a string", `exDate("d", "dd/MMM/yyyy:HH:mm:ss", "", "true")`, "09/Jul/2010:03:04:05",
			all("", "09", "07", "2010", "03", "04", "05")},
		{"zone converted to the node's", `exDate("d", "yyyy-MM-dd'T'HH:mm:ssXXX")`, "2010-07-29T23:30:00-02:00",
			all("date", "30", "07", "2010", "01", "30", "00")},
		{"trailing text ignored", `exDate("d", "yyyy-MM-dd")`, "2010-07-29 was a Thursday",
			all("date", "29", "07", "2010", "00", "00", "00")},
		{"two-digit year", `exDate("d", "yy-MM-dd")`, "10-07-29",
			all("date", "29", "07", "2010", "00", "00", "00")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sink := &testSink{}
			d := mustBuild(t, testEnv(), tc.deco, sink)
			d.(*exDateDeco).loc = time.UTC // the node's zone, fixed for the test
			ctx := context.Background()
			if err := d.Open(ctx); err != nil {
				t.Fatal(err)
			}
			if err := appendChecked(t, d, eventOf("line", "d", tc.value)); err != nil {
				t.Fatal(err)
			}
			if err := d.Close(ctx); err != nil {
				t.Fatal(err)
			}
			got := sink.events()
			want := maps.Clone(tc.want)
			want["d"] = tc.value
			if a := attrsOf(got[0]); !maps.Equal(a, want) {
				t.Errorf("attributes %v, want %v", a, want)
			}
		})
	}
}

func TestExDatePassesUnparsedEventsOn(t *testing.T) {
	env := testEnv()
	in := []*event.Event{
		eventOf("no attribute"),
		eventOf("empty attribute", "d", ""),
		eventOf("not a date", "d", "yesterday"),
		eventOf("a date", "d", "2010-07-29"),
	}
	got := runThrough(t, env, `exDate("d", "yyyy-MM-dd")`, in)
	if len(got) != len(in) {
		t.Fatalf("got %d events, want %d", len(got), len(in))
	}
	for i := range 3 {
		if !event.Equal(got[i], in[i]) {
			t.Errorf("event %d changed: %+v, want %+v", i, got[i], in[i])
		}
	}
	if v, _ := got[3].Attr("dateyear"); string(v) != "2010" {
		t.Errorf("dateyear = %q, want 2010", v)
	}
	if n := env.Counter("exDate.missing"); n != 2 {
		t.Errorf("missing = %d, want 2", n)
	}
	if n := env.Counter("exDate.unparsed"); n != 1 {
		t.Errorf("unparsed = %d, want 1", n)
	}
}

// TestExtractedValuesSurviveSourceReuse checks that what a sink keeps does not change when
// the source reuses the memory of a delivered batch: the sink's clone copies the values.
func TestExtractedValuesSurviveSourceReuse(t *testing.T) {
	sink := &testSink{}
	d := mustBuild(t, testEnv(), `regex("id=(\\w+)", 1, "id")`, sink)
	ctx := context.Background()
	if err := d.Open(ctx); err != nil {
		t.Fatal(err)
	}
	body := []byte("id=abc")
	if err := appendChecked(t, d, &event.Event{Body: body}); err != nil {
		t.Fatal(err)
	}
	copy(body, "id=XYZ")
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _ := sink.events()[0].Attr("id"); string(v) != "abc" {
		t.Errorf("id = %q after the source reused its buffer, want abc", v)
	}
}
