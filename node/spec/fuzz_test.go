package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addSeeds adds every golden input and a few sink expressions to the fuzz corpus.
func addSeeds(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.flume"))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(string(b))
		}
	}
	for _, s := range []string{
		"console", "batch(10) [a, < b ? c ? d >]", "{ a => roll(1) { collector { x(y=z(1.5e3)) } } }",
		`x("\uD83D\uDE00\377")`, "a : b | c ;",
	} {
		f.Add(s)
	}
}

// checkErr fails unless err is a spec error (or list of them) that places every problem in
// src: line 1 or more and not past the last line, column 1 or more.
func checkErr(t *testing.T, src string, err error, wantList bool) {
	t.Helper()
	var list ErrorList
	var one *Error
	switch {
	case wantList && !errors.As(err, &list):
		t.Fatalf("error %v (%T) is not an ErrorList", err, err)
	case !wantList && !errors.As(err, &one):
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	lines := strings.Count(src, "\n") + 1
	for _, e := range Errors(err) {
		if e.Line < 1 || e.Line > lines || e.Col < 1 || e.Msg == "" {
			t.Fatalf("error %q is not placed in the input (%d lines)", e, lines)
		}
	}
}

// FuzzParse checks that ParseNodes never panics, that its errors are positioned spec errors,
// and that an accepted spec prints to a canonical form that parses back to an equal AST and
// prints identically.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, src string) {
		nodes, err := ParseNodes(src)
		if err != nil {
			checkErr(t, src, err, true)
			return
		}
		printed := FormatNodes(nodes)
		again, err := ParseNodes(printed)
		if err != nil {
			t.Fatalf("canonical form of %q does not parse: %v\n%s", src, err, printed)
		}
		if !EqualNodes(nodes, again) {
			t.Fatalf("canonical form of %q parses to a different AST:\n%s", src, printed)
		}
		if p2 := FormatNodes(again); p2 != printed {
			t.Fatalf("printing is not stable:\n%s\n%s", printed, p2)
		}
	})
}

// FuzzParseSink checks ParseSink the same way.
func FuzzParseSink(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, src string) {
		sink, err := ParseSink(src)
		if err != nil {
			checkErr(t, src, err, false)
			return
		}
		printed := FormatSink(sink)
		again, err := ParseSink(printed)
		if err != nil {
			t.Fatalf("canonical form of %q does not parse: %v\n%s", src, err, printed)
		}
		if !EqualSink(sink, again) {
			t.Fatalf("canonical form of %q parses to a different AST:\n%s", src, printed)
		}
		if p2 := FormatSink(again); p2 != printed {
			t.Fatalf("printing is not stable:\n%s\n%s", printed, p2)
		}
	})
}
