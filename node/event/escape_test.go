package event

import (
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	// 2011-03-04 05:06:07.089 UTC, a Friday, day 63 of the year.
	ts := time.Date(2011, 3, 4, 5, 6, 7, 89_000_000, time.UTC)
	e := &Event{Body: []byte("hello"), Timestamp: ts.UnixNano(), Priority: WARN, Host: "web1"}
	_ = e.SetAttr("rolltag", []byte("r1"))
	_ = e.SetAttr("scribe.category", []byte("cat"))
	tests := []struct{ pattern, want string }{
		{"plain", "plain"},
		{"", ""},
		{"%Y-%m-%d/%H00", "2011-03-04/0500"},
		{"%{host}-%{rolltag}", "web1-r1"},
		{"%{hostname}", "web1"},
		{"%{scribe.category}", "cat"},
		{"%{missing}x", "x"},
		{"%{priority} %{body}", "WARN hello"},
		{"100%%", "100%"},
		{"%t", "1299215167089"},
		{"%s", "1299215167"},
		{"%a %A %b %B", "Fri Friday Mar March"},
		{"%c", "Fri Mar 4 05:06:07 2011"},
		{"%D %e %n", "03/04/11 4 3"},
		{"%I %l %k %p", "05 5 5 AM"},
		{"%M:%S %y %j %z", "06:07 11 063 +0000"},
		{"%q", ""},     // unknown escape expands to nothing
		{"50%", "50%"}, // trailing '%' is kept
		{"%{}", "%{}"}, // empty name is not an escape
		{"%{a b}", "%{a b}"},
		{"%-x", "%-x"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			got := CompileTemplate(tt.pattern).In(time.UTC).Expand(e)
			if got != tt.want {
				t.Fatalf("expand %q = %q, want %q", tt.pattern, got, tt.want)
			}
		})
	}
}

func TestTemplateFlags(t *testing.T) {
	if !CompileTemplate("/var/log/x").IsLiteral() {
		t.Fatal("literal path not reported literal")
	}
	if CompileTemplate("/x/%{host}").IsLiteral() {
		t.Fatal("host escape reported literal")
	}
	if !CompileTemplate("/x/%Y").UsesTime() || CompileTemplate("/x/%{host}").UsesTime() {
		t.Fatal("UsesTime wrong")
	}
}

func BenchmarkTemplateAppend(b *testing.B) {
	tpl := CompileTemplate("/data/%Y-%m-%d/%H00/%{host}-")
	e := New([]byte("x"))
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = tpl.AppendTo(buf[:0], e)
	}
}
