package collector

import (
	"strings"

	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
)

// A collector sink commits under an identity of its own (DESIGN.md, "One identity per
// collector sink"). A collector's only sink commits as the physical node ("c1"), as it always
// has. A sink that is a branch of a fan-out, or under one, commits as the physical node and
// its place in the flow ("c1/sink.fanout1"): the commit point keeps one record of a chunk per
// place (state.SplitCollector), so the sinks of a fan-out each commit every chunk once, and a
// chunk sent again to another collector with the same flow is a duplicate at each place. The
// place is the one the flow gives the sink's metrics, which a restart or a roll gives again.

// identity returns the identity a collector sink built with bc commits under. reg is a view of
// bc's metrics holding at least one counter, counter.
func identity(bc *plugin.BuildContext, reg *metrics.Registry, counter string) string {
	place := flowPlace(bc, reg, counter)
	for _, part := range strings.Split(place, ".") {
		if strings.HasPrefix(part, "fanout") {
			return bc.PhysicalNode + "/" + place
		}
	}
	return bc.PhysicalNode
}

// flowPlace returns where in its flow the component built with bc sits ("sink",
// "sink.fanout1.value"): the names the flow gives its metrics, without the logical node. reg is
// bc.Counters().Sub(name) for some name, holding the counter called counter.
func flowPlace(bc *plugin.BuildContext, reg *metrics.Registry, counter string) string {
	for _, v := range reg.Snapshot() {
		// The name is bc's view ("c1.sink.fanout1."), reg's name ("commit.") and counter.
		prefix, ok := strings.CutSuffix(v.Name, "."+counter)
		if !ok {
			continue
		}
		place := ""
		if i := strings.LastIndexByte(prefix, '.'); i >= 0 {
			place = prefix[:i]
		}
		if rest, ok := strings.CutPrefix(place, bc.LogicalNode+"."); ok && bc.LogicalNode != "" {
			place = rest
		}
		return place
	}
	return ""
}
