// Package deco holds the built-in decorators: sinks that wrap another sink and change, filter,
// batch, sample, delay or retry what passes through them.
package deco

import "github.com/flumego/flume/node/plugin"

// Register adds every built-in decorator to r.
func Register(r *plugin.Registry) {
	registerTransforms(r)
	registerControl(r)
}
