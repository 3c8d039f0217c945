// Package source holds the built-in local sources of classic Flume: null, stdin, text, tail (in
// node/source/tail), the synthetic generators, exec and fail.
//
// Every source stamps its events with the time they were read, priority INFO and this host's
// name, and applies flume.event.max.size.bytes: a record over the limit is truncated (or, with
// oversize="reject", dropped; with oversize="split", cut into several events), and counted in
// events_truncated (events_rejected, events_split). Sources count
// events_in and bytes_in once per batch, under their own name in the metrics view the flow gives
// them (source.tail.events_in).
//
// Next returns batches of up to 1000 events. The byte-stream sources cut records out of a
// reused read buffer and reuse their Event structs, so in steady state they allocate nothing
// per event: a batch is valid only until the next Next, as plugin.Source allows.
package source

import (
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/source/tail"
)

// Register adds every source of this package, and tail, to r.
func Register(r *plugin.Registry) {
	r.RegisterSource(nullSig, "produces nothing: ends at once", buildNull)
	r.RegisterSource(failSig, "fails to open with the message (a placeholder)", buildFail)
	r.RegisterSource(stdinSig, "one event per line of standard input, until EOF", buildStdin)
	r.RegisterSource(textSig, "one event per line of a file, then ends", buildText)
	tail.Register(r) // tail, multitail, tailDir

	r.RegisterSource(synthSig, "count events of size random bytes (count 0: endless)", buildSynth)
	r.RegisterSource(synthRndSizeSig, "count events of random bytes, of sizes from minsize up to maxsize", buildSynthRndSize)
	r.RegisterSource(nonlSynthSig, "like synth, with '\\n' replaced by a space", buildNonlSynth)
	r.RegisterSource(asciiSynthSig, "like synth, in printable ASCII without newlines", buildASCIISynth)

	r.RegisterSource(execSig, "runs a command (no shell): one event per output line, or per run with aggregate", buildExec)
	r.RegisterSource(execStreamSig, "runs a long-lived command: one event per output line", buildExecStream)
	r.RegisterSource(execPeriodicSig, "runs a command every period: its whole output as one event", buildExecPeriodic)
}
