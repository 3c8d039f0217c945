package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The canonical form. Parsing it gives back an equal AST (Equal ignores positions and literal
// spellings). Decorators are written by juxtaposition (`d1 d2 sink`), the 0.9.3+ form that both
// classic Flume and this parser accept, because a chain of decorators reads left to right
// instead of nesting braces; numbers are written in decimal; strings in double quotes with Java
// escapes.

// FormatNode returns the canonical text of a node definition: `name : source | sink ;`.
func FormatNode(n *NodeDef) string {
	var b strings.Builder
	writeNode(&b, n)
	return b.String()
}

// FormatNodes returns the canonical text of a spec file: one node definition per line.
func FormatNodes(nodes []*NodeDef) string {
	var b strings.Builder
	for _, n := range nodes {
		writeNode(&b, n)
		b.WriteByte('\n')
	}
	return b.String()
}

// FormatCall returns the canonical text of a call: a source, a sink, a decorator or a function.
func FormatCall(c *Call) string {
	var b strings.Builder
	writeCall(&b, c, false)
	return b.String()
}

// FormatSink returns the canonical text of a sink expression.
func FormatSink(s Sink) string {
	var b strings.Builder
	writeSink(&b, s)
	return b.String()
}

// FormatValue returns the canonical text of an argument value.
func FormatValue(v Value) string {
	var b strings.Builder
	writeValue(&b, v)
	return b.String()
}

func writeNode(b *strings.Builder, n *NodeDef) {
	b.WriteString(n.Name)
	b.WriteString(" : ")
	writeCall(b, n.Source, false)
	b.WriteString(" | ")
	writeSink(b, n.Sink)
	b.WriteString(" ;")
}

func writeCall(b *strings.Builder, c *Call, parens bool) {
	b.WriteString(c.Name)
	if len(c.Args) == 0 && len(c.Kwargs) == 0 && !parens {
		return
	}
	b.WriteByte('(')
	for i, v := range c.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		writeValue(b, v)
	}
	for i, kw := range c.Kwargs {
		if i > 0 || len(c.Args) > 0 {
			b.WriteString(", ")
		}
		b.WriteString(kw.Name)
		b.WriteByte('=')
		writeValue(b, kw.Value)
	}
	b.WriteByte(')')
}

func writeSink(b *strings.Builder, s Sink) {
	switch s := s.(type) {
	case *SinkCall:
		writeCall(b, s.Call, false)
	case *Decorated:
		writeCall(b, s.Deco, false)
		b.WriteByte(' ')
		writeSink(b, s.Sink)
	case *FanOut:
		b.WriteByte('[')
		for i, c := range s.Sinks {
			if i > 0 {
				b.WriteString(", ")
			}
			writeSink(b, c)
		}
		b.WriteByte(']')
	case *Failover:
		b.WriteString("< ")
		for i, c := range s.Sinks {
			if i > 0 {
				b.WriteString(" ? ")
			}
			writeSink(b, c)
		}
		b.WriteString(" >")
	case *Roll:
		writeCall(b, s.Args, true)
		b.WriteString(" { ")
		writeSink(b, s.Sink)
		b.WriteString(" }")
	case *Collector:
		writeCall(b, s.Args, true)
		b.WriteString(" { ")
		writeSink(b, s.Sink)
		b.WriteString(" }")
	default:
		fmt.Fprintf(b, "<unknown sink %T>", s)
	}
}

func writeValue(b *strings.Builder, v Value) {
	switch v.Kind {
	case KindString:
		writeString(b, v.Str)
	case KindInt:
		b.WriteString(strconv.FormatInt(v.Int, 10))
	case KindFloat:
		b.WriteString(formatFloat(v.Float))
	case KindBool:
		b.WriteString(strconv.FormatBool(v.Bool))
	case KindFunc:
		writeCall(b, v.Func, false)
	default:
		b.WriteString("<invalid>")
	}
}

// formatFloat writes a float so that it lexes as a float again: always with a '.' or an
// exponent.
func formatFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		// Not produced by the parser; keep it readable rather than re-parsable.
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// writeString quotes s with the Java escapes the lexer understands. Printable characters are
// written as they are; others as \b \t \n \f \r or \uXXXX (a surrogate pair above U+FFFF).
func writeString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			// Not valid UTF-8: the parser never produces this; keep the byte visible.
			fmt.Fprintf(b, `\u%04x`, s[i])
			i++
			continue
		}
		i += size
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			switch {
			case unicode.IsPrint(r):
				b.WriteRune(r)
			case r > 0xFFFF:
				r1, r2 := utf16Pair(r)
				fmt.Fprintf(b, `\u%04x\u%04x`, r1, r2)
			default:
				fmt.Fprintf(b, `\u%04x`, r)
			}
		}
	}
	b.WriteByte('"')
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xD800 + (r>>10)&0x3FF, 0xDC00 + r&0x3FF
}
