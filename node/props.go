package node

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/spec"
)

// Property is a configuration property the node reads, with the range of values it accepts.
type Property struct {
	Name     string
	Default  int64
	Min, Max int64
	Unit     string // "ms" or "bytes", for messages
	Doc      string
}

// Properties are the properties the node and its components read, by their classic names.
var Properties = []Property{
	{"flume.event.max.size.bytes", event.DefaultMaxSize, 1, event.MaxSizeLimit, "bytes",
		"largest event body; larger ones are truncated or rejected, and counted"},
	{"flume.tail.pollperiod", 1000, 1, 3_600_000, "ms", "how often tail checks a file for new data"},
	{"flume.node.close.timeout", 30_000, 0, 3_600_000, "ms", "how long a flow may take to flush and close"},
	{"flume.collector.roll.millis", 30_000, 1, 1 << 40, "ms", "default roll period of collector(ms) { ... }"},
	{"flume.agent.failover.backoff.initial", 1000, 1, 1 << 40, "ms", "first wait before a failed failover branch is retried"},
	{"flume.agent.failover.backoff.max", 60_000, 1, 1 << 40, "ms", "longest wait between retries of a failed branch"},
	{"flume.agent.failover.backoff.cumulativemax", 0, 0, 1 << 40, "ms", "total wait after which retrying decorators give up (0: never)"},
	{"flume.inisistentOpen.init.backoff", 1000, 1, 1 << 40, "ms", "first wait of insistentOpen and insistentAppend (classic spelling)"},
	{"flume.insistentOpen.init.backoff", 1000, 1, 1 << 40, "ms", "the same, spelled correctly"},
}

// CheckProps checks every known property in props: it must be an integer in its range. The
// error names the property and where it was set (origin: "-D", a file name). Unknown names are
// returned apart, with a suggestion, for the caller to warn about: a property of another system
// in a shared file is no error, but a misspelt one should not pass unnoticed.
func CheckProps(props map[string]string, origin string) (unknown []string, err error) {
	known := make(map[string]Property, len(Properties))
	names := make([]string, 0, len(Properties))
	for _, p := range Properties {
		known[p.Name] = p
		names = append(names, p.Name)
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(props)) {
		p, ok := known[name]
		if !ok {
			msg := fmt.Sprintf("unknown property %s (%s)", name, origin)
			if s := spec.Suggest(name, names); s != "" {
				msg += fmt.Sprintf("; did you mean %s?", s)
			}
			unknown = append(unknown, msg)
			continue
		}
		v, perr := strconv.ParseInt(props[name], 10, 64)
		switch {
		case perr != nil:
			errs = append(errs, fmt.Errorf("property %s (%s): %q is not an integer number of %s", name, origin, props[name], p.Unit))
		case v < p.Min || v > p.Max:
			errs = append(errs, fmt.Errorf("property %s (%s): %d is out of range: want %d to %d %s", name, origin, v, p.Min, p.Max, p.Unit))
		}
	}
	return unknown, errors.Join(errs...)
}
