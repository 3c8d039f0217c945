package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind uint8

// The tokens of the language. Reserved words have kinds of their own so that the parser never
// mistakes them for identifiers.
const (
	tEOF   tokKind = iota
	tError         // a lexical error; token.str holds the message, token.pos its place
	tIdent
	tIP // an IPv4 literal, only valid as a node name
	tString
	tInt
	tFloat
	tTrue
	tFalse
	tRoll
	tCollector
	tLParen
	tRParen
	tComma
	tEq
	tArrow // =>
	tColon
	tPipe
	tSemi
	tLBrack
	tRBrack
	tLBrace
	tRBrace
	tLt
	tGt
	tQuest
)

// punctText spells the punctuation tokens, for error messages.
var punctText = [...]string{
	tLParen: "(", tRParen: ")", tComma: ",", tEq: "=", tArrow: "=>", tColon: ":", tPipe: "|",
	tSemi: ";", tLBrack: "[", tRBrack: "]", tLBrace: "{", tRBrace: "}", tLt: "<", tGt: ">",
	tQuest: "?",
}

// punctKind maps the first byte of a punctuation token to its kind ('=' may start "=>"); tEOF
// marks the bytes that start none.
var punctKind = [256]tokKind{
	'(': tLParen, ')': tRParen, ',': tComma, '=': tEq, ':': tColon, '|': tPipe, ';': tSemi,
	'[': tLBrack, ']': tRBrack, '{': tLBrace, '}': tRBrace, '<': tLt, '>': tGt, '?': tQuest,
}

// reserved maps the reserved words to their token kinds. They cannot be identifiers.
var reserved = map[string]tokKind{
	"true": tTrue, "false": tFalse, "roll": tRoll, "collector": tCollector,
}

// token is one lexical token. text is the token as written; for tString, str is the decoded
// string and for tError the message; num and flt hold the value of tInt and tFloat.
type token struct {
	kind     tokKind
	pos      Pos
	off, end int // byte offsets of the token in the source
	text     string
	str      string
	num      int64
	flt      float64
}

// lexer turns spec text into tokens. It never stops at an error: it returns a tError token
// and goes on after the bad lexeme, so the parser can recover and report further errors.
type lexer struct {
	src       string
	off       int
	line, col int
}

func newLexer(src string) lexer {
	return lexer{src: src, line: 1, col: 1}
}

func (l *lexer) pos() Pos { return Pos{Line: l.line, Col: l.col} }

// advance consumes one character and keeps the line and column up to date. Columns count
// runes; an invalid byte counts as one column.
func (l *lexer) advance() {
	c := l.src[l.off]
	if c < utf8.RuneSelf {
		l.off++
		if c == '\n' {
			l.line++
			l.col = 1
		} else {
			l.col++
		}
		return
	}
	_, size := utf8.DecodeRuneInString(l.src[l.off:])
	l.off += size
	l.col++
}

// advanceASCII consumes n bytes known to be ASCII and not newlines.
func (l *lexer) advanceASCII(n int) {
	l.off += n
	l.col += n
}

func (l *lexer) errTok(pos Pos, off int, format string, args ...any) token {
	return token{kind: tError, pos: pos, off: off, end: l.off, str: fmt.Sprintf(format, args...)}
}

// next returns the next token. At the end of the input it returns tEOF, repeatedly.
func (l *lexer) next() token {
	if t, bad := l.skipSpace(); bad {
		return t
	}
	start, pos := l.off, l.pos()
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: pos, off: start, end: start}
	}
	c := l.src[l.off]
	switch {
	case isLetter(c):
		return l.ident(start, pos)
	case isDigit(c) || c == '.' && l.off+1 < len(l.src) && isDigit(l.src[l.off+1]):
		return l.number(start, pos)
	case c == '"':
		return l.string(start, pos)
	}
	kind := punctKind[c]
	if kind == tEq && strings.HasPrefix(l.src[l.off:], "=>") {
		kind = tArrow
		l.advanceASCII(1)
	}
	if kind != tEOF {
		l.advanceASCII(1)
		return token{kind: kind, pos: pos, off: start, end: l.off, text: l.src[start:l.off]}
	}
	r, size := utf8.DecodeRuneInString(l.src[l.off:])
	l.advance()
	if r == utf8.RuneError && size == 1 {
		return l.errTok(pos, start, "invalid UTF-8 encoding")
	}
	return l.errTok(pos, start, "unexpected character %s", quoteRune(r))
}

// skipSpace skips white space and comments. It returns an error token for an unterminated
// block comment or invalid UTF-8 inside a comment.
func (l *lexer) skipSpace() (token, bool) {
	for l.off < len(l.src) {
		switch c := l.src[l.off]; c {
		case ' ', '\t', '\n', '\r', '\f':
			l.advance()
		case '/':
			if l.off+1 >= len(l.src) {
				return token{}, false
			}
			switch l.src[l.off+1] {
			case '/':
				if t, bad := l.comment(false); bad {
					return t, true
				}
			case '*':
				if t, bad := l.comment(true); bad {
					return t, true
				}
			default:
				return token{}, false
			}
		default:
			return token{}, false
		}
	}
	return token{}, false
}

// comment skips a comment starting at l.off: a block comment up to "*/", or a line comment up
// to the end of the line. The text must be valid UTF-8 like the rest of the input.
func (l *lexer) comment(block bool) (token, bool) {
	start, pos := l.off, l.pos()
	l.advanceASCII(2)
	for l.off < len(l.src) {
		c := l.src[l.off]
		if block && c == '*' && l.off+1 < len(l.src) && l.src[l.off+1] == '/' {
			l.advanceASCII(2)
			return token{}, false
		}
		if !block && c == '\n' {
			return token{}, false
		}
		if c >= utf8.RuneSelf {
			if r, size := utf8.DecodeRuneInString(l.src[l.off:]); r == utf8.RuneError && size == 1 {
				bad := l.pos()
				l.skipBadComment(block)
				return l.errTok(bad, start, "invalid UTF-8 encoding"), true
			}
		}
		l.advance()
	}
	if block {
		return l.errTok(pos, start, "unterminated comment"), true
	}
	return token{}, false
}

// skipBadComment moves past the rest of a comment that holds invalid UTF-8, so that lexing
// resumes after it.
func (l *lexer) skipBadComment(block bool) {
	for l.off < len(l.src) {
		if block && strings.HasPrefix(l.src[l.off:], "*/") {
			l.advanceASCII(2)
			return
		}
		if !block && l.src[l.off] == '\n' {
			return
		}
		l.advance()
	}
}

func (l *lexer) ident(start int, pos Pos) token {
	n := 1
	for start+n < len(l.src) && isIdentChar(l.src[start+n]) {
		n++
	}
	l.advanceASCII(n)
	text := l.src[start:l.off]
	kind := tIdent
	if k, ok := reserved[text]; ok {
		kind = k
	}
	return token{kind: kind, pos: pos, off: start, end: l.off, text: text}
}

// number lexes a numeric literal or an IPv4 address. It takes the longest run of characters
// that could belong to one (digits, letters, '.', '_', and a sign after an exponent mark) and
// then decides what the run is, so that `10s` or `1.2.3` is one clear error rather than a
// number followed by a puzzling token.
func (l *lexer) number(start int, pos Pos) token {
	hex := len(l.src) > start+1 && l.src[start] == '0' && (l.src[start+1] == 'x' || l.src[start+1] == 'X')
	i := start
	for i < len(l.src) {
		c := l.src[i]
		if isIdentChar(c) && c != '-' {
			i++
			continue
		}
		if (c == '+' || c == '-') && !hex && (l.src[i-1] == 'e' || l.src[i-1] == 'E') {
			i++
			continue
		}
		break
	}
	l.advanceASCII(i - start)
	text := l.src[start:i]
	t := token{pos: pos, off: start, end: i, text: text}
	switch {
	case isIPv4Shape(text):
		if !validIPv4(text) {
			return l.errTok(pos, start, "invalid IPv4 address %s", text)
		}
		t.kind = tIP
	case hex:
		if !allHex(text[2:]) {
			return l.errTok(pos, start, "invalid hex literal %s", clip(text))
		}
		n, err := strconv.ParseUint(text[2:], 16, 64)
		if err != nil || n > math.MaxInt64 {
			return l.errTok(pos, start, "integer literal %s out of range", clip(text))
		}
		t.kind, t.num = tInt, int64(n)
	case allDigits(text):
		base, digits := 10, text
		if len(text) > 1 && text[0] == '0' {
			if strings.ContainsAny(text, "89") {
				return l.errTok(pos, start, "invalid octal literal %s", clip(text))
			}
			base, digits = 8, text[1:]
		}
		n, err := strconv.ParseInt(digits, base, 64)
		if err != nil {
			return l.errTok(pos, start, "integer literal %s out of range", clip(text))
		}
		t.kind, t.num = tInt, n
	case isJavaFloat(text):
		s := strings.TrimRight(text, "fFdD")
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return l.errTok(pos, start, "float literal %s out of range", clip(text))
		}
		t.kind, t.flt = tFloat, f
	default:
		return l.errTok(pos, start, "invalid number literal %s", clip(text))
	}
	return t
}

// isJavaFloat reports whether s is a Java floating point literal:
// digits '.' digits? exponent? suffix? | '.' digits exponent? suffix? |
// digits exponent suffix? | digits suffix.
func isJavaFloat(s string) bool {
	hasSuffix := false
	if n := len(s); n > 0 && strings.IndexByte("fFdD", s[n-1]) >= 0 {
		s, hasSuffix = s[:n-1], true
	}
	i := skipDigits(s, 0)
	intDigits := i
	dot, fracDigits := false, 0
	if i < len(s) && s[i] == '.' {
		dot = true
		j := skipDigits(s, i+1)
		fracDigits = j - i - 1
		i = j
	}
	if intDigits == 0 && fracDigits == 0 {
		return false
	}
	exp := false
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := skipDigits(s, i)
		if j == i {
			return false
		}
		i, exp = j, true
	}
	return i == len(s) && (dot || exp || hasSuffix)
}

func skipDigits(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// isIPv4Shape reports whether s is four dot-separated groups of digits.
func isIPv4Shape(s string) bool {
	groups, digits := 1, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isDigit(c):
			digits++
		case c == '.' && digits > 0:
			groups, digits = groups+1, 0
		default:
			return false
		}
	}
	return groups == 4 && digits > 0
}

// validIPv4 reports whether each group of an IPv4-shaped s is 0-255 without leading zeros.
func validIPv4(s string) bool {
	for g := range strings.SplitSeq(s, ".") {
		if len(g) > 1 && g[0] == '0' {
			return false
		}
		if n, err := strconv.Atoi(g); err != nil || n > 255 {
			return false
		}
	}
	return true
}

// string lexes a double-quoted string with Java escapes. A string without escapes is a slice
// of the source; only escapes make a copy. On an error the lexer still moves to the end of
// the string (or of the line) so that lexing can resume.
func (l *lexer) string(start int, pos Pos) token {
	l.advanceASCII(1)
	var (
		buf     []byte // the decoded string, once an escape was seen
		seg     = l.off
		errTok  token
		haveErr bool
	)
	fail := func(p Pos, format string, args ...any) {
		if !haveErr {
			errTok, haveErr = l.errTok(p, start, format, args...), true
		}
	}
	for {
		if l.off >= len(l.src) {
			return l.errTok(pos, start, "unterminated string literal")
		}
		c := l.src[l.off]
		switch {
		case c == '"':
			if haveErr {
				l.advanceASCII(1)
				errTok.end = l.off
				return errTok
			}
			str := l.src[seg:l.off]
			if buf != nil {
				str = string(append(buf, str...))
			}
			l.advanceASCII(1)
			return token{kind: tString, pos: pos, off: start, end: l.off, text: l.src[start:l.off], str: str}
		case c == '\n' || c == '\r':
			fail(l.pos(), "newline in string literal")
			errTok.end = l.off
			return errTok
		case c == '\\':
			if buf == nil {
				buf = make([]byte, 0, l.off-seg+16)
			}
			buf = append(buf, l.src[seg:l.off]...)
			var msg string
			epos := l.pos()
			buf, msg = l.escape(buf)
			if msg != "" {
				fail(epos, "%s", msg)
			}
			seg = l.off
		case c >= utf8.RuneSelf:
			if r, size := utf8.DecodeRuneInString(l.src[l.off:]); r == utf8.RuneError && size == 1 {
				fail(l.pos(), "invalid UTF-8 encoding")
			}
			l.advance()
		default:
			l.advanceASCII(1)
		}
	}
}

// escape decodes the escape sequence at l.off (a backslash), appends its rune to buf and
// returns buf. It returns a message instead when the sequence is invalid; a backslash before
// a newline or the end of input is left for the caller to report.
func (l *lexer) escape(buf []byte) ([]byte, string) {
	if l.off+1 >= len(l.src) || l.src[l.off+1] == '\n' || l.src[l.off+1] == '\r' {
		l.advanceASCII(1)
		return buf, ""
	}
	c := l.src[l.off+1]
	if i := strings.IndexByte(`btnfr"'\`, c); i >= 0 {
		l.advanceASCII(2)
		return append(buf, "\b\t\n\f\r\"'\\"[i]), ""
	}
	switch {
	case c == 'u':
		r, ok := l.hex4(l.off + 2)
		if !ok {
			l.advanceASCII(2)
			return buf, `invalid Unicode escape: want 4 hex digits after \u`
		}
		esc := l.src[l.off : l.off+6]
		l.advanceASCII(6)
		if utf16IsLow(r) {
			return buf, fmt.Sprintf("unpaired surrogate %s in Unicode escape", esc)
		}
		if utf16IsHigh(r) {
			lo, ok := rune(0), false
			if strings.HasPrefix(l.src[l.off:], `\u`) {
				lo, ok = l.hex4(l.off + 2)
			}
			if !ok || !utf16IsLow(lo) {
				return buf, fmt.Sprintf("unpaired surrogate %s in Unicode escape", esc)
			}
			l.advanceASCII(6)
			r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
		}
		return utf8.AppendRune(buf, r), ""
	case c >= '0' && c <= '7':
		// Java: \[0-3][0-7][0-7] | \[0-7][0-7] | \[0-7], the longest that applies.
		maxLen := 2
		if c <= '3' {
			maxLen = 3
		}
		n, v := 0, rune(0)
		for n < maxLen && l.off+1+n < len(l.src) && l.src[l.off+1+n] >= '0' && l.src[l.off+1+n] <= '7' {
			v = v*8 + rune(l.src[l.off+1+n]-'0')
			n++
		}
		l.advanceASCII(1 + n)
		return utf8.AppendRune(buf, v), ""
	}
	r, size := utf8.DecodeRuneInString(l.src[l.off+1:])
	l.advanceASCII(1)
	if r == utf8.RuneError && size == 1 {
		// Leave the bad byte to the string loop, which reports it where it is.
		return buf, ""
	}
	l.advance()
	return buf, fmt.Sprintf(`unknown escape sequence \%s`, escapedRune(r))
}

// hex4 decodes four hex digits at offset i.
func (l *lexer) hex4(i int) (rune, bool) {
	if i+4 > len(l.src) || !allHex(l.src[i:i+4]) {
		return 0, false
	}
	n, _ := strconv.ParseUint(l.src[i:i+4], 16, 16)
	return rune(n), true
}

func utf16IsHigh(r rune) bool { return r >= 0xD800 && r < 0xDC00 }
func utf16IsLow(r rune) bool  { return r >= 0xDC00 && r < 0xE000 }

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// isIdentChar reports whether c may continue an identifier.
func isIdentChar(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '.' || c == '-' || c == '_'
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) && (c|0x20 < 'a' || c|0x20 > 'f') {
			return false
		}
	}
	return s != ""
}

// quoteRune shows a character in an error message: 'x' when printable, U+XXXX otherwise.
func quoteRune(r rune) string {
	if unicode.IsPrint(r) {
		return "'" + string(r) + "'"
	}
	return fmt.Sprintf("U+%04X", r)
}

// escapedRune shows the character after a backslash: itself when printable, U+XXXX otherwise.
func escapedRune(r rune) string {
	if unicode.IsPrint(r) {
		return string(r)
	}
	return fmt.Sprintf("U+%04X", r)
}

// clip shortens long token text in error messages.
func clip(s string) string {
	const maxRunes = 32
	if utf8.RuneCountInString(s) <= maxRunes {
		return s
	}
	i, n := 0, 0
	for i < len(s) && n < maxRunes {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return s[:i] + "..."
}
