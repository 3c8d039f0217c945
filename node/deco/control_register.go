package deco

import (
	"fmt"
	"time"

	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/retry"
	"github.com/flumego/flume/node/spec"
)

// Properties that give the backoff defaults of insistentOpen and insistentAppend.
const (
	// PropBackoffMax caps a single wait, in milliseconds (default 60000).
	PropBackoffMax = "flume.agent.failover.backoff.max"
	// PropBackoffCumulativeMax caps the sum of the waits of one retry loop, in milliseconds
	// (default: no cap).
	PropBackoffCumulativeMax = "flume.agent.failover.backoff.cumulativemax"
	// PropInsistentInit is the first wait, in milliseconds (default 1000), under classic
	// Flume's misspelled name; PropInsistentInitFixed, the correct spelling, is read when it
	// is not set.
	PropInsistentInit      = "flume.inisistentOpen.init.backoff"
	PropInsistentInitFixed = "flume.insistentOpen.init.backoff"
)

// maxReservoir bounds reservoirSampler(k): the reservoir holds clones of k events until Close,
// so k sizes memory that nothing else limits.
const maxReservoir = 1 << 20

// Signatures of the control decorators.
var (
	sigInsistentOpen = spec.Signature{Name: "insistentOpen", Params: []spec.Param{
		{Name: "max", Kind: spec.ParamDuration, Default: "60000"},
		{Name: "init", Kind: spec.ParamDuration, Default: "1000"},
		{Name: "cumulativeMax", Kind: spec.ParamDuration, Default: "unbounded"},
	}}
	sigInsistentAppend = spec.Signature{Name: "insistentAppend", Params: []spec.Param{
		{Name: "maxSingle", Kind: spec.ParamDuration, Default: "60000"},
		{Name: "init", Kind: spec.ParamDuration, Default: "1000"},
		{Name: "cumulativeMax", Kind: spec.ParamDuration, Default: "unbounded"},
	}}
	sigProbSampler = spec.Signature{Name: "probSampler", Params: []spec.Param{
		{Name: "prob", Kind: spec.ParamFloat, Required: true},
		{Name: "seed", Kind: spec.ParamInt},
	}}
	sigReservoirSampler = spec.Signature{Name: "reservoirSampler", Params: []spec.Param{
		{Name: "k", Kind: spec.ParamInt, Required: true},
		{Name: "seed", Kind: spec.ParamInt, KeywordOnly: true},
	}}
	sigFlakeyAppend = spec.Signature{Name: "flakeyAppend", Params: []spec.Param{
		{Name: "prob", Kind: spec.ParamFloat, Required: true},
		{Name: "seed", Kind: spec.ParamInt},
	}}
)

// registerControl adds the decorators that sample, delay, retry and throttle.
func registerControl(r *plugin.Registry) {
	registerDeco(r, spec.Signature{Name: "nullDeco"},
		"pass events through unchanged", buildNullDeco)
	registerDeco(r, spec.Signature{Name: "lazyOpen"},
		"open the sink on the first append instead of at open", buildLazyOpen)
	registerDeco(r, sigInsistentOpen,
		"retry opening the sink with capped exponential backoff", buildInsistentOpen)
	registerDeco(r, sigInsistentAppend,
		"retry a failed append with capped exponential backoff", buildInsistentAppend)
	registerDeco(r, spec.Signature{Name: "stubbornAppend"},
		"on a failed append, reopen the sink and append once more", buildStubbornAppend)
	registerDeco(r, intSig("intervalSampler", "n", ""),
		"pass the first event and every n-th after it", buildIntervalSampler)
	registerDeco(r, sigProbSampler,
		"pass each event with probability prob", buildProbSampler)
	registerDeco(r, sigReservoirSampler,
		fmt.Sprintf("keep a uniform sample of k events (k at most %d) and send it on close", maxReservoir),
		buildReservoirSampler)
	registerDeco(r, spec.Signature{Name: "delay", Params: []spec.Param{
		{Name: "ms", Kind: spec.ParamDuration, Default: "1000"}}},
		"wait ms milliseconds before passing each batch", buildDelay)
	registerDeco(r, intSig("mult", "n", "1"),
		"pass each event n times", buildMult)
	registerDeco(r, sigFlakeyAppend,
		"fail an append with probability prob (testing)", buildFlakeyAppend)
	registerDeco(r, intSig("intervalFlakeyAppend", "n", ""),
		"fail the append of every n-th event (testing)", buildIntervalFlakeyAppend)
	registerDeco(r, intSig("intervalDroppyAppend", "n", ""),
		"silently drop every n-th event (testing)", buildIntervalDroppyAppend)
	registerDeco(r, spec.Signature{Name: "choke", Params: []spec.Param{
		{Name: "chokeId", Kind: spec.ParamString, Required: true}}},
		"limit the bytes per second (body plus a per-event overhead) to the node's limit for chokeId", buildChoke)
}

// intSig is the signature of a decorator with one integer parameter, required when it has no
// default.
func intSig(name, param, def string) spec.Signature {
	return spec.Signature{Name: name, Params: []spec.Param{
		{Name: param, Kind: spec.ParamInt, Required: def == "", Default: def},
	}}
}

// atLeastOne returns integer argument name, or def, checking that it is 1 or more.
func atLeastOne(args *spec.Args, name string, def int64) (int64, error) {
	n := args.Int(name, def)
	if n < 1 {
		return 0, args.Errorf(name, "must be 1 or more, got %d", n)
	}
	return n, nil
}

// probability returns number argument name, checking that it is within [0, 1].
func probability(args *spec.Args, name string) (float64, error) {
	p := args.Float(name, 0)
	if !(p >= 0 && p <= 1) {
		return 0, args.Errorf(name, "must be between 0 and 1, got %g", p)
	}
	return p, nil
}

// backoffArgs builds a backoff from the decorator's arguments, taking the defaults from the
// node's properties. Given arguments must be positive: a zero wait would spin, and a zero
// cumulative cap would never retry (omit it for no cap).
func backoffArgs(bc *plugin.BuildContext, args *spec.Args, maxName string) (retry.Backoff, error) {
	b := retry.Backoff{
		Max:           bc.PropMillis(PropBackoffMax, retry.DefaultMax),
		Initial:       bc.PropMillis(PropInsistentInit, bc.PropMillis(PropInsistentInitFixed, retry.DefaultInitial)),
		CumulativeMax: max(bc.PropMillis(PropBackoffCumulativeMax, 0), 0),
	}
	for _, p := range []struct {
		name string
		dst  *time.Duration
	}{{maxName, &b.Max}, {"init", &b.Initial}, {"cumulativeMax", &b.CumulativeMax}} {
		if !args.Has(p.name) {
			continue
		}
		d := args.Duration(p.name, 0)
		if d <= 0 {
			return b, args.Errorf(p.name, "must be a positive number of milliseconds")
		}
		*p.dst = d
	}
	return b, nil
}

func buildNullDeco(_ *plugin.BuildContext, _ *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	// A pass-through needs no wrapper: the sink itself is the decorated sink.
	return next, nil
}

func buildLazyOpen(_ *plugin.BuildContext, _ *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	return NewLazyOpen(next), nil
}

func buildInsistentOpen(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	b, err := backoffArgs(bc, args, "max")
	if err != nil {
		return nil, err
	}
	return NewInsistentOpen(bc, next, b), nil
}

func buildInsistentAppend(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	b, err := backoffArgs(bc, args, "maxSingle")
	if err != nil {
		return nil, err
	}
	return NewInsistentAppend(bc, next, b), nil
}

func buildStubbornAppend(bc *plugin.BuildContext, _ *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	return NewStubbornAppend(bc, next), nil
}

func buildIntervalSampler(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	n, err := atLeastOne(args, "n", 0)
	if err != nil {
		return nil, err
	}
	return newIntervalSampler(bc, next, n), nil
}

func buildProbSampler(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	p, err := probability(args, "prob")
	if err != nil {
		return nil, err
	}
	return newProbSampler(bc, next, p, args.Int("seed", 0), args.Has("seed")), nil
}

func buildReservoirSampler(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	k, err := atLeastOne(args, "k", 0)
	if err != nil {
		return nil, err
	}
	if k > maxReservoir {
		return nil, args.Errorf("k", "must be at most %d, got %d", maxReservoir, k)
	}
	return newReservoirSampler(bc, next, int(k), args.Int("seed", 0), args.Has("seed")), nil
}

func buildDelay(_ *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	return &delay{ctlBase: ctlBase{next}, d: args.Duration("ms", time.Second)}, nil
}

func buildMult(_ *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	n, err := atLeastOne(args, "n", 1)
	if err != nil {
		return nil, err
	}
	const maxN = 1 << 16
	if n > maxN {
		return nil, args.Errorf("n", "must be at most %d, got %d", maxN, n)
	}
	return &mult{ctlBase: ctlBase{next}, n: int(n)}, nil
}

func buildFlakeyAppend(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	p, err := probability(args, "prob")
	if err != nil {
		return nil, err
	}
	return &flakeyAppend{
		ctlBase:  ctlBase{next},
		p:        p,
		r:        newRand(args.Int("seed", 0), args.Has("seed")),
		failures: ctlCounters(bc, "flakeyAppend").Counter("failures"),
	}, nil
}

func buildIntervalFlakeyAppend(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	n, err := atLeastOne(args, "n", 0)
	if err != nil {
		return nil, err
	}
	return &intervalFlakeyAppend{
		ctlBase:  ctlBase{next},
		n:        n,
		failures: ctlCounters(bc, "intervalFlakeyAppend").Counter("failures"),
	}, nil
}

func buildIntervalDroppyAppend(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	n, err := atLeastOne(args, "n", 0)
	if err != nil {
		return nil, err
	}
	return newIntervalDroppy(bc, next, n), nil
}

func buildChoke(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	id := args.String("chokeId", "")
	if id == "" {
		return nil, args.Errorf("chokeId", "must not be empty")
	}
	var chokes *plugin.ChokeTable
	if bc != nil {
		chokes = bc.Chokes
	}
	return &choke{
		ctlBase: ctlBase{next},
		id:      id,
		chokes:  chokes,
		bytes:   ctlCounters(bc, "choke").Counter("bytes"),
	}, nil
}
