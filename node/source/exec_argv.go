package source

import (
	"errors"
	"strings"
)

var (
	errEmptyCommand   = errors.New("empty command")
	errUnclosedQuote  = errors.New("unterminated quote")
	errTrailingEscape = errors.New("backslash at the end")
)

// splitCommand splits a command line into argv the way a shell splits words, without any of
// its other features (no variables, globs, pipes or redirections: the command runs without a
// shell, as classic's Runtime.exec did). Words are separated by blanks; 'single quotes' keep
// everything literally; "double quotes" keep everything but let \" and \\ escape; outside
// quotes a backslash keeps the next character literally.
func splitCommand(s string) ([]string, error) {
	var (
		argv  []string
		word  strings.Builder
		inArg bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inArg {
				argv = append(argv, word.String())
				word.Reset()
				inArg = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errUnclosedQuote
			}
			word.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inArg = true
		case c == '"':
			n, err := doubleQuoted(s[i+1:], &word)
			if err != nil {
				return nil, err
			}
			i += n // at the closing quote
			inArg = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errTrailingEscape
			}
			i++
			word.WriteByte(s[i])
			inArg = true
		default:
			word.WriteByte(c)
			inArg = true
		}
	}
	if inArg {
		argv = append(argv, word.String())
	}
	if len(argv) == 0 {
		return nil, errEmptyCommand
	}
	return argv, nil
}

// doubleQuoted copies the inside of a double-quoted word, s starting after the opening quote,
// and returns the count of bytes consumed including the closing quote.
func doubleQuoted(s string, word *strings.Builder) (int, error) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
			i++
			word.WriteByte(s[i])
		default:
			word.WriteByte(c)
		}
	}
	return 0, errUnclosedQuote
}
