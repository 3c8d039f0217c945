package spec

import (
	"math"
	"testing"
)

func mustSink(t *testing.T, s string) Sink {
	t.Helper()
	sink, err := ParseSink(s)
	if err != nil {
		t.Fatalf("ParseSink(%q): %v", s, err)
	}
	return sink
}

func TestEqualSinkIgnoresPositionsAndSpelling(t *testing.T) {
	pairs := [][2]string{
		{"console", " console ( ) "},
		{"x(16, 8, 1.5, 100.0)", "x(0x10, 010, 1.5f, 1e2)"},
		{`x("A\n")`, `x("\101\u000a")`},
		{"{ a => b }", "a\nb"},
		{"< a ? b ? c >", "<a?b?c>"},
		{"collector { x }", "collector() { x }"},
		{"x(avrojson)", "x(avrojson())"},
	}
	for _, p := range pairs {
		t.Run(p[0], func(t *testing.T) {
			if !EqualSink(mustSink(t, p[0]), mustSink(t, p[1])) {
				t.Errorf("%q and %q are not equal", p[0], p[1])
			}
		})
	}
}

func TestEqualSinkDifferences(t *testing.T) {
	pairs := [][2]string{
		{"console", "Console"},
		{"x(1)", "x(2)"},
		{"x(1)", "x(1.0)"},
		{`x(1)`, `x("1")`},
		{"x(true)", "x(false)"},
		{`x("a")`, `x("b")`},
		{"x(a)", "x(b)"},
		{"x(a)", "x(a(1))"},
		{"x(1)", "x(1, 2)"},
		{"x(a=1)", "x(b=1)"},
		{"x(a=1, b=2)", "x(b=2, a=1)"},
		{"x(a=1)", "x(a=2)"},
		{"x(1)", "x(a=1)"},
		{"[a, b]", "[a]"},
		{"[a, b]", "< a ? b >"},
		{"< a ? b >", "< b ? a >"},
		{"d a", "[a]"},
		{"d a", "e a"},
		{"d a", "d b"},
		{"roll(1) { a }", "collector(1) { a }"},
		{"roll(1) { a }", "roll(2) { a }"},
		{"roll(1) { a }", "roll(1) { b }"},
		{"collector(1) { a }", "collector(1) { b }"},
		{"a", "[a]"},
	}
	for _, p := range pairs {
		t.Run(p[0]+" vs "+p[1], func(t *testing.T) {
			a, b := mustSink(t, p[0]), mustSink(t, p[1])
			if EqualSink(a, b) || EqualSink(b, a) {
				t.Errorf("%q and %q are equal", p[0], p[1])
			}
		})
	}
}

func TestEqualNil(t *testing.T) {
	if !EqualSink(nil, nil) || EqualSink(nil, mustSink(t, "a")) || EqualSink(mustSink(t, "a"), nil) {
		t.Error("EqualSink with nil")
	}
	if !EqualCall(nil, nil) || EqualCall(nil, call("a")) || EqualCall(call("a"), nil) {
		t.Error("EqualCall with nil")
	}
	if !EqualNodes(nil, []*NodeDef{}) {
		t.Error("EqualNodes(nil, empty) is false")
	}
}

func TestEqualNodes(t *testing.T) {
	a, err := ParseNodes("n1 : null | console ; n2 : null | null ;")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseNodes("n1:null|console;\n\nn2:null|null;")
	if err != nil {
		t.Fatal(err)
	}
	if !EqualNodes(a, b) {
		t.Error("same nodes differently spaced are not equal")
	}
	for _, other := range []string{
		"n1 : null | console ;",
		"n2 : null | null ; n1 : null | console ;",
		"n1 : null | console ; n3 : null | null ;",
		"n1 : null | console ; n2 : text(\"x\") | null ;",
		"n1 : null | console ; n2 : null | console ;",
	} {
		c, err := ParseNodes(other)
		if err != nil {
			t.Fatal(err)
		}
		if EqualNodes(a, c) {
			t.Errorf("%q equals %q", FormatNodes(a), other)
		}
	}
}

func TestEqualValueNaN(t *testing.T) {
	// The parser never makes a NaN, but a built AST may: it equals itself.
	if !equalValue(flt(math.NaN()), flt(math.NaN())) {
		t.Error("NaN float value does not equal itself")
	}
}
