package spec

import (
	"errors"
	"testing"
	"time"
)

// Signatures shaped like classic components.
var (
	tailSig = Signature{Name: "tail", Params: []Param{
		{Name: "file", Kind: ParamString, Required: true},
		{Name: "startFromEnd", Kind: ParamBool, Default: "false"},
		{Name: "delim", Kind: ParamString, KeywordOnly: true, Default: `"\n"`},
		{Name: "delimMode", Kind: ParamString, KeywordOnly: true, Default: `"exclude"`},
	}}
	execSig = Signature{Name: "exec", Params: []Param{
		{Name: "cmd", Kind: ParamString, Required: true},
		{Name: "aggregate", Kind: ParamBool, Default: "false"},
		{Name: "restart", Kind: ParamBool, Default: "false"},
		{Name: "period", Kind: ParamDuration, Default: "0"},
	}}
	maskSig = Signature{Name: "mask", Params: []Param{
		{Name: "attr", Kind: ParamString, Required: true, Variadic: true},
	}}
	batchSig = Signature{Name: "batch", Params: []Param{
		{Name: "n", Kind: ParamInt, Required: true},
		{Name: "maxLatency", Kind: ParamDuration, Default: "0"},
	}}
	consoleSig = Signature{Name: "console", Params: []Param{
		{Name: "format", Kind: ParamFunc},
	}}
	samplerSig = Signature{Name: "probSampler", Params: []Param{
		{Name: "prob", Kind: ParamFloat, Required: true},
		{Name: "seed", Kind: ParamInt},
	}}
	anySig = Signature{Name: "anything", Params: []Param{
		{Name: "v", Kind: ParamAny, Required: true},
	}}
	nullSig = Signature{Name: "null"}
)

func TestUsage(t *testing.T) {
	tests := []struct {
		sig  Signature
		want string
	}{
		{nullSig, "null"},
		{tailSig, `tail("file"[, startFromEnd=false]{, delim="\n", delimMode="exclude"})`},
		{execSig, `exec("cmd"[, aggregate=false[, restart=false[, period=0]]])`},
		{maskSig, `mask("attr"[, "attr"...])`},
		{batchSig, `batch(n[, maxLatency=0])`},
		{consoleSig, `console([format])`},
		{samplerSig, `probSampler(prob[, seed])`},
		{Signature{Name: "thriftSink", Params: []Param{
			{Name: "port", Kind: ParamInt, KeywordOnly: true, Default: "35853"},
		}}, `thriftSink({port=35853})`},
		{Signature{Name: "x", UsageText: `x("classic wording")`, Params: []Param{{Name: "a"}}},
			`x("classic wording")`},
	}
	for _, tc := range tests {
		t.Run(tc.sig.Name, func(t *testing.T) {
			if got := tc.sig.Usage(); got != tc.want {
				t.Errorf("Usage() = %s, want %s", got, tc.want)
			}
		})
	}
}

func bind(t *testing.T, sig *Signature, src string) (*Args, error) {
	t.Helper()
	c, err := ParseSource(src)
	if err != nil {
		t.Fatalf("ParseSource(%q): %v", src, err)
	}
	return sig.Bind(c)
}

func TestBindErrors(t *testing.T) {
	const tailUsage = `; usage: tail("file"[, startFromEnd=false]{, delim="\n", delimMode="exclude"})`
	tests := []struct {
		name string
		sig  *Signature
		in   string
		want string
	}{
		{"too many", &tailSig, `tail("a", true, 3)`,
			`1:17: tail: too many arguments (3 given, at most 2)` + tailUsage},
		{"too many for none", &nullSig, `null(1)`,
			`1:6: null: too many arguments (1 given, at most 0); usage: null`},
		{"missing", &tailSig, `tail(startFromEnd=true)`,
			`1:1: tail: missing argument "file"` + tailUsage},
		{"missing non-string", &batchSig, `batch`,
			`1:1: batch: missing argument n; usage: batch(n[, maxLatency=0])`},
		{"missing keyword-only", &Signature{Name: "choke", Params: []Param{
			{Name: "id", Kind: ParamString, KeywordOnly: true, Required: true}}}, `choke`,
			`1:1: choke: missing argument "id"; usage: choke({"id"})`},
		{"unknown keyword with suggestion", &tailSig, `tail("a", startFromEnf=true)`,
			`1:11: tail: unknown keyword argument "startFromEnf"; did you mean "startFromEnd"?` + tailUsage},
		{"unknown keyword case", &tailSig, `tail("a", DELIM="x")`,
			`1:11: tail: unknown keyword argument "DELIM"; did you mean "delim"?` + tailUsage},
		{"unknown keyword far from all", &tailSig, `tail("a", compression=true)`,
			`1:11: tail: unknown keyword argument "compression"` + tailUsage},
		{"wrong type function for string", &tailSig, `tail(avrojson)`,
			`1:6: tail: argument file: want a string, got function avrojson` + tailUsage},
		{"wrong type string for bool", &tailSig, `tail("a", "yes")`,
			`1:11: tail: argument startFromEnd: want a boolean, got string "yes"` + tailUsage},
		{"wrong type in keyword value", &tailSig, `tail("a", delim=size(1))`,
			`1:17: tail: argument delim: want a string, got function size` + tailUsage},
		{"wrong type float for int", &batchSig, `batch(1.5)`,
			`1:7: batch: argument n: want an integer, got float 1.5; usage: batch(n[, maxLatency=0])`},
		{"string not an int", &batchSig, `batch("ten")`,
			`1:7: batch: argument n: want an integer, got string "ten"; usage: batch(n[, maxLatency=0])`},
		{"bad duration", &batchSig, `batch(1, "soon")`,
			`1:10: batch: argument maxLatency: want a duration (milliseconds or "10s"), got string "soon"; usage: batch(n[, maxLatency=0])`},
		{"negative duration string", &batchSig, `batch(1, "-5s")`,
			`1:10: batch: argument maxLatency: want a duration (milliseconds or "10s"), got string "-5s"; usage: batch(n[, maxLatency=0])`},
		{"float from bool", &samplerSig, `probSampler(true)`,
			`1:13: probSampler: argument prob: want a number, got boolean true; usage: probSampler(prob[, seed])`},
		{"function from number", &consoleSig, `console(1)`,
			`1:9: console: argument format: want a function, got integer 1; usage: console([format])`},
		{"given twice", &tailSig, `tail("a", file="b")`,
			`1:11: tail: argument file given twice` + tailUsage},
		{"keyword given twice", &tailSig, `tail("a", delim="x", delim="y")`,
			`1:22: tail: argument delim given twice` + tailUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bind(t, tc.sig, tc.in)
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("Bind(%s) error %v (%T), want a *spec.Error", tc.in, err, err)
			}
			if err.Error() != tc.want {
				t.Errorf("Bind(%s) error\n got %s\nwant %s", tc.in, err, tc.want)
			}
		})
	}
}

func TestBindNegativeDuration(t *testing.T) {
	// The parser has no negative literals; a built call may carry one.
	c := &Call{Pos: Pos{1, 1}, Name: "batch", Args: []Value{num(1), {Pos: Pos{1, 10}, Kind: KindInt, Int: -5}}}
	_, err := batchSig.Bind(c)
	want := `1:10: batch: argument maxLatency: want a duration of 0 or more, got -5; usage: batch(n[, maxLatency=0])`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

func TestBindCoercions(t *testing.T) {
	t.Run("string to int", func(t *testing.T) {
		a, err := bind(t, &batchSig, `batch("100")`)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Int("n", 0); got != 100 {
			t.Errorf("n = %d, want 100", got)
		}
	})
	t.Run("durations", func(t *testing.T) {
		for in, want := range map[string]time.Duration{
			`batch(1, 250)`:    250 * time.Millisecond,
			`batch(1, "1500")`: 1500 * time.Millisecond,
			`batch(1, "10s")`:  10 * time.Second,
			`batch(1, "1.5s")`: 1500 * time.Millisecond,
			`batch(1, 0x10)`:   16 * time.Millisecond,
			`batch(1)`:         time.Minute, // the default below
		} {
			a, err := bind(t, &batchSig, in)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Duration("maxLatency", time.Minute); got != want {
				t.Errorf("%s: maxLatency = %v, want %v", in, got, want)
			}
		}
	})
	t.Run("string names a function", func(t *testing.T) {
		a, err := bind(t, &consoleSig, `console("avrojson")`)
		if err != nil {
			t.Fatal(err)
		}
		f := a.Func("format")
		if f == nil || f.Name != "avrojson" || f.Pos != (Pos{1, 9}) {
			t.Errorf("format = %+v, want avrojson at 1:9", f)
		}
	})
	t.Run("function", func(t *testing.T) {
		a, err := bind(t, &consoleSig, `console(avrodata("snappy"))`)
		if err != nil {
			t.Fatal(err)
		}
		if f := a.Func("format"); f == nil || FormatCall(f) != `avrodata("snappy")` {
			t.Errorf("format = %v, want avrodata(\"snappy\")", f)
		}
		if a.Func("other") != nil {
			t.Error("Func of a parameter not given is not nil")
		}
	})
	t.Run("literals to string", func(t *testing.T) {
		a, err := bind(t, &maskSig, `mask("a", 12, 0x10, 1.5, true)`)
		if err != nil {
			t.Fatal(err)
		}
		got := a.Strings("attr")
		want := []string{"a", "12", "16", "1.5", "true"}
		if len(got) != len(want) {
			t.Fatalf("Strings = %q, want %q", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("Strings = %q, want %q", got, want)
			}
		}
	})
	t.Run("numbers", func(t *testing.T) {
		a, err := bind(t, &samplerSig, `probSampler(1, seed="42")`)
		if err != nil {
			t.Fatal(err)
		}
		if p, s := a.Float("prob", 0), a.Int("seed", 0); p != 1.0 || s != 42 {
			t.Errorf("prob, seed = %v, %v; want 1, 42", p, s)
		}
		a, err = bind(t, &samplerSig, `probSampler("0.25")`)
		if err != nil {
			t.Fatal(err)
		}
		if p := a.Float("prob", 0); p != 0.25 {
			t.Errorf("prob = %v, want 0.25", p)
		}
	})
	t.Run("booleans and defaults", func(t *testing.T) {
		a, err := bind(t, &tailSig, `tail("/var/log/x", "true")`)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Bool("startFromEnd", false) || a.String("file", "") != "/var/log/x" {
			t.Errorf("file, startFromEnd = %q, %v", a.String("file", ""), a.Bool("startFromEnd", false))
		}
		if a.String("delim", "\n") != "\n" || a.Has("delim") {
			t.Error("delim not given, but not the default")
		}
		if a.Name() != "tail" || a.Pos() != (Pos{1, 1}) || a.Call().Name != "tail" {
			t.Errorf("Name, Pos, Call = %s, %v, %v", a.Name(), a.Pos(), a.Call())
		}
	})
	t.Run("any", func(t *testing.T) {
		a, err := bind(t, &anySig, `anything(size(1))`)
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := a.Value("v"); !ok || v.Kind != KindFunc {
			t.Errorf("v = %v, %v; want the function as written", v, ok)
		}
	})
}

func TestArgsErrorf(t *testing.T) {
	a, err := bind(t, &tailSig, `tail("/var/log/x", delim="(")`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := a.Errorf("delim", "missing ')'").Error(), `1:26: tail: argument delim: missing ')'`; got != want {
		t.Errorf("Errorf on a given argument = %s, want %s", got, want)
	}
	if got, want := a.Errorf("delimMode", "bad").Error(), `1:1: tail: argument delimMode: bad`; got != want {
		t.Errorf("Errorf on a default = %s, want %s", got, want)
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"console", "text", "tail", "tailDir", "collectorSink", "null"}
	tests := []struct{ in, want string }{
		{"consol", "console"},
		{"Console", "console"},
		{"tial", "tail"},
		{"taildir", "tailDir"},
		{"colectorSink", "collectorSink"},
		{"nul", "null"},
		{"x", ""},
		{"something", ""},
		{"", ""},
	}
	for _, tc := range tests {
		if got := Suggest(tc.in, names); got != tc.want {
			t.Errorf("Suggest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestErrorFormatting(t *testing.T) {
	e := &Error{Line: 3, Col: 7, Msg: "bad"}
	if e.Error() != "3:7: bad" {
		t.Errorf("Error() = %q", e.Error())
	}
	f := WithFile(e, "flow.flume")
	if f.Error() != "flow.flume:3:7: bad" || e.File != "" {
		t.Errorf("WithFile = %q (original File %q)", f.Error(), e.File)
	}
	if got := WithFile(&Error{Msg: "no place"}, "f").Error(); got != "f: no place" {
		t.Errorf("WithFile without a position = %q", got)
	}
	_, err := ParseNodes("a : b ; c : d | e")
	withFile := WithFile(err, "x.flume")
	want := "x.flume:1:7: expected '|' after source, found ';'\nx.flume:1:18: expected ';' after sink, found end of input"
	if withFile.Error() != want {
		t.Errorf("WithFile(list) = %q, want %q", withFile, want)
	}
	if WithFile(nil, "x") != nil || ErrorList(nil).Err() != nil {
		t.Error("nil errors are not nil")
	}
	if got := Errors(errors.New("plain")); len(got) != 1 || got[0].Line != 0 || got[0].Msg != "plain" {
		t.Errorf("Errors(plain) = %v", got)
	}
}
