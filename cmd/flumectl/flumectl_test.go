package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flumego/flume/cmd/internal/cli"
)

func flumectl(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return code, out.String(), errOut.String()
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.flume")
	bad := filepath.Join(dir, "bad.flume")
	if err := os.WriteFile(good, []byte("a : text(\"/etc/hosts\") | { value(\"k\", \"v\") => console(json) } ;\n"+
		"b : null | [ null, < console ? null > ] ;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("a : tial(\"/etc/hosts\") | console ;\n"+
		"b : text(\"/x\") | regex(\"(\", 1, \"x\") console ;\n"+
		"c : text(\"/x\" | console ;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    string
		wantErrHas []string
	}{
		{"pair", []string{"validate", `tail("/var/log/app.log", true)`, `{ value("dc", "east") => console(json) }`},
			0, "tail(\"/var/log/app.log\", true) | value(\"dc\", \"east\") console(json)\n", nil},
		{"pair unknown source", []string{"validate", `tial("/var/log/app.log")`, `console`},
			1, "", []string{`source:1:1: unknown source "tial"; did you mean "tail"?`}},
		{"pair syntax error in sink", []string{"validate", `null`, `console(`},
			1, "", []string{"sink:1:9: "}},
		{"pair decorator used as sink", []string{"validate", `null`, `batch(10)`},
			1, "", []string{`sink:1:1: unknown sink "batch" ("batch" is a decorator)`}},
		{"pair bad argument", []string{"validate", `tail("/x", maybe)`, `console`},
			1, "", []string{"source:1:12: tail: argument startFromEnd: want a boolean, got function maybe", "usage: tail("}},
		{"spec", []string{"validate", `n : null | console ;`}, 0, "n : null | console ;\n", nil},
		{"file", []string{"validate", "-f", good}, 0,
			"a : text(\"/etc/hosts\") | value(\"k\", \"v\") console(json) ;\nb : null | [null, < console ? null >] ;\n", nil},
		{"file errors on every line", []string{"validate", "-f", bad}, 1, "", []string{
			bad + `:1:5: unknown source "tial"; did you mean "tail"?`,
			bad + ":2:24: regex: argument regex: error parsing regexp: missing closing )",
			bad + ":3:15: expected ')'",
		}},
		{"wrong arity", []string{"validate", "a", "b", "c"}, 2, "", []string{"validate takes"}},
		{"missing file", []string{"validate", "-f", filepath.Join(dir, "nope")}, 2, "", []string{"no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := flumectl(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, errOut)
			}
			if tt.wantCode == 0 && out != tt.wantOut {
				t.Fatalf("stdout %q, want %q", out, tt.wantOut)
			}
			for _, w := range tt.wantErrHas {
				if !strings.Contains(errOut, w) {
					t.Fatalf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

// TestValidateOutputIsCanonical checks that what validate prints validates to itself.
func TestValidateOutputIsCanonical(t *testing.T) {
	_, out, _ := flumectl(t, "validate", `x : asciisynth(5, 0x10) | { batch(10, 0) => < roll(1000) { console } ? null > } ;`)
	code, again, errOut := flumectl(t, "validate", out)
	if code != 0 || again != out {
		t.Fatalf("canonical form %q re-validated to %q (exit %d, %s)", out, again, code, errOut)
	}
}

func TestHelpComponents(t *testing.T) {
	code, out, _ := flumectl(t, "help", "components")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"SOURCES", "SINKS", "DECORATORS", "OUTPUT FORMATS",
		`tail("file"`, "asciisynth(", "console", "insistentOpen", "avrodata"} {
		if !strings.Contains(out, want) {
			t.Fatalf("help components lacks %q:\n%s", want, out)
		}
	}
	if code, _, errOut := flumectl(t, "help", "nonsense"); code != 2 || !strings.Contains(errOut, "unknown help topic") {
		t.Fatalf("help nonsense: exit %d, %s", code, errOut)
	}
	if code, out, _ := flumectl(t, "help", "validate"); code != 0 || !strings.Contains(out, "Check a dataflow spec") {
		t.Fatalf("help validate: exit %d, %s", code, out)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := flumectl(t, "version")
	if code != 0 || !strings.HasPrefix(out, "flumectl ") {
		t.Fatalf("exit %d, %q", code, out)
	}
}
