// Package spec is the dataflow specification language of classic Flume 0.9.4: a lexer, a
// recursive-descent parser producing an AST with source positions, a canonical printer, and the
// binding of a component's arguments against its signature.
//
//	agentA : tail("/var/log/app.log") | value("dc", "east") { batch(100) => agentE2ESink("c1") } ;
//
// The package is a leaf: it knows the grammar, not the components. The node and the master both
// use it, the master to refuse a bad config before any node sees it.
package spec

// Pos is a position in spec text. Line and Col start at 1; Col counts characters (runes), not
// bytes. The zero Pos means "no position".
type Pos struct {
	Line, Col int
}

// IsValid reports whether p is a real position.
func (p Pos) IsValid() bool { return p.Line > 0 }

// NodeDef is one logical node definition of a spec file: `name : source | sink ;`.
type NodeDef struct {
	Pos    Pos
	Name   string // an identifier or an IPv4 literal
	Source *Call
	Sink   Sink
}

// Call is a component or function invocation: `name`, `name()`, `name(args)`. It is used for
// sources, plain sinks, decorators, the arguments of roll and collector, and function arguments
// such as `avrojson` or `size(1000)`.
type Call struct {
	Pos    Pos // position of the name
	Name   string
	Args   []Value // positional arguments, in order
	Kwargs []Kwarg // keyword arguments, in order; they follow the positional ones
}

// Kwarg is a keyword argument `name=value`.
type Kwarg struct {
	Pos   Pos // position of the name
	Name  string
	Value Value
}

// Kind is the kind of a Value.
type Kind uint8

// The kinds of argument values.
const (
	KindInvalid Kind = iota
	KindString       // "text", with escapes decoded
	KindInt          // decimal, 0x hex or 0 octal
	KindFloat        // 1.5, 2e3, 1.5f
	KindBool         // true, false
	KindFunc         // a function: avrojson, size(1000)
)

var kindNames = [...]string{"invalid", "string", "integer", "float", "boolean", "function"}

// String returns the kind's name as error messages use it.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// Value is an argument: a literal or a function. Exactly the field of its Kind is meaningful.
type Value struct {
	Pos   Pos
	Kind  Kind
	Str   string  // KindString: the decoded string
	Int   int64   // KindInt
	Float float64 // KindFloat
	Bool  bool    // KindBool
	Func  *Call   // KindFunc
	// Text is the literal as written in the source ("0x1F", "1.5f", "\"a\\tb\""); empty for
	// values that were not parsed. It is informational only: Equal ignores it and the printer
	// writes the canonical form of the value.
	Text string
}

// Sink is a node of a sink expression: one of *SinkCall, *Decorated, *FanOut, *Failover,
// *Roll and *Collector.
type Sink interface {
	// Position returns where the sink expression starts.
	Position() Pos
	isSink()
}

// SinkCall is a plain sink: `console`, `text("/tmp/out")`.
type SinkCall struct {
	Call *Call
}

// Decorated is a decorator applied to a sink. `{ deco => sink }` and the juxtaposition
// `deco sink` both produce it; `d1 d2 s` is Decorated{d1, Decorated{d2, s}}.
type Decorated struct {
	Pos  Pos
	Deco *Call
	Sink Sink
}

// FanOut sends every event to each of its sinks: `[ a, b, c ]`.
type FanOut struct {
	Pos   Pos
	Sinks []Sink
}

// Failover tries its sinks in order: `< a ? b ? c >`. It has at least two sinks.
type Failover struct {
	Pos   Pos
	Sinks []Sink
}

// Roll closes and reopens its sink periodically: `roll(ms[, checkms]{, trigger=...}) { sink }`.
// Args holds the arguments with Name "roll".
type Roll struct {
	Pos  Pos
	Args *Call
	Sink Sink
}

// Collector is the generic collector form `collector(ms) { sink }`. Args holds the arguments
// with Name "collector".
type Collector struct {
	Pos  Pos
	Args *Call
	Sink Sink
}

// Position implementations.
func (s *SinkCall) Position() Pos  { return s.Call.Pos }
func (s *Decorated) Position() Pos { return s.Pos }
func (s *FanOut) Position() Pos    { return s.Pos }
func (s *Failover) Position() Pos  { return s.Pos }
func (s *Roll) Position() Pos      { return s.Pos }
func (s *Collector) Position() Pos { return s.Pos }

func (*SinkCall) isSink()  {}
func (*Decorated) isSink() {}
func (*FanOut) isSink()    {}
func (*Failover) isSink()  {}
func (*Roll) isSink()      {}
func (*Collector) isSink() {}
