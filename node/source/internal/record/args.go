package record

import (
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/spec"
)

// OversizeParam is the keyword parameter that chooses what a source does with a record over
// flume.event.max.size.bytes: oversize="truncate" (the classic behaviour, the default),
// oversize="reject" (drop it) or, for sources of lines, oversize="split" (several events of at
// most the limit). All are counted.
var OversizeParam = spec.Param{Name: "oversize", Kind: spec.ParamString, KeywordOnly: true, Default: `"truncate"`}

// Oversize returns the policy given by the oversize keyword, or a positioned error.
func Oversize(args *spec.Args) (event.OversizePolicy, error) {
	p, err := event.ParseOversizePolicy(args.String(OversizeParam.Name, "truncate"))
	if err != nil {
		return p, args.Errorf(OversizeParam.Name, "%v", err)
	}
	return p, nil
}

// OversizeWhole is Oversize for sources of whole messages, which cannot split one.
func OversizeWhole(args *spec.Args, what string) (event.OversizePolicy, error) {
	p, err := Oversize(args)
	if err == nil && p == event.Split {
		return p, args.Errorf(OversizeParam.Name, "%s cannot be split: want truncate or reject", what)
	}
	return p, err
}
