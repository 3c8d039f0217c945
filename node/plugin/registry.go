package plugin

import (
	"fmt"
	"slices"

	"github.com/flumego/flume/node/spec"
)

// Kind is the kind of a component.
type Kind int

// The kinds of components.
const (
	KindSource Kind = iota
	KindSink
	KindDecorator
	KindFormat
)

var kindNames = [...]string{"source", "sink", "decorator", "output format"}

// String returns "source", "sink", "decorator" or "output format".
func (k Kind) String() string { return kindNames[k] }

// Entry is a registered component: its signature, a one-line description, and its builder
// (exactly one of the builder fields is set, matching Kind).
type Entry struct {
	Kind      Kind
	Signature spec.Signature
	Doc       string
	Source    SourceBuilder
	Sink      SinkBuilder
	Decorator DecoratorBuilder
	Format    FormatBuilder
}

// Name returns the component's name.
func (e *Entry) Name() string { return e.Signature.Name }

// Usage returns the component's usage string.
func (e *Entry) Usage() string { return e.Signature.Usage() }

// Registry maps component names to builders, one namespace per kind (a source and a sink may
// share a name, as `null` and `text` do). It is filled once at start, then only read, so reads
// need no lock.
type Registry struct {
	entries [4]map[string]*Entry
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	r := &Registry{}
	for i := range r.entries {
		r.entries[i] = make(map[string]*Entry)
	}
	return r
}

func (r *Registry) add(e *Entry) {
	m := r.entries[e.Kind]
	if _, dup := m[e.Name()]; dup {
		panic(fmt.Sprintf("plugin: %s %q registered twice", e.Kind, e.Name()))
	}
	m[e.Name()] = e
}

// RegisterSource adds a source. A name registered twice panics: it is a programming error.
func (r *Registry) RegisterSource(sig spec.Signature, doc string, b SourceBuilder) {
	r.add(&Entry{Kind: KindSource, Signature: sig, Doc: doc, Source: b})
}

// RegisterSink adds a sink.
func (r *Registry) RegisterSink(sig spec.Signature, doc string, b SinkBuilder) {
	r.add(&Entry{Kind: KindSink, Signature: sig, Doc: doc, Sink: b})
}

// RegisterDecorator adds a decorator.
func (r *Registry) RegisterDecorator(sig spec.Signature, doc string, b DecoratorBuilder) {
	r.add(&Entry{Kind: KindDecorator, Signature: sig, Doc: doc, Decorator: b})
}

// RegisterFormat adds an output format.
func (r *Registry) RegisterFormat(sig spec.Signature, doc string, b FormatBuilder) {
	r.add(&Entry{Kind: KindFormat, Signature: sig, Doc: doc, Format: b})
}

// Lookup returns the component of kind k named name.
func (r *Registry) Lookup(k Kind, name string) (*Entry, bool) {
	e, ok := r.entries[k][name]
	return e, ok
}

// Entries returns the components of kind k sorted by name.
func (r *Registry) Entries(k Kind) []*Entry {
	out := make([]*Entry, 0, len(r.entries[k]))
	for _, e := range r.entries[k] {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *Entry) int {
		switch {
		case a.Name() < b.Name():
			return -1
		case a.Name() > b.Name():
			return 1
		}
		return 0
	})
	return out
}

// bind finds the component of kind k for call c and binds its arguments. An unknown name is an
// *spec.Error at the call with a "did you mean" suggestion from the same kind, or a note that
// the name exists as another kind (a decorator used as a sink).
func (r *Registry) bind(k Kind, c *spec.Call) (*Entry, *spec.Args, error) {
	e, ok := r.entries[k][c.Name]
	if !ok {
		return nil, nil, r.unknown(k, c)
	}
	args, err := e.Signature.Bind(c)
	if err != nil {
		return nil, nil, err
	}
	return e, args, nil
}

func (r *Registry) unknown(k Kind, c *spec.Call) error {
	msg := fmt.Sprintf("unknown %s %q", k, c.Name)
	for other := range r.entries {
		if Kind(other) != k {
			if _, ok := r.entries[other][c.Name]; ok {
				return spec.Errorf(c.Pos, "%s (%q is a %s)", msg, c.Name, Kind(other))
			}
		}
	}
	names := make([]string, 0, len(r.entries[k]))
	for n := range r.entries[k] {
		names = append(names, n)
	}
	if s := spec.Suggest(c.Name, names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return spec.Errorf(c.Pos, "%s", msg)
}

// buildErr places a builder's error at the call when the builder did not give a position.
func buildErr(c *spec.Call, err error) error {
	if err == nil {
		return nil
	}
	if errs := spec.Errors(err); len(errs) == 1 && errs[0].Line > 0 {
		return err
	}
	return spec.Errorf(c.Pos, "%s: %v", c.Name, err)
}

// BuildSource builds the source named by c.
func (r *Registry) BuildSource(bc *BuildContext, c *spec.Call) (Source, error) {
	e, args, err := r.bind(KindSource, c)
	if err != nil {
		return nil, err
	}
	s, err := e.Source(bc, args)
	return s, buildErr(c, err)
}

// BuildSink builds the plain sink named by c.
func (r *Registry) BuildSink(bc *BuildContext, c *spec.Call) (Sink, error) {
	e, args, err := r.bind(KindSink, c)
	if err != nil {
		return nil, err
	}
	s, err := e.Sink(bc, args)
	return s, buildErr(c, err)
}

// BuildDecorator builds the decorator named by c around next.
func (r *Registry) BuildDecorator(bc *BuildContext, c *spec.Call, next Sink) (Sink, error) {
	e, args, err := r.bind(KindDecorator, c)
	if err != nil {
		return nil, err
	}
	s, err := e.Decorator(bc, args, next)
	return s, buildErr(c, err)
}

// BuildFormat builds the output format named by c; a nil c means the format "default".
func (r *Registry) BuildFormat(bc *BuildContext, c *spec.Call) (Format, error) {
	if c == nil {
		c = &spec.Call{Name: "default"}
	}
	e, args, err := r.bind(KindFormat, c)
	if err != nil {
		return nil, err
	}
	f, err := e.Format(bc, args)
	return f, buildErr(c, err)
}
