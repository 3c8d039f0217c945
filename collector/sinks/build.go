package sinks

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/flumego/flume/collector/hdfs"
	"github.com/flumego/flume/collector/store"
	"github.com/flumego/flume/internal/hadoop/codec"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// Properties the sinks read.
const (
	propRollMillis = "flume.collector.roll.millis"
	propFormat     = "flume.collector.output.format"
	propCodec      = "flume.collector.dfs.compress.codec"
	propRollBytes  = "flume.collector.roll.bytes"
	propMaxOpen    = "flume.collector.max.open"
	propIdle       = "flume.collector.idle.millis"
)

// Defaults of those properties, as classic.
const (
	defaultRoll   = 30 * time.Second
	defaultFormat = "avrojson"
)

var collectorSig = spec.Signature{Name: "collectorSink", Params: []spec.Param{
	{Name: "fsdir", Kind: spec.ParamString, Required: true},
	{Name: "fileprefix", Kind: spec.ParamString, Required: true},
	{Name: "rollmillis", Kind: spec.ParamDuration, Default: propRollMillis},
	{Name: "format", Kind: spec.ParamFunc, Default: propFormat},
}}

var dfsSig = spec.Signature{Name: "dfs", Params: []spec.Param{
	{Name: "path", Kind: spec.ParamString, Required: true},
	{Name: "format", Kind: spec.ParamFunc, Default: propFormat},
}}

var customSigs = []spec.Signature{
	{Name: "customdfs", Params: dfsSig.Params},
	{Name: "formatDfs", Params: dfsSig.Params},
}

var escapedParams = []spec.Param{
	{Name: "path", Kind: spec.ParamString, Required: true},
	{Name: "file", Kind: spec.ParamString},
	{Name: "format", Kind: spec.ParamFunc, Default: propFormat},
}

var escapedSigs = []spec.Signature{
	{Name: "escapedCustomDfs", Params: escapedParams},
	{Name: "escapedFormatDfs", Params: escapedParams},
}

// builders build the sinks.
type builders struct{}

// collector builds collectorSink: buckets under fsdir named fileprefix + a roll tag, all
// finalized every rollmillis.
func (b builders) collector(bc *plugin.BuildContext, args *spec.Args) (plugin.Sink, error) {
	dir, prefix := args.String("fsdir", ""), args.String("fileprefix", "")
	if dir == "" {
		return nil, args.Errorf("fsdir", "empty directory")
	}
	roll := args.Duration("rollmillis", bc.PropMillis(propRollMillis, defaultRoll))
	if roll <= 0 {
		return nil, args.Errorf("rollmillis", "must be more than 0, got %d", roll.Milliseconds())
	}
	o := store.Options{Path: joinPath(dir, prefix)}
	s, err := b.build(bc, args, "fsdir", o)
	if err != nil {
		return nil, err
	}
	s.every = roll
	return s, nil
}

// dfs builds dfs: the file path, escapes expanded, as classic DFSEventSink did.
func (b builders) dfs(bc *plugin.BuildContext, args *spec.Args) (plugin.Sink, error) {
	return b.build(bc, args, "path", store.Options{Path: args.String("path", ""), Exact: true})
}

// custom builds customdfs and formatDfs: the file path as written.
func (b builders) custom(bc *plugin.BuildContext, args *spec.Args) (plugin.Sink, error) {
	literal := strings.ReplaceAll(args.String("path", ""), "%", "%%")
	return b.build(bc, args, "path", store.Options{Path: literal, Exact: true})
}

// escaped builds escapedCustomDfs and escapedFormatDfs: path/file, escapes expanded.
func (b builders) escaped(bc *plugin.BuildContext, args *spec.Args) (plugin.Sink, error) {
	p := args.String("path", "")
	if file := args.String("file", ""); file != "" {
		p = joinPath(p, file)
	}
	return b.build(bc, args, "path", store.Options{Path: p, Exact: true})
}

// joinPath puts file under dir with one slash between them, as classic did.
func joinPath(dir, file string) string {
	if strings.HasSuffix(dir, "/") {
		return dir + file
	}
	return dir + "/" + file
}

// build completes o with the format, compression, logger and metrics, checks it, and returns
// the sink. pathParam names the argument a bad path is reported at.
func (b builders) build(bc *plugin.BuildContext, args *spec.Args, pathParam string, o store.Options) (*storeSink, error) {
	if args.String(pathParam, "") == "" {
		return nil, args.Errorf(pathParam, "empty path")
	}
	f, err := buildFormat(bc, args)
	if err != nil {
		return nil, err
	}
	comp, err := compression(bc)
	if err != nil {
		return nil, spec.Errorf(args.Pos(), "%s: %v", args.Name(), err)
	}
	reg := bc.Counters().Sub(args.Name())
	o.Format, o.Compress, o.Logger, o.Metrics = f, comp, bc.Log(), reg
	o.RollBytes = bc.PropInt(propRollBytes, 0)
	o.MaxOpen = int(bc.PropInt(propMaxOpen, store.DefaultMaxOpen))
	o.IdleAfter = bc.PropMillis(propIdle, 0)
	if isHDFS(o.Path) {
		fsys, err := hdfsFS(bc, o.Path)
		if err != nil {
			return nil, args.Errorf(pathParam, "%v", err)
		}
		o.FS = fsys
	}
	if err := o.Validate(); err != nil {
		return nil, args.Errorf(pathParam, "%v", err)
	}
	s := &storeSink{
		name: args.Name(), log: bc.Log(), tidy: o.RollBytes > 0 || o.IdleAfter > 0,
		events: reg.Counter("events_out"), bytes: reg.Counter("bytes_out"),
	}
	deadName := cmp.Or(bc.PhysicalNode, "collector")
	s.delivery = &plain{}
	if c := newCommitter(bc); c != nil {
		s.delivery, deadName = c, c.identity
		o.ManualSettle = true // a file is finished once all it holds is committed
		o.Owner = c.identity  // its leftovers are known among other collectors' (HDFS)
	}
	s.opts = o
	if s.dead, err = newDeadLetter(o, deadName, reg, bc.Log()); err != nil {
		return nil, args.Errorf(pathParam, "dead letters: %v", err)
	}
	return s, nil
}

// hdfsFS returns the backend of an hdfs:// path. A flow built to be checked (on a master,
// whose Hadoop configuration is not the collector's) has the path's form checked only.
func hdfsFS(bc *plugin.BuildContext, p string) (store.FS, error) {
	if bc.Validating {
		if err := hdfs.CheckURL(p); err != nil {
			return nil, err
		}
		return hdfs.Unconnected(), nil
	}
	settings, err := hdfs.LoadSettings(bc.Prop)
	if err != nil {
		return nil, err
	}
	return hdfs.New(p, settings, bc.Log())
}

// isHDFS reports whether p is an hdfs:// path.
func isHDFS(p string) bool { return len(p) >= 7 && strings.EqualFold(p[:7], "hdfs://") }

// buildFormat builds the format argument, or the collector's default format.
func buildFormat(bc *plugin.BuildContext, args *spec.Args) (plugin.Format, error) {
	if bc == nil || bc.Registry == nil {
		return nil, spec.Errorf(args.Pos(), "%s: %v", args.Name(), ErrRegistry)
	}
	c := args.Func("format")
	if c == nil {
		c = &spec.Call{Pos: args.Pos(), Name: bc.Prop(propFormat, defaultFormat)}
	}
	return bc.Registry.BuildFormat(bc, c)
}

// compression checks flume.collector.dfs.compress.codec: None, or a Hadoop codec by its class
// name (GzipCodec, DefaultCodec, BZip2Codec, ZStandardCodec, SnappyCodec, with or without the
// package) or short name, case aside, as classic's codec lookup took them.
func compression(bc *plugin.BuildContext) (string, error) {
	v := bc.Prop(propCodec, "None")
	if _, err := codec.Lookup(v); err != nil {
		return "", fmt.Errorf("property %s: %w", propCodec, err)
	}
	return v, nil
}
