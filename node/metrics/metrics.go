// Package metrics holds the counters and gauges that components keep: events and bytes in and
// out, drops, retries. A Registry is a flat table of named values; Sub gives a component a view
// that prefixes its names, so one registry serves a whole node and reads as
// "agentA.sink.tail.events_in".
//
// Counters are atomic and cheap enough for the hot path when updated once per batch.
package metrics

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Counter is a monotonically increasing value.
type Counter struct{ v atomic.Int64 }

// Add adds n (n >= 0).
func (c *Counter) Add(n int64) { c.v.Add(n) }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Load returns the current value.
func (c *Counter) Load() int64 { return c.v.Load() }

// Gauge is a value that goes up and down.
type Gauge struct{ v atomic.Int64 }

// Set sets the value.
func (g *Gauge) Set(n int64) { g.v.Store(n) }

// Add adds n, which may be negative.
func (g *Gauge) Add(n int64) { g.v.Add(n) }

// Load returns the current value.
func (g *Gauge) Load() int64 { return g.v.Load() }

type table struct {
	mu       sync.Mutex
	counters map[string]*Counter
	gauges   map[string]*Gauge
}

// Registry is a table of counters and gauges, or a prefixed view of one. The zero value is not
// usable; a nil *Registry hands out counters that are not recorded anywhere.
type Registry struct {
	t      *table
	prefix string
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{t: &table{counters: map[string]*Counter{}, gauges: map[string]*Gauge{}}}
}

// Sub returns a view of r whose names are prefixed with name and a dot.
func (r *Registry) Sub(name string) *Registry {
	if r == nil {
		return nil
	}
	return &Registry{t: r.t, prefix: r.prefix + name + "."}
}

// Counter returns the counter called name, creating it on first use. Two components asking for
// the same full name share it.
func (r *Registry) Counter(name string) *Counter {
	if r == nil {
		return new(Counter)
	}
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	full := r.prefix + name
	c, ok := r.t.counters[full]
	if !ok {
		c = new(Counter)
		r.t.counters[full] = c
	}
	return c
}

// Gauge returns the gauge called name, creating it on first use.
func (r *Registry) Gauge(name string) *Gauge {
	if r == nil {
		return new(Gauge)
	}
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	full := r.prefix + name
	g, ok := r.t.gauges[full]
	if !ok {
		g = new(Gauge)
		r.t.gauges[full] = g
	}
	return g
}

// Value is one named reading.
type Value struct {
	Name  string
	Value int64
	Gauge bool
}

// Snapshot returns the values under this view's prefix (with the prefix kept), sorted by name.
func (r *Registry) Snapshot() []Value {
	if r == nil {
		return nil
	}
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	var out []Value
	for n, c := range r.t.counters {
		if strings.HasPrefix(n, r.prefix) {
			out = append(out, Value{Name: n, Value: c.Load()})
		}
	}
	for n, g := range r.t.gauges {
		if strings.HasPrefix(n, r.prefix) {
			out = append(out, Value{Name: n, Value: g.Load(), Gauge: true})
		}
	}
	slices.SortFunc(out, func(a, b Value) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Get returns the value of counter or gauge name (relative to this view) and whether it exists.
func (r *Registry) Get(name string) (int64, bool) {
	if r == nil {
		return 0, false
	}
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	full := r.prefix + name
	if c, ok := r.t.counters[full]; ok {
		return c.Load(), true
	}
	if g, ok := r.t.gauges[full]; ok {
		return g.Load(), true
	}
	return 0, false
}
