package spec

import "math"

// Structural equality of specs. Two specs are equal when they mean the same thing: positions
// and the spelling of literals (Value.Text: 0x10 or 16, 1.5f or 1.5) do not matter, so that a
// spec equals its canonical print. The master uses it to tell a changed config from a
// reformatted one.

// EqualNodes reports whether a and b define the same nodes, in the same order.
func EqualNodes(a, b []*NodeDef) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equalNode(a[i], b[i]) {
			return false
		}
	}
	return true
}

func equalNode(a, b *NodeDef) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Name == b.Name && EqualCall(a.Source, b.Source) && EqualSink(a.Sink, b.Sink)
}

// EqualSink reports whether a and b are the same sink expression. Two nil sinks are equal.
func EqualSink(a, b Sink) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	switch a := a.(type) {
	case *SinkCall:
		b, ok := b.(*SinkCall)
		return ok && EqualCall(a.Call, b.Call)
	case *Decorated:
		b, ok := b.(*Decorated)
		return ok && EqualCall(a.Deco, b.Deco) && EqualSink(a.Sink, b.Sink)
	case *FanOut:
		b, ok := b.(*FanOut)
		return ok && equalSinks(a.Sinks, b.Sinks)
	case *Failover:
		b, ok := b.(*Failover)
		return ok && equalSinks(a.Sinks, b.Sinks)
	case *Roll:
		b, ok := b.(*Roll)
		return ok && EqualCall(a.Args, b.Args) && EqualSink(a.Sink, b.Sink)
	case *Collector:
		b, ok := b.(*Collector)
		return ok && EqualCall(a.Args, b.Args) && EqualSink(a.Sink, b.Sink)
	}
	return false
}

func equalSinks(a, b []Sink) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !EqualSink(a[i], b[i]) {
			return false
		}
	}
	return true
}

// EqualCall reports whether a and b call the same name with equal arguments, keyword
// arguments in the same order. `f` and `f()` are equal. Two nil calls are equal.
func EqualCall(a, b *Call) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Name != b.Name || len(a.Args) != len(b.Args) || len(a.Kwargs) != len(b.Kwargs) {
		return false
	}
	for i := range a.Args {
		if !equalValue(a.Args[i], b.Args[i]) {
			return false
		}
	}
	for i := range a.Kwargs {
		if a.Kwargs[i].Name != b.Kwargs[i].Name || !equalValue(a.Kwargs[i].Value, b.Kwargs[i].Value) {
			return false
		}
	}
	return true
}

// equalValue compares the field that a value's Kind makes meaningful.
func equalValue(a, b Value) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case KindString:
		return a.Str == b.Str
	case KindInt:
		return a.Int == b.Int
	case KindFloat:
		return a.Float == b.Float || math.IsNaN(a.Float) && math.IsNaN(b.Float)
	case KindBool:
		return a.Bool == b.Bool
	case KindFunc:
		return EqualCall(a.Func, b.Func)
	}
	return true
}
