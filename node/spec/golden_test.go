package spec

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/good and testdata/bad")

// goldenCases returns the .flume files of testdata/dir, sorted.
func goldenCases(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.flume"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no testdata/%s/*.flume files", dir)
	}
	return files
}

// checkGolden compares got with the .golden file next to the .flume file, or rewrites it
// with -update.
func checkGolden(t *testing.T, flumeFile, got string) {
	t.Helper()
	golden := strings.TrimSuffix(flumeFile, ".flume") + ".golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got\n%s--- want\n%s", flumeFile, golden, got, want)
	}
}

// TestGoldenGood parses every testdata/good file, compares the canonical print with its
// golden file, and checks that the canonical print parses back to an equal AST and prints the
// same again.
func TestGoldenGood(t *testing.T) {
	for _, file := range goldenCases(t, "good") {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			nodes, err := ParseNodes(string(src))
			if err != nil {
				t.Fatalf("parse:\n%v", err)
			}
			printed := FormatNodes(nodes)
			checkGolden(t, file, printed)
			again, err := ParseNodes(printed)
			if err != nil {
				t.Fatalf("canonical form does not parse:\n%v", err)
			}
			if !EqualNodes(nodes, again) {
				t.Error("canonical form parses to a different AST")
			}
			if FormatNodes(again) != printed {
				t.Error("printing the canonical form again changes it")
			}
		})
	}
}

// TestGoldenBad parses every testdata/bad file and compares the error text, positions
// included, with its golden file.
func TestGoldenBad(t *testing.T) {
	for _, file := range goldenCases(t, "bad") {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			nodes, err := ParseNodes(string(src))
			if err == nil {
				t.Fatalf("parse succeeded:\n%s", FormatNodes(nodes))
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %v (%T) is not an ErrorList", err, err)
			}
			checkGolden(t, file, err.Error()+"\n")
		})
	}
}
