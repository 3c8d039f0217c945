package builtin

import (
	"context"
	"fmt"

	"github.com/flumego/flume/node/agent"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// The components a master translates away before a node sees them (REFERENCE.md §5.5): their
// signatures let configurations that use them be checked when they are submitted. A node asked
// to build one directly, without a master, says what it is for.
func registerTranslated(r *plugin.Registry) {
	for _, name := range []string{"autoCollectorSource", "logicalSource"} {
		r.RegisterSource(spec.Signature{Name: name},
			"a collector source the master places on its physical node's host and port",
			func(bc *plugin.BuildContext, a *spec.Args) (plugin.Source, error) {
				if u := translatedOnly(bc, a); u.check {
					return u, nil
				} else {
					return nil, u.err
				}
			})
	}
	for name, doc := range map[string]string{
		"autoE2EChain": "an end-to-end chain of up to three collectors of the flow, chosen by the master",
		"autoDFOChain": "a disk-failover chain of up to three collectors of the flow, chosen by the master",
		"autoBEChain":  "a best-effort chain of up to three collectors of the flow, chosen by the master",
	} {
		// The batch keywords pass through the translation to the agent chain.
		r.RegisterSink(spec.Signature{Name: name, Params: agent.BatchParams()}, doc,
			func(bc *plugin.BuildContext, a *spec.Args) (plugin.Sink, error) { return translatedSink(bc, a) })
	}
	r.RegisterSink(spec.Signature{Name: "logicalSink", Params: []spec.Param{
		{Name: "logicalnode", Kind: spec.ParamString, Required: true}}},
		"sends to the collector source of a logical node, wherever the master placed it",
		func(bc *plugin.BuildContext, a *spec.Args) (plugin.Sink, error) { return translatedSink(bc, a) })
}

// translatedOnly returns a stand-in for a build that only checks a configuration (the
// arguments were bound already), and the reason a build that would run is refused.
func translatedOnly(bc *plugin.BuildContext, a *spec.Args) *unrunnable {
	return &unrunnable{check: bc.Validating, err: plugin.Permanent(fmt.Errorf(
		"%s is translated by the master when a configuration is submitted; "+
			"a node cannot run it by itself: configure the logical node through a master", a.Name()))}
}

func translatedSink(bc *plugin.BuildContext, a *spec.Args) (plugin.Sink, error) {
	if u := translatedOnly(bc, a); u.check {
		return u, nil
	} else {
		return nil, u.err
	}
}

// unrunnable stands for a translated component in a flow built only to be checked; it is never
// opened, and says why if it is.
type unrunnable struct {
	check bool
	err   error
}

func (u *unrunnable) Open(context.Context) error                   { return u.err }
func (u *unrunnable) Next(context.Context) ([]*event.Event, error) { return nil, u.err }
func (u *unrunnable) Append(context.Context, []*event.Event) error { return u.err }
func (u *unrunnable) Close(context.Context) error                  { return nil }
