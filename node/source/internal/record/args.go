package record

import (
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/spec"
)

// OversizeParam is the keyword parameter that chooses what a source does with a record over
// flume.event.max.size.bytes: oversize="truncate" (the classic behaviour, the default) or
// oversize="reject" (drop it). Both are counted.
var OversizeParam = spec.Param{Name: "oversize", Kind: spec.ParamString, KeywordOnly: true, Default: `"truncate"`}

// Oversize returns the policy given by the oversize keyword, or a positioned error.
func Oversize(args *spec.Args) (event.OversizePolicy, error) {
	p, err := event.ParseOversizePolicy(args.String(OversizeParam.Name, "truncate"))
	if err != nil {
		return p, args.Errorf(OversizeParam.Name, "%v", err)
	}
	return p, nil
}
