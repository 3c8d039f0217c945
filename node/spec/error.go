package spec

import (
	"errors"
	"fmt"
	"strings"
)

// Error is a problem in spec text, with the place where it is. Parse errors, unknown component
// names and argument errors are all *Error, so a caller can always show the position.
type Error struct {
	File string // the file name, when the text came from a file; may be empty
	Line int    // 1-based; 0 when unknown
	Col  int    // 1-based, in characters
	Msg  string
}

// Error formats as FILE:LINE:COL: message, dropping the parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", e.Line, e.Col)
	} else if e.File != "" {
		b.WriteByte(' ')
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errorf returns an *Error at pos.
func Errorf(pos Pos, format string, args ...any) *Error {
	return &Error{Line: pos.Line, Col: pos.Col, Msg: fmt.Sprintf(format, args...)}
}

// ErrorList is several spec errors, in the order of the text.
type ErrorList []*Error

// Error joins the errors with newlines.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the errors, for errors.As.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Err returns nil for an empty list, the list otherwise.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Errors flattens err into its spec errors: an *Error, an ErrorList, or errors wrapping them.
// An error that carries no position becomes an *Error with only a message.
func Errors(err error) []*Error {
	if err == nil {
		return nil
	}
	var l ErrorList
	if errors.As(err, &l) {
		return l
	}
	var e *Error
	if errors.As(err, &e) {
		return []*Error{e}
	}
	return []*Error{{Msg: err.Error()}}
}

// WithFile returns err with File set on every spec error in it, for text read from a file.
func WithFile(err error, file string) error {
	errs := Errors(err)
	if errs == nil {
		return nil
	}
	out := make(ErrorList, len(errs))
	for i, e := range errs {
		c := *e
		c.File = file
		out[i] = &c
	}
	if len(out) == 1 {
		return out[0]
	}
	return out
}
