package spec

// Unquote decodes a double-quoted string with Java escapes, as a string literal of the spec
// language is written (`"a\tb\u00e9"`). The whole of s must be one string literal; the error is
// an *Error whose column is counted within s. The classic shell quotes its arguments the same
// way.
func Unquote(s string) (string, error) {
	l := newLexer(s)
	if len(s) == 0 || s[0] != '"' {
		return "", Errorf(Pos{Line: 1, Col: 1}, "a quoted string starts with '\"'")
	}
	tok := l.string(0, l.pos())
	if tok.kind == tError {
		return "", Errorf(tok.pos, "%s", tok.str)
	}
	if l.off != len(s) {
		return "", Errorf(l.pos(), "text after the closing quote")
	}
	return tok.str, nil
}
