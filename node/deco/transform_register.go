package deco

import "github.com/flumego/flume/node/plugin"

// registerTransforms adds the decorators that change events.
func registerTransforms(r *plugin.Registry) {}
