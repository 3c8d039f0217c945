package format

import (
	"slices"
	"strings"
	"testing"

	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/spec"
)

func at(line, col int) spec.Pos { return spec.Pos{Line: line, Col: col} }

func strAt(s string, col int) spec.Value {
	return spec.Value{Pos: at(1, col), Kind: spec.KindString, Str: s}
}

func intAt(n int64, col int) spec.Value {
	return spec.Value{Pos: at(1, col), Kind: spec.KindInt, Int: n}
}

func TestBadArgumentsArePositionedErrors(t *testing.T) {
	tests := []struct {
		name string
		call *spec.Call // as written from column 10 of line 1
		pos  spec.Pos
		want []string // substrings of the message
	}{
		{
			name: "unknown codec",
			call: &spec.Call{Pos: at(1, 10), Name: "avrodata", Args: []spec.Value{strAt("lzo", 19)}},
			pos:  at(1, 19),
			want: []string{`avrodata: argument codec: unknown codec "lzo"; valid codecs: null, deflate, snappy, zstandard`},
		},
		{
			name: "misspelt codec",
			call: &spec.Call{Pos: at(1, 10), Name: "avrodata", Args: []spec.Value{strAt("snapy", 19)}},
			pos:  at(1, 19),
			want: []string{`unknown codec "snapy" (did you mean "snappy"?)`, "valid codecs: null, deflate, snappy, zstandard"},
		},
		{
			name: "deflate level too high",
			call: &spec.Call{Pos: at(1, 10), Name: "avrodata", Args: []spec.Value{strAt("deflate", 19), intAt(12, 30)}},
			pos:  at(1, 30),
			want: []string{"avrodata: argument level: deflate takes a level from -1 (default) to 9, got 12"},
		},
		{
			name: "zstandard level zero",
			call: &spec.Call{Pos: at(1, 10), Name: "avrodata", Args: []spec.Value{strAt("zstandard", 19), intAt(0, 32)}},
			pos:  at(1, 32),
			want: []string{"zstandard takes a level from 1 to 22, got 0"},
		},
		{
			name: "level for a codec without levels",
			call: &spec.Call{Pos: at(1, 10), Name: "avrodata", Args: []spec.Value{strAt("snappy", 19), intAt(3, 29)}},
			pos:  at(1, 29),
			want: []string{"codec snappy takes no level"},
		},
		{
			name: "level that is not a number",
			call: &spec.Call{Pos: at(1, 10), Name: "avrodata", Args: []spec.Value{strAt("deflate", 19), strAt("high", 30)}},
			pos:  at(1, 30),
			want: []string{"avrodata: argument level: want an integer", "usage: avrodata("},
		},
		{
			name: "too many avrodata arguments",
			call: &spec.Call{Pos: at(1, 10), Name: "avrodata",
				Args: []spec.Value{strAt("deflate", 19), intAt(5, 30), intAt(6, 33)}},
			pos:  at(1, 33),
			want: []string{"avrodata: too many arguments (3 given, at most 2)", "usage: avrodata("},
		},
		{
			name: "raw takes no arguments",
			call: &spec.Call{Pos: at(1, 10), Name: "raw", Args: []spec.Value{strAt("x", 14)}},
			pos:  at(1, 14),
			want: []string{"raw: too many arguments (1 given, at most 0); usage: raw"},
		},
		{
			name: "syslog year not a number",
			call: &spec.Call{Pos: at(1, 10), Name: "syslog", Args: []spec.Value{strAt("abc", 17)}},
			pos:  at(1, 17),
			want: []string{"syslog: argument year: want an integer"},
		},
		{
			name: "syslog year out of range",
			call: &spec.Call{Pos: at(1, 10), Name: "syslog", Args: []spec.Value{intAt(0, 17)}},
			pos:  at(1, 17),
			want: []string{"syslog: argument year: want a year from 1 to 9999, got 0"},
		},
		{
			name: "too many syslog arguments",
			call: &spec.Call{Pos: at(1, 10), Name: "syslog", Args: []spec.Value{intAt(2010, 17), intAt(1, 23)}},
			pos:  at(1, 23),
			want: []string{"syslog: too many arguments (2 given, at most 1); usage: syslog([year])"},
		},
		{
			name: "unknown keyword",
			call: &spec.Call{Pos: at(1, 10), Name: "json",
				Kwargs: []spec.Kwarg{{Pos: at(1, 15), Name: "pretty", Value: spec.Value{Pos: at(1, 22), Kind: spec.KindBool, Bool: true}}}},
			pos:  at(1, 15),
			want: []string{`json: unknown keyword argument "pretty"`},
		},
		{
			name: "unknown format",
			call: &spec.Call{Pos: at(1, 10), Name: "jsn"},
			pos:  at(1, 10),
			want: []string{`unknown output format "jsn"; did you mean "json"?`},
		},
	}
	r := plugin.NewRegistry()
	Register(r)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := r.BuildFormat(&plugin.BuildContext{}, tt.call)
			if err == nil {
				t.Fatalf("built %T, want an error", f)
			}
			errs := spec.Errors(err)
			if len(errs) != 1 {
				t.Fatalf("%d errors: %v", len(errs), err)
			}
			if got := (spec.Pos{Line: errs[0].Line, Col: errs[0].Col}); got != tt.pos {
				t.Errorf("error at %d:%d, want %d:%d: %v", got.Line, got.Col, tt.pos.Line, tt.pos.Col, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestRegisterListsEveryFormat(t *testing.T) {
	r := plugin.NewRegistry()
	Register(r)
	names := plugintest.Names(t, r, plugin.KindFormat)
	want := []string{"avro", "avrodata", "avrojson", "debug", "default", "json", "log4j", "raw", "seqfile", "syslog"}
	if !slices.Equal(names, want) {
		t.Errorf("formats %v, want %v", names, want)
	}
	e, _ := r.Lookup(plugin.KindFormat, "avrodata")
	if got, want := e.Usage(), "avrodata([codec=null[, level]])"; got != want {
		t.Errorf("avrodata usage %q, want %q", got, want)
	}
}

// consoleSig is a sink's signature with a format parameter, as console and text have.
var consoleSig = spec.Signature{Name: "console", Params: []spec.Param{{Name: "format", Kind: spec.ParamFunc}}}

func TestFormatNamedByStringOrFunction(t *testing.T) {
	tests := []struct {
		name  string
		arg   spec.Value
		codec string
	}{
		{"string form console(\"avrodata\")", strAt("avrodata", 9), "null"},
		{"function form console(avrodata(\"deflate\"))", spec.Value{Pos: at(1, 9), Kind: spec.KindFunc,
			Func: &spec.Call{Pos: at(1, 9), Name: "avrodata", Args: []spec.Value{strAt("deflate", 18)}}}, "deflate"},
	}
	r := plugin.NewRegistry()
	Register(r)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args, err := consoleSig.Bind(&spec.Call{Pos: at(1, 1), Name: "console", Args: []spec.Value{tt.arg}})
			if err != nil {
				t.Fatal(err)
			}
			f, err := r.BuildFormat(&plugin.BuildContext{}, args.Func("format"))
			if err != nil {
				t.Fatal(err)
			}
			meta, blocks := readContainer(t, plugintest.Encode(t, f, eventB()))
			if string(meta["avro.codec"]) != tt.codec || len(blocks) != 1 || len(blocks[0]) != 1 {
				t.Errorf("codec %q, %d blocks", meta["avro.codec"], len(blocks))
			}
		})
	}
}

func TestNoFormatMeansDefault(t *testing.T) {
	r := plugin.NewRegistry()
	Register(r)
	f, err := r.BuildFormat(&plugin.BuildContext{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(plugintest.Encode(t, f, eventB())); got != "a\xff\x01\n\xc3\xa9\x7f\n" {
		t.Errorf("default format wrote %q, want the raw body and a newline", got)
	}
}
