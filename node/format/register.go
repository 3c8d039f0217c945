package format

import (
	"slices"
	"strings"

	"github.com/flumego/flume/internal/hadoop/codec"
	"github.com/flumego/flume/internal/hadoop/seqfile"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// Register adds every output format to r.
func Register(r *plugin.Registry) {
	noArgs := func(f plugin.Format) plugin.FormatBuilder {
		return func(*plugin.BuildContext, *spec.Args) (plugin.Format, error) { return f, nil }
	}
	r.RegisterFormat(spec.Signature{Name: "default"},
		"the default format: each event's body and a newline (as raw)", noArgs(rawFormat("default")))
	r.RegisterFormat(spec.Signature{Name: "raw"},
		"each event's body and a newline", noArgs(rawFormat("raw")))
	r.RegisterFormat(spec.Signature{Name: "debug"},
		"classic Event.toString(): host [PRIORITY date] { attr : value } ... escaped body", noArgs(debugFormat()))
	r.RegisterFormat(spec.Signature{Name: "json"},
		`one JSON object per event: {"body","timestamp","pri","nanos","host","fields"}`, noArgs(jsonFormat()))
	r.RegisterFormat(spec.Signature{Name: "log4j"},
		"a log4j-style line: ISO 8601 date, priority, \"log4j:\", escaped body", noArgs(log4jFormat()))
	r.RegisterFormat(spec.Signature{Name: "syslog", Params: []spec.Param{{Name: "year", Kind: spec.ParamInt}}},
		"a syslog-style line: date, host, \"service: \" from the service attribute, body", buildSyslog)
	r.RegisterFormat(spec.Signature{Name: "avrojson"},
		"the Avro JSON encoding of each event as an AvroFlumeEvent, one per line", noArgs(avroJSONFormat()))
	r.RegisterFormat(spec.Signature{Name: "avrodata", Params: []spec.Param{
		{Name: "codec", Kind: spec.ParamString, Default: codecNull},
		{Name: "level", Kind: spec.ParamInt},
	}}, "an Avro container file of AvroFlumeEvent records; codec null, deflate, snappy or zstandard", buildAvroData)
	r.RegisterFormat(spec.Signature{Name: "seqfile", Params: []spec.Param{
		{Name: "codec", Kind: spec.ParamString, Default: "DefaultCodec"},
		{Name: "compression", Kind: spec.ParamString, Default: "block"},
	}}, "a Hadoop SequenceFile of classic Flume's WriteableEventKey and WriteableEvent records; codec None, DefaultCodec, GzipCodec, BZip2Codec, ZStandardCodec or SnappyCodec (short names too), compression block or record", buildSeqfile)
	r.RegisterFormat(spec.Signature{Name: "avro"},
		"an Avro container file of AvroFlumeEvent records, uncompressed",
		noArgs(&ocfFormat{name: "avro", codec: codecNull}))
}

// buildSyslog checks the year. Classic syslog output has no year in it (the year was there for
// parsing syslog lines), so a valid year changes nothing in what is written.
func buildSyslog(_ *plugin.BuildContext, args *spec.Args) (plugin.Format, error) {
	if y := args.Int("year", 0); args.Has("year") && (y < 1 || y > 9999) {
		return nil, args.Errorf("year", "want a year from 1 to 9999, got %d", y)
	}
	return syslogFormat(), nil
}

// buildAvroData checks the codec and the level, which only deflate and zstandard take.
func buildAvroData(_ *plugin.BuildContext, args *spec.Args) (plugin.Format, error) {
	codec := args.String("codec", codecNull)
	if !slices.Contains(codecNames, codec) {
		msg := "unknown codec %q; valid codecs: %s"
		if s := spec.Suggest(codec, codecNames); s != "" {
			msg = "unknown codec %q (did you mean \"" + s + "\"?); valid codecs: %s"
		}
		return nil, args.Errorf("codec", msg, codec, strings.Join(codecNames, ", "))
	}
	f := &ocfFormat{name: "avrodata", codec: codec}
	switch codec {
	case codecDeflate:
		f.level = int(args.Int("level", deflateDefaultLevel))
		if f.level < -1 || f.level > 9 {
			return nil, args.Errorf("level", "deflate takes a level from -1 (default) to 9, got %d", f.level)
		}
	case codecZstandard:
		f.level = int(args.Int("level", zstdDefaultLevel))
		if f.level < 1 || f.level > 22 {
			return nil, args.Errorf("level", "zstandard takes a level from 1 to 22, got %d", f.level)
		}
	default:
		if args.Has("level") {
			return nil, args.Errorf("level", "codec %s takes no level; only deflate and zstandard do", codec)
		}
	}
	return f, nil
}

// buildSeqfile checks the codec and the compression type of a SequenceFile.
func buildSeqfile(_ *plugin.BuildContext, args *spec.Args) (plugin.Format, error) {
	name := args.String("codec", "DefaultCodec")
	block := false
	switch kind := strings.ToLower(args.String("compression", "block")); kind {
	case "block":
		block = true
	case "record":
	case "none":
		name = "None"
	default:
		return nil, args.Errorf("compression", "unknown compression %q; want block, record or none", kind)
	}
	c, err := codec.Lookup(name)
	if err != nil {
		return nil, args.Errorf("codec", "%v", err)
	}
	if c == nil {
		block = false // no codec: records as they are
	}
	f, err := seqfile.NewFormat(name, block)
	if err != nil {
		return nil, args.Errorf("codec", "%v", err)
	}
	return f, nil
}
