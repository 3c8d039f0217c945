package deco

import (
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// Signatures of the transforming decorators, with classic Flume's argument names.
var (
	sigValue = spec.Signature{Name: "value", Params: []spec.Param{
		{Name: "attr", Kind: spec.ParamString, Required: true},
		{Name: "value", Kind: spec.ParamString, Required: true},
		{Name: "escape", Kind: spec.ParamBool, Default: "false", KeywordOnly: true},
	}}
	sigMask = spec.Signature{Name: "mask", Params: []spec.Param{
		{Name: "attr", Kind: spec.ParamString, Required: true, Variadic: true},
	}}
	sigSelect = spec.Signature{Name: "select", Params: []spec.Param{
		{Name: "attr", Kind: spec.ParamString, Required: true, Variadic: true},
	}}
	sigFormat = spec.Signature{Name: "format", Params: []spec.Param{
		{Name: "pattern", Kind: spec.ParamString, Required: true},
	}}
	sigDigest = spec.Signature{Name: "digest", Params: []spec.Param{
		{Name: "algorithm", Kind: spec.ParamString, Required: true},
		{Name: "attr", Kind: spec.ParamString, Required: true},
		{Name: "base64", Kind: spec.ParamBool, Default: "false", KeywordOnly: true},
	}}
	sigRegex = spec.Signature{Name: "regex", Params: []spec.Param{
		{Name: "regex", Kind: spec.ParamString, Required: true},
		{Name: "idx", Kind: spec.ParamInt, Required: true},
		{Name: "attr", Kind: spec.ParamString, Required: true},
	}}
	sigRegexAll = spec.Signature{Name: "regexAll", Params: []spec.Param{
		{Name: "regex", Kind: spec.ParamString, Required: true},
		{Name: "name", Kind: spec.ParamString, Required: true, Variadic: true},
	}}
	sigSplit = spec.Signature{Name: "split", Params: []spec.Param{
		{Name: "regex", Kind: spec.ParamString, Required: true},
		{Name: "idx", Kind: spec.ParamInt, Required: true},
		{Name: "attr", Kind: spec.ParamString, Required: true},
	}}
	sigExDate = spec.Signature{Name: "exDate", Params: []spec.Param{
		{Name: "attr", Kind: spec.ParamString, Required: true},
		{Name: "pattern", Kind: spec.ParamString, Required: true},
		{Name: "prefix", Kind: spec.ParamString, Default: `"date"`},
		{Name: "padding", Kind: spec.ParamBool, Default: "true"},
	}}
	sigBatch = spec.Signature{Name: "batch", Params: []spec.Param{
		{Name: "n", Kind: spec.ParamInt, Required: true},
		{Name: "maxLatencyMs", Kind: spec.ParamDuration, Default: "0"},
	}}
)

// registerTransforms adds the decorators that change events.
func registerTransforms(r *plugin.Registry) {
	registerDeco(r, sigValue,
		"set attribute attr to value, expanding escapes with escape=true", buildValue)
	registerDeco(r, sigMask,
		"remove the listed attributes", buildMask)
	registerDeco(r, sigSelect,
		"keep only the listed attributes", buildSelect)
	registerDeco(r, sigFormat,
		"replace the body with pattern, escapes expanded", buildFormat)
	registerDeco(r, sigDigest,
		"set attr to a digest of the body (MD5, SHA-1, SHA-256, ...)", buildDigest)
	registerDeco(r, sigRegex,
		"set attr to capture group idx of the first match of regex (RE2) in the body", buildRegex)
	registerDeco(r, sigRegexAll,
		"set one attribute per capture group of the first match of regex (RE2)", buildRegexAll)
	registerDeco(r, sigSplit,
		"set attr to field idx of the body split around regex (RE2)", buildSplit)
	registerDeco(r, sigExDate,
		"parse attr with a SimpleDateFormat pattern into prefix+day, month, year, hr, min, sec", buildExDate)
	registerDeco(r, sigEventTime,
		"set the event time from the time written in the body (regex group 1, or the body's start)", buildEventTime)
	registerDeco(r, sigExTime,
		"alias of eventTime: set the event time from the time written in the body", buildEventTime)
	registerDeco(r, sigBatch,
		"pack every n events into one aggregate event, sending a partial one after maxLatencyMs", buildBatch)
	registerDeco(r, spec.Signature{Name: "unbatch"},
		"expand aggregate events made by batch; pass other events through", buildUnbatch)
	registerDeco(r, spec.Signature{Name: "gzip"},
		"replace each event by its gzipped encoding in attribute compressGzip", buildGzip)
	registerDeco(r, spec.Signature{Name: "gunzip"},
		"restore events packed by gzip; pass other events through", buildGunzip)
}
