// Package sink holds the built-in local sinks of classic Flume: null, console, text, counter and
// fail. Sinks that write bytes take an output format (node/format) from the registry at build
// time and make its encoder in Open.
//
// Sinks count events_out and bytes_out (body bytes) once per batch, under their own name in the
// metrics view the flow gives them (which reads sink.text.events_out for a plain text sink).
package sink

import "github.com/flumego/flume/node/plugin"

// Register adds every sink of this package to r.
func Register(r *plugin.Registry) {
	r.RegisterSink(nullSig, "drops every event", buildNull)
	r.RegisterSink(consoleSig, "writes events to standard output in a format (default debug)", buildConsole)
	r.RegisterSink(textSig, "writes events to a file, replacing it, in a format (default raw)", buildText)
	r.RegisterSink(counterSig, "counts events in the metric name", buildCounter)
	r.RegisterSink(failSig, "fails to open and to append, with the message (a placeholder)", buildFail)
}
