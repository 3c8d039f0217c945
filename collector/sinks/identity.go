package sinks

import (
	"strings"

	"github.com/flumego/flume/node/plugin"
)

// A collector sink commits under an identity of its own (DESIGN.md, "One identity per
// collector sink"). A collector's only sink commits as the physical node ("c1"), as it always
// has. A sink that is a branch of a fan-out, or under one, commits as the physical node and
// its place in the flow ("c1/sink.fanout1"): the commit point keeps one record of a chunk per
// place (state.SplitCollector), so the sinks of a fan-out each commit every chunk once, and a
// chunk sent again to another collector with the same flow is a duplicate at each place. The
// place is the one the flow gives the sink (BuildContext.Place), which a restart or a roll gives
// again.

// identity returns the identity a collector sink built with bc commits under.
func identity(bc *plugin.BuildContext) string {
	for _, part := range strings.Split(bc.Place, ".") {
		if strings.HasPrefix(part, "fanout") {
			return bc.PhysicalNode + "/" + bc.Place
		}
	}
	return bc.PhysicalNode
}
