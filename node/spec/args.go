package spec

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParamKind is the type a parameter accepts.
type ParamKind uint8

// Parameter types. Literals are coerced as classic Flume did, which handed every literal to
// builders as a string: an integer parameter also takes "1000", a boolean also takes "true".
const (
	ParamString   ParamKind = iota + 1 // a string; numbers and booleans are taken as their text
	ParamInt                           // an integer; or a string holding one
	ParamFloat                         // a float or an integer; or a string holding one
	ParamBool                          // true or false; or the strings "true", "false"
	ParamDuration                      // an integer of milliseconds, or a string: "1500", "10s"
	ParamFunc                          // a function (avrojson, size(100)); a string names one
	ParamAny                           // any value, as written
)

var paramKindNames = [...]string{"", "a string", "an integer", "a number", "a boolean",
	"a duration (milliseconds or \"10s\")", "a function", "a value"}

// Param describes one parameter of a component.
type Param struct {
	Name string
	Kind ParamKind
	// Required positional parameters come first; optional ones follow.
	Required bool
	// Default is shown in the usage string (`startFromEnd=false`); the builder supplies the
	// value it stands for.
	Default string
	// KeywordOnly parameters are given only as name=value, after the positional ones.
	KeywordOnly bool
	// Variadic is set on the last positional parameter when it may repeat: mask("a", "b").
	Variadic bool
}

// Signature is a component's name and parameters. Bind checks a call against it; Usage
// documents it. Positional parameters may also be given by keyword.
type Signature struct {
	Name   string
	Params []Param
	// UsageText, if set, replaces the generated usage string (to keep classic wording).
	UsageText string
}

// Usage returns the usage string, e.g. tail("file"[, startFromEnd=false]{, delim="regex"}).
func (s *Signature) Usage() string {
	if s.UsageText != "" {
		return s.UsageText
	}
	var b strings.Builder
	b.WriteString(s.Name)
	var pos, kw []Param
	for _, p := range s.Params {
		if p.KeywordOnly {
			kw = append(kw, p)
		} else {
			pos = append(pos, p)
		}
	}
	if len(pos) == 0 && len(kw) == 0 {
		return b.String()
	}
	b.WriteByte('(')
	first, open := true, 0
	for _, p := range pos {
		if !p.Required {
			b.WriteByte('[')
			open++
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		b.WriteString(paramText(p))
		if p.Variadic {
			fmt.Fprintf(&b, "[, %s...]", paramText(Param{Name: p.Name, Kind: p.Kind}))
		}
	}
	b.WriteString(strings.Repeat("]", open))
	if len(kw) > 0 {
		b.WriteByte('{')
		for i, p := range kw {
			if i > 0 || !first {
				b.WriteString(", ")
			}
			b.WriteString(paramText(p))
		}
		b.WriteByte('}')
	}
	b.WriteByte(')')
	return b.String()
}

func paramText(p Param) string {
	if p.Default != "" && !p.Required {
		return p.Name + "=" + p.Default
	}
	if p.Kind == ParamString {
		return strconv.Quote(p.Name)
	}
	return p.Name
}

// Args is a call bound to its signature: every given argument checked and coerced to its
// parameter's type. Accessors take the default for a parameter that was not given.
type Args struct {
	sig  *Signature
	call *Call
	vals map[string]Value
	rest []Value // values of a variadic parameter beyond the first
}

// Bind checks c against s: argument count, keyword names, types. The error is an *Error at
// the offending argument, naming the component and ending with its usage string.
func (s *Signature) Bind(c *Call) (*Args, error) {
	a := &Args{sig: s, call: c, vals: make(map[string]Value, len(c.Args)+len(c.Kwargs))}
	var positional []Param
	for _, p := range s.Params {
		if !p.KeywordOnly {
			positional = append(positional, p)
		}
	}
	for i, v := range c.Args {
		var p Param
		switch {
		case i < len(positional):
			p = positional[i]
		case len(positional) > 0 && positional[len(positional)-1].Variadic:
			p = positional[len(positional)-1]
		default:
			return nil, a.usageErr(v.Pos, "too many arguments (%d given, at most %d)", len(c.Args), len(positional))
		}
		cv, err := coerce(p, v)
		if err != nil {
			return nil, a.usageErr(v.Pos, "argument %s: %v", p.Name, err)
		}
		if i >= len(positional) {
			a.rest = append(a.rest, cv)
		} else {
			a.vals[p.Name] = cv
		}
	}
	for _, kw := range c.Kwargs {
		p, ok := s.param(kw.Name)
		if !ok {
			msg := fmt.Sprintf("unknown keyword argument %q", kw.Name)
			if sug := Suggest(kw.Name, s.paramNames()); sug != "" {
				msg += fmt.Sprintf("; did you mean %q?", sug)
			}
			return nil, a.usageErr(kw.Pos, "%s", msg)
		}
		if _, dup := a.vals[p.Name]; dup {
			return nil, a.usageErr(kw.Pos, "argument %s given twice", p.Name)
		}
		cv, err := coerce(p, kw.Value)
		if err != nil {
			return nil, a.usageErr(kw.Value.Pos, "argument %s: %v", p.Name, err)
		}
		a.vals[p.Name] = cv
	}
	// Keyword-only parameters may be required too.
	for _, p := range s.Params {
		if _, ok := a.vals[p.Name]; p.Required && !ok {
			return nil, a.usageErr(c.Pos, "missing argument %s", paramText(p))
		}
	}
	return a, nil
}

func (s *Signature) param(name string) (Param, bool) {
	for _, p := range s.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

func (s *Signature) paramNames() []string {
	n := make([]string, len(s.Params))
	for i, p := range s.Params {
		n[i] = p.Name
	}
	return n
}

func (a *Args) usageErr(pos Pos, format string, args ...any) *Error {
	if !pos.IsValid() {
		pos = a.call.Pos
	}
	return Errorf(pos, "%s: %s; usage: %s", a.sig.Name, fmt.Sprintf(format, args...), a.sig.Usage())
}

// coerce converts v to the type of p, as classic Flume's string-typed arguments allowed.
func coerce(p Param, v Value) (Value, error) {
	bad := func() (Value, error) {
		return v, fmt.Errorf("want %s, got %s", paramKindNames[p.Kind], describe(v))
	}
	switch p.Kind {
	case ParamAny:
		return v, nil
	case ParamString:
		switch v.Kind {
		case KindString:
			return v, nil
		case KindInt, KindFloat, KindBool:
			// As classic: integers in decimal (0x10 is "16"), floats and booleans as written.
			v.Str = v.Text
			if v.Str == "" || v.Kind == KindInt {
				v.Str = FormatValue(v)
			}
			v.Kind = KindString
			return v, nil
		}
		return bad()
	case ParamInt:
		switch v.Kind {
		case KindInt:
			return v, nil
		case KindString:
			n, err := strconv.ParseInt(strings.TrimSpace(v.Str), 10, 64)
			if err != nil {
				return bad()
			}
			v.Kind, v.Int = KindInt, n
			return v, nil
		}
		return bad()
	case ParamFloat:
		switch v.Kind {
		case KindFloat:
			return v, nil
		case KindInt:
			v.Kind, v.Float = KindFloat, float64(v.Int)
			return v, nil
		case KindString:
			f, err := strconv.ParseFloat(strings.TrimSpace(v.Str), 64)
			if err != nil {
				return bad()
			}
			v.Kind, v.Float = KindFloat, f
			return v, nil
		}
		return bad()
	case ParamBool:
		switch v.Kind {
		case KindBool:
			return v, nil
		case KindString:
			var b bool
			switch strings.ToLower(strings.TrimSpace(v.Str)) {
			case "true":
				b = true
			case "false":
			default:
				return bad()
			}
			v.Kind, v.Bool = KindBool, b
			return v, nil
		}
		return bad()
	case ParamDuration:
		switch v.Kind {
		case KindInt:
			if v.Int < 0 {
				return v, fmt.Errorf("want a duration of 0 or more, got %d", v.Int)
			}
			return v, nil
		case KindString:
			s := strings.TrimSpace(v.Str)
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
				v.Kind, v.Int = KindInt, n
				return v, nil
			}
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 {
				return bad()
			}
			v.Kind, v.Int = KindInt, d.Milliseconds()
			return v, nil
		}
		return bad()
	case ParamFunc:
		switch v.Kind {
		case KindFunc:
			return v, nil
		case KindString:
			// The pre-0.9.4 form console("avrojson") names the function in a string.
			v.Kind, v.Func = KindFunc, &Call{Pos: v.Pos, Name: v.Str}
			return v, nil
		}
		return bad()
	}
	return bad()
}

func describe(v Value) string {
	switch v.Kind {
	case KindFunc:
		return "function " + v.Func.Name
	case KindInvalid:
		return "nothing"
	}
	return v.Kind.String() + " " + FormatValue(v)
}

// Name returns the name of the component the arguments were bound for.
func (a *Args) Name() string { return a.sig.Name }

// Pos returns the position of the call.
func (a *Args) Pos() Pos { return a.call.Pos }

// Call returns the call the arguments came from.
func (a *Args) Call() *Call { return a.call }

// Has reports whether parameter name was given.
func (a *Args) Has(name string) bool {
	_, ok := a.vals[name]
	return ok
}

// Value returns the bound value of parameter name and whether it was given.
func (a *Args) Value(name string) (Value, bool) {
	v, ok := a.vals[name]
	return v, ok
}

// String returns the string parameter name, or def if it was not given.
func (a *Args) String(name, def string) string {
	if v, ok := a.vals[name]; ok {
		return v.Str
	}
	return def
}

// Strings returns every value of the variadic string parameter name, in order.
func (a *Args) Strings(name string) []string {
	v, ok := a.vals[name]
	if !ok {
		return nil
	}
	out := []string{v.Str}
	for _, r := range a.rest {
		out = append(out, r.Str)
	}
	return out
}

// Int returns the integer parameter name, or def.
func (a *Args) Int(name string, def int64) int64 {
	if v, ok := a.vals[name]; ok {
		return v.Int
	}
	return def
}

// Float returns the number parameter name, or def.
func (a *Args) Float(name string, def float64) float64 {
	if v, ok := a.vals[name]; ok {
		return v.Float
	}
	return def
}

// Bool returns the boolean parameter name, or def.
func (a *Args) Bool(name string, def bool) bool {
	if v, ok := a.vals[name]; ok {
		return v.Bool
	}
	return def
}

// Duration returns the duration parameter name (given in milliseconds), or def.
func (a *Args) Duration(name string, def time.Duration) time.Duration {
	if v, ok := a.vals[name]; ok {
		return time.Duration(v.Int) * time.Millisecond
	}
	return def
}

// Func returns the function parameter name, or nil if it was not given.
func (a *Args) Func(name string) *Call {
	if v, ok := a.vals[name]; ok {
		return v.Func
	}
	return nil
}

// Errorf returns an *Error at the argument name (at the call if it was not given) that names
// the component and the argument: `regex: argument regex: missing ')'`.
func (a *Args) Errorf(name, format string, args ...any) error {
	pos := a.call.Pos
	if v, ok := a.vals[name]; ok && v.Pos.IsValid() {
		pos = v.Pos
	}
	return Errorf(pos, "%s: argument %s: %s", a.sig.Name, name, fmt.Sprintf(format, args...))
}

// Suggest returns the candidate closest to name by edit distance, if it is close enough to be
// a likely typo, or "".
func Suggest(name string, candidates []string) string {
	best, bestD := "", len(name)/2+2
	for _, c := range candidates {
		d := editDistance(strings.ToLower(name), strings.ToLower(c))
		if d < bestD || (d == bestD && best != "" && c < best) {
			best, bestD = c, d
		}
	}
	if bestD > 3 && !strings.EqualFold(best, name) {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
