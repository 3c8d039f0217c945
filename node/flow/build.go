// Package flow turns a parsed dataflow into running parts: it builds the source and the sink tree
// of a logical node from the spec AST (decorator chains, fan-out, failover, roll, collector) and
// drives events from the source into the sink.
package flow

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// Flow is a built logical node: a source and the sink tree it feeds. Nothing is open yet.
type Flow struct {
	Name   string
	Source plugin.Source
	Sink   plugin.Sink
	// Spec is the canonical text of the definition the flow was built from.
	Spec string
	// SourceSpec is the canonical text of its source: positions kept for another source
	// are not resumed from.
	SourceSpec string

	// positions keeps the source's positions: the sink's keeper, or the logical node's
	// position store; nil when the source cannot resume. A Flow made by hand gets its sink's
	// keeper.
	positions plugin.PositionStore
}

// Build builds the flow of def. Every component is built (which checks every argument) but
// nothing is opened. The error lists every problem found, each with its position.
func Build(bc *plugin.BuildContext, def *spec.NodeDef) (*Flow, error) {
	b := newBuilder(bc)
	src := b.source(def.Source)
	snk := b.sink(def.Sink, "sink")
	if err := b.errs.Err(); err != nil {
		return nil, err
	}
	return &Flow{Name: def.Name, Source: src, Sink: snk, Spec: spec.FormatNode(def),
		SourceSpec: spec.FormatCall(def.Source),
		positions:  positionsFor(src, snk, bc.Positions, bc.Log())}, nil
}

// BuildSink builds a sink expression alone (used by tests and by sinks that rebuild a sub-sink,
// as roll does on every roll).
func BuildSink(bc *plugin.BuildContext, s spec.Sink) (plugin.Sink, error) {
	b := newBuilder(bc)
	snk := b.sink(s, "sink")
	if err := b.errs.Err(); err != nil {
		return nil, err
	}
	return snk, nil
}

// Validate checks a source and a sink as the master does before it accepts a config: it
// builds both, opening nothing. Either may be nil to check only the other. Every error found is
// returned, with its position.
func Validate(reg *plugin.Registry, src *spec.Call, snk spec.Sink) error {
	b := newBuilder(&plugin.BuildContext{Registry: reg, Validating: true})
	if src != nil {
		b.source(src)
	}
	if snk != nil {
		b.sink(snk, "sink")
	}
	return b.errs.Err()
}

// builder walks the AST, collecting errors rather than stopping at the first one, so a user
// sees every problem of a spec at once.
type builder struct {
	bc   *plugin.BuildContext
	reg  *plugin.Registry
	errs spec.ErrorList
}

func newBuilder(bc *plugin.BuildContext) *builder {
	if bc.Registry == nil {
		panic("flow: BuildContext without a Registry")
	}
	return &builder{bc: bc, reg: bc.Registry}
}

func (b *builder) fail(err error) {
	b.errs = append(b.errs, spec.Errors(err)...)
}

// scoped returns a copy of the build context whose logger and metrics are tagged with path.
func (b *builder) scoped(path string) *plugin.BuildContext {
	c := *b.bc
	c.Logger = b.bc.Log().With(slog.String("component", path))
	c.Metrics = b.bc.Counters().Sub(path)
	c.Place = path
	return &c
}

func (b *builder) source(c *spec.Call) plugin.Source {
	s, err := b.reg.BuildSource(b.scoped("source"), c)
	if err != nil {
		b.fail(err)
		return nil
	}
	return s
}

// sink builds s. path is where s sits in the flow ("sink.value"); a component receives the
// metrics view of that path and registers its counters under its own name in it, so the
// counters of `value("a", "b") console` read sink.value.events_in and sink.value.console.events.
func (b *builder) sink(s spec.Sink, path string) plugin.Sink {
	switch s := s.(type) {
	case *spec.SinkCall:
		snk, err := b.reg.BuildSink(b.scoped(path), s.Call)
		if err != nil {
			b.fail(err)
			return nil
		}
		return snk
	case *spec.Decorated:
		next := b.sink(s.Sink, path+"."+s.Deco.Name)
		if next == nil {
			// Still check the decorator's own arguments so every error shows at once.
			next = placeholder{}
		}
		d, err := b.reg.BuildDecorator(b.scoped(path), s.Deco, next)
		if err != nil {
			b.fail(err)
			return nil
		}
		return d
	case *spec.FanOut:
		branches := make([]plugin.Sink, len(s.Sinks))
		for i, c := range s.Sinks {
			branches[i] = b.sink(c, fmt.Sprintf("%s.fanout%d", path, i))
		}
		return newFanOut(branches)
	case *spec.Failover:
		branches := make([]plugin.Sink, len(s.Sinks))
		for i, c := range s.Sinks {
			branches[i] = b.sink(c, fmt.Sprintf("%s.failover%d", path, i))
		}
		return newFailover(b.scoped(path), branches)
	case *spec.Roll:
		return b.roll(s.Args, s.Sink, path, rollSignature)
	case *spec.Collector:
		return b.collector(s, path)
	}
	b.fail(spec.Errorf(s.Position(), "unsupported sink expression %T", s))
	return nil
}

// roll builds a roll sink at parent ("sink.value"); its sub-sink sits below it
// ("sink.value.roll"). The sub-sink is built once now, to check it, and again on every roll.
func (b *builder) roll(c *spec.Call, sub spec.Sink, parent string, sig *spec.Signature) plugin.Sink {
	path := parent + "." + sig.Name
	args, err := sig.Bind(c)
	if err != nil {
		b.fail(err)
		return nil
	}
	cfg, err := rollConfigFrom(b.bc, args)
	if err != nil {
		b.fail(err)
		return nil
	}
	if b.sink(sub, path) == nil {
		return nil
	}
	// Every roll rebuilds the sub-sink at the same place in the flow, so its counters carry on
	// under the same names.
	base := b.bc
	factory := func() (plugin.Sink, error) {
		nb := newBuilder(base)
		snk := nb.sink(sub, path)
		return snk, nb.errs.Err()
	}
	return newRoll(b.scoped(parent), sig.Name, cfg, factory)
}

// collector builds the generic `collector(ms) { sink }`: the sub-sink rolled every ms, behind
// the decorators that classic CollectorSink put in front of it (REFERENCE.md §4.3): unpack
// batches and compression, retry opens and appends, and drop a rolltag that came from upstream
// so that the collector's own roll tags the files.
func (b *builder) collector(s *spec.Collector, parent string) plugin.Sink {
	inner := b.roll(s.Args, s.Sink, parent, collectorSignature)
	path := parent + ".collector"
	if inner == nil {
		return nil
	}
	chain := []*spec.Call{
		{Name: "mask", Args: []spec.Value{{Kind: spec.KindString, Str: "rolltag"}}},
		{Name: "insistentOpen"}, {Name: "stubbornAppend"}, {Name: "insistentAppend"},
		{Name: "unbatch"}, {Name: "gunzip"},
	}
	var snk plugin.Sink = inner
	for _, call := range chain {
		call.Pos = s.Pos
		var err error
		snk, err = b.reg.BuildDecorator(b.scoped(path), call, snk)
		if err != nil {
			b.fail(fmt.Errorf("collector: %w", err))
			return nil
		}
	}
	return snk
}

var rollSignature = &spec.Signature{
	Name: "roll",
	Params: []spec.Param{
		{Name: "rollmillis", Kind: spec.ParamDuration, Required: true},
		{Name: "checkmillis", Kind: spec.ParamDuration, Default: "250"},
		{Name: "trigger", Kind: spec.ParamFunc, Default: "time", KeywordOnly: true},
	},
}

var collectorSignature = &spec.Signature{
	Name: "collector",
	Params: []spec.Param{
		{Name: "rollmillis", Kind: spec.ParamDuration, Default: "flume.collector.roll.millis"},
	},
}

// rollConfig is the bound configuration of a roll sink.
type rollConfig struct {
	every     time.Duration // roll after this long; 0 means only by size
	check     time.Duration // how often the timer checks
	sizeBytes int64         // roll when the body bytes written reach this; 0 means no size trigger
}

func rollConfigFrom(bc *plugin.BuildContext, args *spec.Args) (rollConfig, error) {
	cfg := rollConfig{
		every: args.Duration("rollmillis", bc.PropMillis("flume.collector.roll.millis", 30*time.Second)),
		check: args.Duration("checkmillis", 250*time.Millisecond),
	}
	if cfg.check <= 0 {
		return cfg, args.Errorf("checkmillis", "must be more than 0")
	}
	if trig := args.Func("trigger"); trig != nil {
		switch trig.Name {
		case "time":
			if len(trig.Args)+len(trig.Kwargs) != 0 {
				return cfg, args.Errorf("trigger", "time takes no arguments; usage: trigger=time or trigger=size(bytes)")
			}
		case "size":
			if len(trig.Args) != 1 || len(trig.Kwargs) != 0 || trig.Args[0].Kind != spec.KindInt || trig.Args[0].Int <= 0 {
				return cfg, args.Errorf("trigger", "size takes one integer of bytes, more than 0; usage: trigger=size(bytes)")
			}
			cfg.sizeBytes = trig.Args[0].Int
		default:
			msg := fmt.Sprintf("unknown trigger %q; usage: trigger=time or trigger=size(bytes)", trig.Name)
			return cfg, args.Errorf("trigger", "%s", msg)
		}
	}
	if cfg.every <= 0 && cfg.sizeBytes == 0 {
		return cfg, args.Errorf("rollmillis", "must be more than 0")
	}
	return cfg, nil
}

// placeholder stands in for a sub-sink that failed to build, so that the decorators above it
// can still be checked. It is never opened: a flow with errors is not returned.
type placeholder struct{ plugin.Sink }

// errorsJoin joins errors with "; " for errors from several branches.
func errorsJoin(errs []error) error {
	var msgs []string
	var nonNil []error
	for _, e := range errs {
		if e != nil {
			msgs = append(msgs, e.Error())
			nonNil = append(nonNil, e)
		}
	}
	if len(nonNil) == 0 {
		return nil
	}
	return &multiError{msg: strings.Join(msgs, "; "), errs: nonNil}
}

type multiError struct {
	msg  string
	errs []error
}

func (m *multiError) Error() string   { return m.msg }
func (m *multiError) Unwrap() []error { return m.errs }
