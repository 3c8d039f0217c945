package sink

import (
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// buildFormat builds the output format named by the argument format of args. When it is not
// given, def names the format; an empty def means the registry's "default".
func buildFormat(bc *plugin.BuildContext, args *spec.Args, def string) (plugin.Format, error) {
	if bc == nil || bc.Registry == nil {
		return nil, ErrNoRegistry
	}
	c := args.Func("format")
	if c == nil && def != "" {
		c = &spec.Call{Pos: args.Pos(), Name: def}
	}
	return bc.Registry.BuildFormat(bc, c)
}
