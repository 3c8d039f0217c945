// Package builtin assembles the registry of every built-in component: the one list of
// registrations of the node's sources, sinks, decorators and output formats.
package builtin

import (
	"github.com/flumego/flume/collector"
	"github.com/flumego/flume/node/agent"
	"github.com/flumego/flume/node/deco"
	"github.com/flumego/flume/node/format"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/sink"
	"github.com/flumego/flume/node/source"
	"github.com/flumego/flume/node/source/spooldir"
	"github.com/flumego/flume/node/source/syslog"
)

// Registry returns a new registry holding every built-in component.
func Registry() *plugin.Registry {
	r := plugin.NewRegistry()
	source.Register(r)
	spooldir.Register(r)
	syslog.Register(r)
	sink.Register(r)
	deco.Register(r)
	format.Register(r)
	agent.Register(r)
	collector.Register(r)
	registerTranslated(r)
	return r
}
