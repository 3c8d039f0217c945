package tail

import (
	"path/filepath"
	"regexp"

	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/source/internal/record"
	"github.com/flumego/flume/node/spec"
)

// maxDepth bounds recurseDepth: deeper trees are a configuration mistake.
const maxDepth = 64

// Register adds tail, multitail and tailDir to r.
func Register(r *plugin.Registry) {
	r.RegisterSource(Signature, Doc, Build)
	r.RegisterSource(multiSignature, "follows several files by name: one event per line or delimited record", buildMulti)
	r.RegisterSource(dirSignature, "follows every file of a directory whose name matches a regex: one event per line or delimited record", buildDir)
}

// Doc describes tail in one line.
const Doc = "follows a file by name across rotation and truncation: one event per line or delimited record"

// The keyword parameters every tail source takes. delim is an RE2 regular expression (classic
// took Java's, which agree on everything but lookarounds and backreferences).
var (
	delimParam     = spec.Param{Name: "delim", Kind: spec.ParamString, KeywordOnly: true}
	delimModeParam = spec.Param{Name: "delimMode", Kind: spec.ParamString, KeywordOnly: true, Default: `"exclude"`}
)

// Signature is tail's signature.
var Signature = spec.Signature{
	Name: "tail",
	Params: []spec.Param{
		{Name: "file", Kind: spec.ParamString, Required: true},
		{Name: "startFromEnd", Kind: spec.ParamBool, Default: "false"},
		delimParam, delimModeParam, record.OversizeParam,
	},
	UsageText: `tail("file"[, startFromEnd=false]{, delim="regex", delimMode="exclude|prev|next", oversize="truncate|reject|split"})`,
}

var multiSignature = spec.Signature{
	Name: "multitail",
	Params: []spec.Param{
		{Name: "file", Kind: spec.ParamString, Required: true, Variadic: true},
		delimParam, delimModeParam, record.OversizeParam,
	},
	UsageText: `multitail("file"[, "file"...]{, delim="regex", delimMode="exclude|prev|next", oversize="truncate|reject|split"})`,
}

var dirSignature = spec.Signature{
	Name: "tailDir",
	Params: []spec.Param{
		{Name: "dir", Kind: spec.ParamString, Required: true},
		{Name: "fileregex", Kind: spec.ParamString, Default: `".*"`},
		{Name: "startFromEnd", Kind: spec.ParamBool, Default: "false"},
		{Name: "recurseDepth", Kind: spec.ParamInt, Default: "0"},
		delimParam, delimModeParam, record.OversizeParam,
	},
	UsageText: `tailDir("dir"[, fileregex=".*"[, startFromEnd=false[, recurseDepth=0]]]{, delim="regex", delimMode="exclude|prev|next", oversize="truncate|reject|split"})`,
}

// Build builds a tail source from its arguments.
func Build(bc *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	path := args.String("file", "")
	if path == "" {
		return nil, args.Errorf("file", "empty file name")
	}
	cfg, err := common(bc, args, kindTail)
	if err != nil {
		return nil, err
	}
	cfg.paths = []string{filepath.Clean(path)}
	cfg.startFromEnd = args.Bool("startFromEnd", false)
	return newSource(bc, cfg), nil
}

// buildMulti builds a multitail source: the names are followed as tail follows one.
func buildMulti(bc *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	cfg, err := common(bc, args, kindMulti)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool)
	for _, p := range args.Strings("file") {
		if p == "" {
			return nil, args.Errorf("file", "empty file name")
		}
		p = filepath.Clean(p)
		if seen[p] {
			return nil, args.Errorf("file", "%q given twice", p)
		}
		seen[p] = true
		cfg.paths = append(cfg.paths, p)
	}
	return newSource(bc, cfg), nil
}

// buildDir builds a tailDir source. fileregex must match a whole file name, as classic's
// did (Java's Matcher.matches).
func buildDir(bc *plugin.BuildContext, args *spec.Args) (plugin.Source, error) {
	dir := args.String("dir", "")
	if dir == "" {
		return nil, args.Errorf("dir", "empty directory name")
	}
	cfg, err := common(bc, args, kindDir)
	if err != nil {
		return nil, err
	}
	cfg.dir = filepath.Clean(dir)
	re, err := regexp.Compile(`^(?:` + args.String("fileregex", ".*") + `)$`)
	if err != nil {
		if _, err0 := regexp.Compile(args.String("fileregex", ".*")); err0 != nil {
			err = err0
		}
		return nil, args.Errorf("fileregex", "%v", err)
	}
	cfg.match = re
	cfg.startFromEnd = args.Bool("startFromEnd", false)
	depth := args.Int("recurseDepth", 0)
	if depth < 0 || depth > maxDepth {
		return nil, args.Errorf("recurseDepth", "want 0 to %d, got %d", maxDepth, depth)
	}
	cfg.depth = int(depth)
	return newSource(bc, cfg), nil
}

// common checks what every tail source takes: the delimiter, the oversize policy, the
// properties.
func common(bc *plugin.BuildContext, args *spec.Args, k kind) (config, error) {
	cfg := config{kind: k, name: args.Name(), framer: record.Lines(), max: bc.MaxEventSize()}
	if args.Has("delim") {
		re, err := regexp.Compile(args.String("delim", ""))
		if err != nil {
			return cfg, args.Errorf("delim", "%v", err)
		}
		mode, err := record.ParseMode(args.String("delimMode", "exclude"))
		if err != nil {
			return cfg, args.Errorf("delimMode", "%v", err)
		}
		if cfg.framer, err = record.Delimited(re, mode); err != nil {
			return cfg, args.Errorf("delim", "%v", err)
		}
	} else if args.Has("delimMode") {
		return cfg, args.Errorf("delimMode", "needs delim=\"regex\"")
	}
	policy, err := record.Oversize(args)
	if err != nil {
		return cfg, err
	}
	cfg.policy = policy
	cfg.poll = bc.PropMillis("flume.tail.pollperiod", DefaultPollPeriod)
	return cfg, nil
}
