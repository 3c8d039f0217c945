// Package deco holds the built-in decorators: sinks that wrap another sink and change, filter,
// batch, sample, delay or retry what passes through them.
package deco

import (
	"fmt"
	"strings"

	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// Register adds every built-in decorator to r.
func Register(r *plugin.Registry) {
	registerTransforms(r)
	registerControl(r)
}

// registerDeco registers a decorator whose build errors end with its usage string, as the
// errors of argument binding do: `batch: argument n: must be between ...; usage: batch(n...)`.
// Builders report a bad argument with args.Errorf and leave the usage to this one place.
func registerDeco(r *plugin.Registry, sig spec.Signature, doc string, build plugin.DecoratorBuilder) {
	usage := sig.Usage()
	r.RegisterDecorator(sig, doc, func(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
		s, err := build(bc, args, next)
		if err != nil {
			return nil, withUsage(err, usage)
		}
		return s, nil
	})
}

// withUsage returns err with "; usage: " and usage appended to its message. A *spec.Error
// stays one, at the same position, so the registry and spec.Errors keep its place in the
// text; other errors are wrapped.
func withUsage(err error, usage string) error {
	suffix := "; usage: " + usage
	if strings.HasSuffix(err.Error(), suffix) {
		return err
	}
	if se, ok := err.(*spec.Error); ok {
		c := *se
		c.Msg += suffix
		return &c
	}
	return fmt.Errorf("%w%s", err, suffix)
}
