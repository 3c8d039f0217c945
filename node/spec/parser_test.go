package spec

import (
	"errors"
	"strings"
	"testing"
)

// AST builders for expected values. Positions are left zero: EqualSink ignores them.

func call(name string, args ...Value) *Call { return &Call{Name: name, Args: args} }

func withKw(c *Call, name string, v Value) *Call {
	c.Kwargs = append(c.Kwargs, Kwarg{Name: name, Value: v})
	return c
}

func str(s string) Value   { return Value{Kind: KindString, Str: s} }
func num(n int64) Value    { return Value{Kind: KindInt, Int: n} }
func flt(f float64) Value  { return Value{Kind: KindFloat, Float: f} }
func boolean(b bool) Value { return Value{Kind: KindBool, Bool: b} }
func fn(c *Call) Value     { return Value{Kind: KindFunc, Func: c} }
func plain(c *Call) Sink   { return &SinkCall{Call: c} }
func sk(name string, args ...Value) Sink {
	return plain(call(name, args...))
}
func deco(d *Call, s Sink) Sink    { return &Decorated{Deco: d, Sink: s} }
func fan(s ...Sink) Sink           { return &FanOut{Sinks: s} }
func failover(s ...Sink) Sink      { return &Failover{Sinks: s} }
func roll(args *Call, s Sink) Sink { args.Name = "roll"; return &Roll{Args: args, Sink: s} }
func coll(args *Call, s Sink) Sink { args.Name = "collector"; return &Collector{Args: args, Sink: s} }

func TestParseSinkForms(t *testing.T) {
	tests := []struct {
		name, in string
		want     Sink
		print    string
	}{
		{"bare", "console", sk("console"), "console"},
		{"empty parens", "console()", sk("console"), "console"},
		{"string arg", `text("/tmp/out")`, sk("text", str("/tmp/out")), `text("/tmp/out")`},
		{"function arg", "console(avrojson)", sk("console", fn(call("avrojson"))), "console(avrojson)"},
		{"function with args", `text("/tmp/x", avrodata("snappy", 6))`,
			sk("text", str("/tmp/x"), fn(call("avrodata", str("snappy"), num(6)))),
			`text("/tmp/x", avrodata("snappy", 6))`},
		{"keyword args", `agentE2ESink("c1", 35853, batchCount=100, compression=true)`,
			plain(withKw(withKw(call("agentE2ESink", str("c1"), num(35853)), "batchCount", num(100)), "compression", boolean(true))),
			`agentE2ESink("c1", 35853, batchCount=100, compression=true)`},
		{"keyword args only", "thriftSink(port=35853)",
			plain(withKw(call("thriftSink"), "port", num(35853))), "thriftSink(port=35853)"},
		{"juxtaposition", "batch(10) gzip console",
			deco(call("batch", num(10)), deco(call("gzip"), sk("console"))), "batch(10) gzip console"},
		{"braces", "{ batch(10) => console }",
			deco(call("batch", num(10)), sk("console")), "batch(10) console"},
		{"nested braces", "{ gzip => { batch(10) => null } }",
			deco(call("gzip"), deco(call("batch", num(10)), sk("null"))), "gzip batch(10) null"},
		{"braces around juxtaposition", "{ gzip => batch(10) null }",
			deco(call("gzip"), deco(call("batch", num(10)), sk("null"))), "gzip batch(10) null"},
		{"juxtaposition before braces", "gzip { batch(10) => null }",
			deco(call("gzip"), deco(call("batch", num(10)), sk("null"))), "gzip batch(10) null"},
		{"fan-out of one", "[console]", fan(sk("console")), "[console]"},
		{"fan-out", `[console, text("/tmp/x"), null]`,
			fan(sk("console"), sk("text", str("/tmp/x")), sk("null")), `[console, text("/tmp/x"), null]`},
		{"decorated fan-out", "batch(10) [console, gzip null]",
			deco(call("batch", num(10)), fan(sk("console"), deco(call("gzip"), sk("null")))),
			"batch(10) [console, gzip null]"},
		{"nested fan-out", "[[a, b], [c]]", fan(fan(sk("a"), sk("b")), fan(sk("c"))), "[[a, b], [c]]"},
		{"failover", "< a ? b >", failover(sk("a"), sk("b")), "< a ? b >"},
		{"failover of three is flat", "<a?b?c>", failover(sk("a"), sk("b"), sk("c")), "< a ? b ? c >"},
		{"nested failover", "< a ? < b ? c > >",
			failover(sk("a"), failover(sk("b"), sk("c"))), "< a ? < b ? c > >"},
		{"failover of decorated sinks", "< lazyOpen a ? { stubbornAppend => b } >",
			failover(deco(call("lazyOpen"), sk("a")), deco(call("stubbornAppend"), sk("b"))),
			"< lazyOpen a ? stubbornAppend b >"},
		{"decorated failover", "gzip < a ? null >",
			deco(call("gzip"), failover(sk("a"), sk("null"))), "gzip < a ? null >"},
		{"roll", `roll(1000) { text("/tmp/x") }`,
			roll(call("", num(1000)), sk("text", str("/tmp/x"))), `roll(1000) { text("/tmp/x") }`},
		{"roll with trigger", `roll(1000, 250, trigger=size(4096)) { null }`,
			roll(withKw(call("", num(1000), num(250)), "trigger", fn(call("size", num(4096)))), sk("null")),
			`roll(1000, 250, trigger=size(4096)) { null }`},
		{"roll with empty args", "roll() { null }", roll(call(""), sk("null")), "roll() { null }"},
		{"decorated roll", `value("a", "b") roll(100) { null }`,
			deco(call("value", str("a"), str("b")), roll(call("", num(100)), sk("null"))),
			`value("a", "b") roll(100) { null }`},
		{"collector", "collector(30000) { [a, b] }",
			coll(call("", num(30000)), fan(sk("a"), sk("b"))), "collector(30000) { [a, b] }"},
		{"collector without args", "collector { null }", coll(call(""), sk("null")), "collector() { null }"},
		{"collector with empty args", "collector() { null }", coll(call(""), sk("null")), "collector() { null }"},
		{"roll inside collector", "collector(1000) { roll(10) { null } }",
			coll(call("", num(1000)), roll(call("", num(10)), sk("null"))),
			"collector(1000) { roll(10) { null } }"},
		{"identifier characters", "a.b-c_d9 x", deco(call("a.b-c_d9"), sk("x")), "a.b-c_d9 x"},
		{"comments and white space", "/* c */ batch ( 10 , // x\n 20 )\t\r\n\f[ a ]",
			deco(call("batch", num(10), num(20)), fan(sk("a"))), "batch(10, 20) [a]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSink(tc.in)
			if err != nil {
				t.Fatalf("ParseSink(%q): %v", tc.in, err)
			}
			if !EqualSink(got, tc.want) {
				t.Errorf("ParseSink(%q) = %s, want %s", tc.in, FormatSink(got), FormatSink(tc.want))
			}
			if p := FormatSink(got); p != tc.print {
				t.Errorf("FormatSink = %q, want %q", p, tc.print)
			}
			again, err := ParseSink(tc.print)
			if err != nil || !EqualSink(again, got) {
				t.Errorf("canonical form %q does not parse back equal: %v", tc.print, err)
			}
		})
	}
}

func TestParseNodes(t *testing.T) {
	in := `
// an agent and its collector
agent1 : tail("/var/log/app.log", startFromEnd=true) | agentE2ESink("collector1", 35853) ;
10.0.0.7: syslogTcp(5140) | { value("dc", "east") => collectorSink("/var/flume/%{host}/", "log-") };
/* end */`
	got, err := ParseNodes(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []*NodeDef{
		{Name: "agent1",
			Source: withKw(call("tail", str("/var/log/app.log")), "startFromEnd", boolean(true)),
			Sink:   sk("agentE2ESink", str("collector1"), num(35853))},
		{Name: "10.0.0.7", Source: call("syslogTcp", num(5140)),
			Sink: deco(call("value", str("dc"), str("east")),
				sk("collectorSink", str("/var/flume/%{host}/"), str("log-")))},
	}
	if !EqualNodes(got, want) {
		t.Errorf("ParseNodes = %s\nwant %s", FormatNodes(got), FormatNodes(want))
	}
	const canonical = `agent1 : tail("/var/log/app.log", startFromEnd=true) | agentE2ESink("collector1", 35853) ;
10.0.0.7 : syslogTcp(5140) | value("dc", "east") collectorSink("/var/flume/%{host}/", "log-") ;
`
	if p := FormatNodes(got); p != canonical {
		t.Errorf("FormatNodes =\n%s\nwant\n%s", p, canonical)
	}
}

func TestParseNodesEmpty(t *testing.T) {
	for _, in := range []string{"", "  \n\t", "// only a comment", "/* a */ /* b */\n"} {
		nodes, err := ParseNodes(in)
		if err != nil || len(nodes) != 0 {
			t.Errorf("ParseNodes(%q) = %v, %v; want no nodes, no error", in, nodes, err)
		}
	}
}

func TestParseSource(t *testing.T) {
	tests := []struct {
		in   string
		want *Call
	}{
		{"null", call("null")},
		{`tail("/var/log/x")`, call("tail", str("/var/log/x"))},
		{`tail("/var/log/x", delim="\n\n", delimMode="exclude")`,
			withKw(withKw(call("tail", str("/var/log/x")), "delim", str("\n\n")), "delimMode", str("exclude"))},
		{"  asciisynth(100, 50) // test data\n", call("asciisynth", num(100), num(50))},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSource(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !EqualCall(got, tc.want) {
				t.Errorf("ParseSource(%q) = %s, want %s", tc.in, FormatCall(got), FormatCall(tc.want))
			}
		})
	}
}

func TestParseAloneErrors(t *testing.T) {
	tests := []struct {
		name string
		f    func(string) error
		in   string
		want string
	}{
		{"source then more", func(s string) error { _, err := ParseSource(s); return err },
			"tail(\"x\") | console", `1:11: expected end of input after source, found '|'`},
		{"source reserved", func(s string) error { _, err := ParseSource(s); return err },
			"collector", `1:1: expected source name, found reserved word 'collector'`},
		{"empty source", func(s string) error { _, err := ParseSource(s); return err },
			"", `1:1: expected source name, found end of input`},
		{"sink then more", func(s string) error { _, err := ParseSink(s); return err },
			"console ;", `1:9: expected end of input after sink, found ';'`},
		{"sink with lexical error", func(s string) error { _, err := ParseSink(s); return err },
			"text(\"a\\x\")", `1:8: unknown escape sequence \x`},
		{"empty sink", func(s string) error { _, err := ParseSink(s); return err },
			"/* nothing */", `1:14: expected sink, found end of input`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f(tc.in)
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *spec.Error", err, err)
			}
			if err.Error() != tc.want {
				t.Errorf("error = %q, want %q", err, tc.want)
			}
		})
	}
}

func TestPositions(t *testing.T) {
	// Columns count characters: the two CJK characters before y are one column each.
	in := "a : x(\"日本\", y=1) |\n\t[ c , d e ] ;\nb:s|<f?g>;"
	nodes, err := ParseNodes(in)
	if err != nil {
		t.Fatal(err)
	}
	a, b := nodes[0], nodes[1]
	fo := a.Sink.(*FanOut)
	dd := fo.Sinks[1].(*Decorated)
	fv := b.Sink.(*Failover)
	checks := []struct {
		what string
		got  Pos
		want Pos
	}{
		{"node a", a.Pos, Pos{1, 1}},
		{"source x", a.Source.Pos, Pos{1, 5}},
		{"string", a.Source.Args[0].Pos, Pos{1, 7}},
		{"kwarg y", a.Source.Kwargs[0].Pos, Pos{1, 13}},
		{"kwarg value", a.Source.Kwargs[0].Value.Pos, Pos{1, 15}},
		{"fan-out", fo.Pos, Pos{2, 2}},
		{"sink c", fo.Sinks[0].Position(), Pos{2, 4}},
		{"decorator d", dd.Pos, Pos{2, 8}},
		{"decorated e", dd.Sink.Position(), Pos{2, 10}},
		{"node b", b.Pos, Pos{3, 1}},
		{"failover", fv.Pos, Pos{3, 5}},
		{"alternative g", fv.Sinks[1].Position(), Pos{3, 8}},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s at %v, want %v", c.what, c.got, c.want)
		}
	}
	if txt := a.Source.Args[0].Text; txt != `"日本"` {
		t.Errorf("string Text = %q, want the literal as written", txt)
	}
}

func TestSinkPositions(t *testing.T) {
	s, err := ParseSink("{ a => b }\n")
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Position(); p != (Pos{1, 1}) {
		t.Errorf("braced decorator at %v, want 1:1", p)
	}
	s, err = ParseSink("  roll(1) { x }")
	if err != nil {
		t.Fatal(err)
	}
	r := s.(*Roll)
	if r.Pos != (Pos{1, 3}) || r.Args.Pos != (Pos{1, 3}) {
		t.Errorf("roll at %v, args at %v, want 1:3", r.Pos, r.Args.Pos)
	}
	s, err = ParseSink("collector { x }")
	if err != nil {
		t.Fatal(err)
	}
	if c := s.(*Collector); c.Pos != (Pos{1, 1}) || c.Args.Pos != (Pos{1, 1}) {
		t.Errorf("collector at %v, args at %v, want 1:1", c.Pos, c.Args.Pos)
	}
}

func TestParseNodesRecovers(t *testing.T) {
	in := `good1 : null | null ;
bad1 : tail("x" | null ;
good2 : null | console ;
bad2 : null | [a, ;
bad3 : null | text(08) ;
good3 : null | null ;`
	nodes, err := ParseNodes(in)
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	if strings.Join(names, " ") != "good1 good2 good3" {
		t.Errorf("nodes parsed around the errors = %v, want good1 good2 good3", names)
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error %v (%T) is not an ErrorList", err, err)
	}
	want := []string{
		`2:17: expected ')' after argument list, found '|'`,
		`4:19: expected sink, found ';'`,
		`5:20: invalid octal literal 08`,
	}
	if len(list) != len(want) {
		t.Fatalf("got %d errors:\n%v\nwant %d", len(list), err, len(want))
	}
	for i, e := range list {
		if e.Error() != want[i] {
			t.Errorf("error %d = %q, want %q", i, e.Error(), want[i])
		}
	}
}

func TestParseNodesTooManyErrors(t *testing.T) {
	in := strings.Repeat("x ;\n", maxErrors+5)
	_, err := ParseNodes(in)
	list := Errors(err)
	if len(list) != maxErrors+1 {
		t.Fatalf("got %d errors, want %d", len(list), maxErrors+1)
	}
	if last := list[maxErrors]; last.Error() != "21:3: too many errors" {
		t.Errorf("last error = %q, want too many errors at the next error", last)
	}
}

func TestNestingLimit(t *testing.T) {
	tests := []struct {
		name    string
		in      func(n int) string
		okDepth int // a depth that parses
	}{
		{"fan-out", func(n int) string { return strings.Repeat("[", n) + "x" + strings.Repeat("]", n) }, maxDepth - 1},
		{"braces", func(n int) string { return strings.Repeat("{ d => ", n) + "x" + strings.Repeat(" }", n) }, maxDepth - 1},
		{"juxtaposition", func(n int) string { return strings.Repeat("d ", n) + "x" }, maxDepth - 1},
		{"failover", func(n int) string { return strings.Repeat("< a ? ", n) + "x" + strings.Repeat(" >", n) }, maxDepth - 1},
		{"functions", func(n int) string { return "x(" + strings.Repeat("f(", n) + strings.Repeat(")", n) + ")" }, maxDepth - 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSink(tc.in(tc.okDepth))
			if err != nil {
				t.Fatalf("depth %d: %v", tc.okDepth, err)
			}
			if _, err := ParseSink(FormatSink(s)); err != nil {
				t.Errorf("canonical form of depth %d: %v", tc.okDepth, err)
			}
			_, err = ParseSink(tc.in(100000))
			if err == nil || !strings.Contains(err.Error(), "nesting too deep (more than 200 levels)") {
				t.Errorf("depth 100000: error %v, want nesting too deep", err)
			}
		})
	}
}
