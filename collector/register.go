package collector

import (
	"github.com/flumego/flume/collector/sinks"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// Register adds the collector tier's components to r: the collector sources, and the
// collector sinks with the commit protocol.
func Register(r *plugin.Registry) {
	sinks.Register(r)
	r.RegisterSource(spec.Signature{Name: "collectorSource", Params: []spec.Param{portParam()}},
		"receives agents' batches on a port (flume.collector.event.port, 35853)", buildSource)
	p := portParam()
	p.Required = true
	r.RegisterSource(spec.Signature{Name: "rpcSource", Params: []spec.Param{p}},
		"receives agents' batches on a port", buildSource)
}
