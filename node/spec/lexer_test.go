package spec

import (
	"testing"
)

// parseArg parses `x(lit)` and returns the one argument.
func parseArg(t *testing.T, lit string) Value {
	t.Helper()
	c, err := ParseSource("x(" + lit + ")")
	if err != nil {
		t.Fatalf("parse %s: %v", lit, err)
	}
	if len(c.Args) != 1 {
		t.Fatalf("parse %s: %d arguments, want 1", lit, len(c.Args))
	}
	return c.Args[0]
}

func TestLiterals(t *testing.T) {
	tests := []struct {
		in    string
		want  Value
		print string
	}{
		{"0", num(0), "0"},
		{"7", num(7), "7"},
		{"1234", num(1234), "1234"},
		{"9223372036854775807", num(9223372036854775807), "9223372036854775807"},
		{"0x1F", num(31), "31"},
		{"0X1f", num(31), "31"},
		{"0x7fffffffffffffff", num(9223372036854775807), "9223372036854775807"},
		{"017", num(15), "15"},
		{"00", num(0), "0"},
		{"0777777777777777777777", num(9223372036854775807), "9223372036854775807"},
		{"1.5", flt(1.5), "1.5"},
		{".5", flt(0.5), "0.5"},
		{"1.", flt(1), "1.0"},
		{"1.e2", flt(100), "100.0"},
		{"1e3", flt(1000), "1000.0"},
		{"1E3", flt(1000), "1000.0"},
		{"1e+3", flt(1000), "1000.0"},
		{"2.5E-3", flt(0.0025), "0.0025"},
		{"1.5f", flt(1.5), "1.5"},
		{"1.5F", flt(1.5), "1.5"},
		{"2d", flt(2), "2.0"},
		{"2D", flt(2), "2.0"},
		{"08.5", flt(8.5), "8.5"},
		{"09f", flt(9), "9.0"},
		{"1e21", flt(1e21), "1e+21"},
		{"1e-400", flt(0), "0.0"},
		{"true", boolean(true), "true"},
		{"false", boolean(false), "false"},
		{`""`, str(""), `""`},
		{`"abc"`, str("abc"), `"abc"`},
		{`"a\bb\tc\nd\fe\rf"`, str("a\bb\tc\nd\fe\rf"), `"a\bb\tc\nd\fe\rf"`},
		{`"q\"s\'b\\"`, str(`q"s'b\`), `"q\"s'b\\"`},
		{`"\u00e9\u00E9"`, str("éé"), `"éé"`},
		{`"\uD83D\uDE00"`, str("😀"), `"😀"`},
		{`"\ud83d\ude00!"`, str("😀!"), `"😀!"`},
		{`"\0\7\77\101\377"`, str("\x00\a?Aÿ"), `"\u0000\u0007?Aÿ"`},
		{`"\400"`, str(" 0"), `" 0"`},
		{`"\477"`, str("'7"), `"'7"`},
		{`"\08"`, str("\x008"), `"\u00008"`},
		{`"héllo wörld 日本 😀"`, str("héllo wörld 日本 😀"), `"héllo wörld 日本 😀"`},
		{"\"tab\tinside\"", str("tab\tinside"), `"tab\tinside"`},
		{`"\u2028\u00a0"`, str("\u2028\u00a0"), `"\u2028\u00a0"`},
		{`"\udb40\udc01"`, str("\U000E0001"), `"\udb40\udc01"`},
		{`"/* not a comment */ // nor this"`, str("/* not a comment */ // nor this"), `"/* not a comment */ // nor this"`},
		{"avrojson", fn(call("avrojson")), "avrojson"},
		{"avrojson()", fn(call("avrojson")), "avrojson"},
		{"size(1000)", fn(call("size", num(1000))), "size(1000)"},
		{`f(g(h(1)), k=v("x"))`, fn(withKw(call("f", fn(call("g", fn(call("h", num(1)))))), "k", fn(call("v", str("x"))))),
			`f(g(h(1)), k=v("x"))`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			v := parseArg(t, tc.in)
			if !equalValue(v, tc.want) {
				t.Errorf("value = %s (%s), want %s (%s)", FormatValue(v), v.Kind, FormatValue(tc.want), tc.want.Kind)
			}
			if v.Text != tc.in {
				t.Errorf("Text = %q, want the literal as written %q", v.Text, tc.in)
			}
			if p := FormatValue(v); p != tc.print {
				t.Errorf("FormatValue = %q, want %q", p, tc.print)
			}
			if again := parseArg(t, tc.print); !equalValue(again, v) {
				t.Errorf("canonical %s parses as %s", tc.print, FormatValue(again))
			}
		})
	}
}

func TestLexErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"invalid octal", "x(08)", "1:3: invalid octal literal 08"},
		{"invalid octal 9", "x(0129)", "1:3: invalid octal literal 0129"},
		{"decimal overflow", "x(9223372036854775808)", "1:3: integer literal 9223372036854775808 out of range"},
		{"hex overflow", "x(0x8000000000000000)", "1:3: integer literal 0x8000000000000000 out of range"},
		{"octal overflow", "x(01000000000000000000000)", "1:3: integer literal 01000000000000000000000 out of range"},
		{"float overflow", "x(1e309)", "1:3: float literal 1e309 out of range"},
		{"unit suffix", "x(10s)", "1:3: invalid number literal 10s"},
		{"two dots", "x(1.2.3)", "1:3: invalid number literal 1.2.3"},
		{"exponent without digits", "x(1e+)", "1:3: invalid number literal 1e+"},
		{"underscore", "x(1_000)", "1:3: invalid number literal 1_000"},
		{"empty hex", "x(0x)", "1:3: invalid hex literal 0x"},
		{"bad hex digit", "x(0x1g)", "1:3: invalid hex literal 0x1g"},
		{"long number clipped", "x(1234567890123456789012345678901234567890x)",
			"1:3: invalid number literal 12345678901234567890123456789012..."},
		{"IP out of range", "x(10.0.0.256)", "1:3: invalid IPv4 address 10.0.0.256"},
		{"IP leading zero", "x(10.0.0.01)", "1:3: invalid IPv4 address 10.0.0.01"},
		{"IP as argument", "x(10.0.0.1)", "1:3: expected argument, found IP address 10.0.0.1"},
		{"unknown escape", `x("a\qb")`, `1:5: unknown escape sequence \q`},
		{"unknown escape non-ASCII", `x("\é")`, `1:4: unknown escape sequence \é`},
		{"unknown escape control", "x(\"\\\x01\")", `1:4: unknown escape sequence \U+0001`},
		{"short unicode escape", `x("\u12")`, `1:4: invalid Unicode escape: want 4 hex digits after \u`},
		{"bad unicode escape", `x("\u12G4")`, `1:4: invalid Unicode escape: want 4 hex digits after \u`},
		{"lone high surrogate", `x("\uD800")`, `1:4: unpaired surrogate \uD800 in Unicode escape`},
		{"high surrogate then text", `x("\uD800ab")`, `1:4: unpaired surrogate \uD800 in Unicode escape`},
		{"two high surrogates", `x("\uD800\uD800")`, `1:4: unpaired surrogate \uD800 in Unicode escape`},
		{"lone low surrogate", `x("ab\uDC00")`, `1:6: unpaired surrogate \uDC00 in Unicode escape`},
		{"unterminated string", `x("abc`, `1:3: unterminated string literal`},
		{"unterminated after backslash", `x("abc\`, `1:3: unterminated string literal`},
		{"newline in string", "x(\"ab\ncd\")", `1:6: newline in string literal`},
		{"carriage return in string", "x(\"ab\r\ncd\")", `1:6: newline in string literal`},
		{"backslash newline", "x(\"ab\\\ncd\")", `1:7: newline in string literal`},
		{"first string error wins", `x("\q\u")`, `1:4: unknown escape sequence \q`},
		{"unterminated comment", "x /* abc", "1:3: unterminated comment"},
		{"invalid UTF-8", "x(\xff)", "1:3: invalid UTF-8 encoding"},
		{"invalid UTF-8 in string", "x(\"ab\xc3(\")", "1:6: invalid UTF-8 encoding"},
		{"invalid UTF-8 after backslash", "x(\"a\\\xff\")", "1:6: invalid UTF-8 encoding"},
		{"invalid UTF-8 in block comment", "x /* é\xff */ y", "1:7: invalid UTF-8 encoding"},
		{"invalid UTF-8 in line comment", "x // \xff\n", "1:6: invalid UTF-8 encoding"},
		{"unexpected character", "x(@)", "1:3: unexpected character '@'"},
		{"unexpected non-ASCII", "x(é)", "1:3: unexpected character 'é'"},
		{"no-break space", "x(\u00a01)", "1:3: unexpected character U+00A0"},
		{"lone dot", "x(.)", "1:3: unexpected character '.'"},
		{"minus", "x(-1)", "1:3: unexpected character '-'"},
		{"single slash", "x(/)", "1:3: unexpected character '/'"},
		{"columns count runes", "x(\"日本\", 08)", "1:9: invalid octal literal 08"},
		{"lines", "x(\n\n  08)", "3:3: invalid octal literal 08"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSource(tc.in)
			if err == nil {
				t.Fatalf("ParseSource(%q) succeeded, want %q", tc.in, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("ParseSource(%q) error\n got %q\nwant %q", tc.in, err, tc.want)
			}
		})
	}
}

// TestLexerResumes checks that the lexer goes on after an error, token by token, so that the
// parser can recover at the next ';'.
func TestLexerResumes(t *testing.T) {
	l := newLexer("08 \"a\\q\" b /*")
	var kinds []tokKind
	for {
		tok := l.next()
		kinds = append(kinds, tok.kind)
		if tok.kind == tEOF || len(kinds) > 10 {
			break
		}
	}
	want := []tokKind{tError, tError, tIdent, tError, tEOF}
	if len(kinds) != len(want) {
		t.Fatalf("token kinds %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("token kinds %v, want %v", kinds, want)
		}
	}
}

func TestReservedWords(t *testing.T) {
	tests := []struct{ in, want string }{
		{": null | null ;", "1:1: expected node name, found ':'"},
		{"a : true | null ;", "1:5: expected source name, found reserved word 'true'"},
		{"a : null | false ;", "1:12: expected sink, found reserved word 'false'"},
		{"a : null | { collector => null } ;", "1:14: expected decorator name, found reserved word 'collector'"},
		{"a : null | x(roll) ;", "1:14: expected argument, found reserved word 'roll'"},
		{"a : null | x(a=collector) ;", "1:16: expected value after '=', found reserved word 'collector'"},
		{"a : null | x(false=1) ;", "1:14: expected keyword argument name, found reserved word 'false'"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseNodes(tc.in)
			if err == nil || err.Error() != tc.want {
				t.Errorf("ParseNodes(%q) error %v, want %q", tc.in, err, tc.want)
			}
		})
	}
	// Before the colon a reserved word is a node name: the classic walkthrough names its
	// collector "collector".
	for _, name := range []string{"collector", "roll", "true", "false"} {
		nodes, err := ParseNodes(name + " : collectorSource(35853) | null ;")
		if err != nil || len(nodes) != 1 || nodes[0].Name != name {
			t.Errorf("ParseNodes with node name %q: %v, %v", name, nodes, err)
		}
	}
	// Reserved words are whole words and case-sensitive: these are identifiers.
	for _, in := range []string{"Roll", "rolling", "roll.x", "collector-1", "TRUE", "falsey"} {
		if _, err := ParseSource(in); err != nil {
			t.Errorf("ParseSource(%q): %v, want an identifier", in, err)
		}
	}
}
