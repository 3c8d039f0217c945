package spec

// The parser is a recursive descent over the grammar of classic Flume 0.9.4:
//
//	nodes   : node* EOF
//	node    : (Identifier | IPLiteral) ':' call '|' sink ';'
//	sink    : '[' sink (',' sink)* ']'
//	        | '<' sink ('?' sink)+ '>'
//	        | '{' call '=>' sink '}'
//	        | 'roll' args '{' sink '}'
//	        | 'collector' args? '{' sink '}'
//	        | call sink?                 // a call followed by a sink is a decorator
//	call    : Identifier args?
//	args    : '(' [arg (',' arg)*] ')'   // positional arguments before keyword ones
//	arg     : Identifier '=' value | value
//	value   : literal | call
//
// A sink never starts with a token that may follow one (';' ',' ']' '?' '>' '}'), so one token
// of look-ahead decides every choice; telling a keyword argument from a function argument takes
// a second.

// maxDepth bounds the nesting of sinks and function arguments, so that hostile input cannot
// exhaust the stack of the parser, the printer or a builder.
const maxDepth = 200

// maxErrors bounds the errors ParseNodes collects; after that it gives up.
const maxErrors = 20

// ParseNodes parses a spec file or multiconfig text: a sequence of `name : source | sink ;`
// definitions. After an error it resumes after the next ';' and goes on, so it returns an
// ErrorList with the first error of each broken definition (at most 20), together with the
// definitions that did parse: a checker can go on to check those, but nothing may run a spec
// that has errors. Empty text (or only comments) is no nodes and no error.
func ParseNodes(text string) ([]*NodeDef, error) {
	p := newParser(text)
	var nodes []*NodeDef
	for p.tok.kind != tEOF {
		n, err := p.node()
		if err != nil {
			if !p.addErr(err) {
				break
			}
			p.skipDef()
			continue
		}
		nodes = append(nodes, n)
	}
	if len(p.errs) > 0 {
		return nodes, p.errs
	}
	return nodes, nil
}

// ParseSource parses a source alone, such as `tail("/var/log/app.log")`. The error is an
// *Error.
func ParseSource(text string) (*Call, error) {
	p := newParser(text)
	c, err := p.call("source name")
	if err == nil {
		err = p.expectEOF("source")
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ParseSink parses a sink expression alone, such as `batch(100) [console, text("/tmp/x")]`.
// The error is an *Error.
func ParseSink(text string) (Sink, error) {
	p := newParser(text)
	s, err := p.sink()
	if err == nil {
		err = p.expectEOF("sink")
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// parser holds the state of one parse: the lexer, one token of look-ahead beyond the current
// token, the nesting depth and the errors collected so far.
type parser struct {
	src      string
	lx       lexer
	tok      token // the current token
	ahead    token // the token after tok, when hasAhead
	hasAhead bool
	prevEnd  int // byte offset just past the last consumed token
	depth    int
	errs     ErrorList
	// vals collects the positional arguments of the calls being parsed, innermost last, so
	// that each call gets one slice of the right size instead of a growing one.
	vals []Value
}

func newParser(src string) *parser {
	p := &parser{src: src, lx: newLexer(src)}
	p.tok = p.lx.next()
	return p
}

// next consumes the current token.
func (p *parser) next() {
	p.prevEnd = p.tok.end
	if p.hasAhead {
		p.tok, p.hasAhead = p.ahead, false
		return
	}
	p.tok = p.lx.next()
}

// peek returns the token after the current one without consuming anything.
func (p *parser) peek() token {
	if !p.hasAhead {
		p.ahead, p.hasAhead = p.lx.next(), true
	}
	return p.ahead
}

// addErr records err and reports whether parsing should go on.
func (p *parser) addErr(err *Error) bool {
	if len(p.errs) == maxErrors {
		p.errs = append(p.errs, &Error{Line: err.Line, Col: err.Col, Msg: "too many errors"})
		return false
	}
	p.errs = append(p.errs, err)
	return true
}

// skipDef moves past the ';' that ends the current definition. Errors inside the skipped text
// are not reported: after a broken string or comment they are mostly echoes of the first one.
func (p *parser) skipDef() {
	for p.tok.kind != tSemi && p.tok.kind != tEOF {
		p.next()
	}
	if p.tok.kind == tSemi {
		p.next()
	}
}

func (p *parser) lexErr() *Error {
	return Errorf(p.tok.pos, "%s", p.tok.str)
}

// expected returns the error for an unexpected current token: "expected WHAT, found TOKEN".
// A lexical error token gives its own message instead.
func (p *parser) expected(what string) *Error {
	if p.tok.kind == tError {
		return p.lexErr()
	}
	return Errorf(p.tok.pos, "expected %s, found %s", what, describeTok(p.tok))
}

// expect consumes a token of kind k or fails with "expected 'k' CONTEXT, found ...".
func (p *parser) expect(k tokKind, context string) *Error {
	if p.tok.kind != k {
		return p.expected("'" + punctText[k] + "' " + context)
	}
	p.next()
	return nil
}

func (p *parser) expectEOF(what string) *Error {
	if p.tok.kind != tEOF {
		return p.expected("end of input after " + what)
	}
	return nil
}

// enter counts a level of nesting and fails beyond maxDepth; leave undoes it.
func (p *parser) enter() *Error {
	if p.depth >= maxDepth {
		return Errorf(p.tok.pos, "nesting too deep (more than %d levels)", maxDepth)
	}
	p.depth++
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) node() (*NodeDef, *Error) {
	n := &NodeDef{Pos: p.tok.pos}
	switch p.tok.kind {
	case tIdent, tIP:
	case tTrue, tFalse, tRoll, tCollector:
		// A reserved word before the colon can only be a node name: the classic
		// walkthrough names its collector "collector".
	default:
		return nil, p.expected("node name")
	}
	n.Name = p.tok.text
	p.next()
	if err := p.expect(tColon, "after node name"); err != nil {
		return nil, err
	}
	src, err := p.call("source name")
	if err != nil {
		return nil, err
	}
	n.Source = src
	if err := p.expect(tPipe, "after source"); err != nil {
		return nil, err
	}
	if n.Sink, err = p.sink(); err != nil {
		return nil, err
	}
	if err := p.expect(tSemi, "after sink"); err != nil {
		return nil, err
	}
	return n, nil
}

// call parses `Identifier args?`; what names the expected thing in an error.
func (p *parser) call(what string) (*Call, *Error) {
	if p.tok.kind != tIdent {
		return nil, p.expected(what)
	}
	c := &Call{Pos: p.tok.pos, Name: p.tok.text}
	p.next()
	if p.tok.kind == tLParen {
		if err := p.args(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// args parses a parenthesized argument list into c.
func (p *parser) args(c *Call) *Error {
	if err := p.enter(); err != nil {
		return err
	}
	defer p.leave()
	p.next() // '('
	if p.tok.kind == tRParen {
		p.next()
		return nil
	}
	start := len(p.vals)
	defer func() { p.vals = p.vals[:start] }()
	for {
		if err := p.arg(c); err != nil {
			return err
		}
		switch p.tok.kind {
		case tComma:
			p.next()
		case tRParen:
			p.next()
			if len(p.vals) > start {
				c.Args = append([]Value(nil), p.vals[start:]...)
			}
			return nil
		default:
			return p.expected("')' after argument list")
		}
	}
}

// arg parses one argument: a keyword one goes to c, a positional one to p.vals.
func (p *parser) arg(c *Call) *Error {
	if p.peek().kind == tEq {
		switch p.tok.kind {
		case tIdent:
			kw := Kwarg{Pos: p.tok.pos, Name: p.tok.text}
			p.next()
			p.next() // '='
			v, err := p.value("value after '='")
			if err != nil {
				return err
			}
			kw.Value = v
			c.Kwargs = append(c.Kwargs, kw)
			return nil
		case tTrue, tFalse, tRoll, tCollector:
			return p.expected("keyword argument name")
		}
	}
	v, err := p.value("argument")
	if err != nil {
		return err
	}
	if len(c.Kwargs) > 0 {
		return Errorf(v.Pos, "positional argument after keyword argument")
	}
	p.vals = append(p.vals, v)
	return nil
}

// value parses a literal or a function; what names it in an error.
func (p *parser) value(what string) (Value, *Error) {
	t := p.tok
	v := Value{Pos: t.pos, Text: t.text}
	switch t.kind {
	case tString:
		v.Kind, v.Str = KindString, t.str
	case tInt:
		v.Kind, v.Int = KindInt, t.num
	case tFloat:
		v.Kind, v.Float = KindFloat, t.flt
	case tTrue, tFalse:
		v.Kind, v.Bool = KindBool, t.kind == tTrue
	case tIdent:
		f, err := p.call(what)
		if err != nil {
			return Value{}, err
		}
		v.Kind, v.Func, v.Text = KindFunc, f, p.src[t.off:p.prevEnd]
		return v, nil
	default:
		return Value{}, p.expected(what)
	}
	p.next()
	return v, nil
}

// startsSink reports whether a sink expression may start with a token of kind k.
func startsSink(k tokKind) bool {
	switch k {
	case tIdent, tLBrack, tLt, tLBrace, tRoll, tCollector:
		return true
	}
	return false
}

// sink parses a sink expression.
func (p *parser) sink() (Sink, *Error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	switch p.tok.kind {
	case tLBrack:
		return p.fanOut()
	case tLt:
		return p.failover()
	case tLBrace:
		return p.braced()
	case tRoll:
		return p.roll()
	case tCollector:
		return p.collector()
	case tIdent:
		c, err := p.call("sink")
		if err != nil {
			return nil, err
		}
		// An identifier followed by ':' starts the next definition (the ';' is missing), never
		// a decorated sink: looking ahead makes that error point at the right place.
		if !startsSink(p.tok.kind) || p.tok.kind == tIdent && p.peek().kind == tColon {
			return &SinkCall{Call: c}, nil
		}
		// `deco sink`: the call is a decorator of the sink expression that follows.
		inner, err := p.sink()
		if err != nil {
			return nil, err
		}
		return &Decorated{Pos: c.Pos, Deco: c, Sink: inner}, nil
	}
	return nil, p.expected("sink")
}

func (p *parser) fanOut() (Sink, *Error) {
	f := &FanOut{Pos: p.tok.pos}
	p.next() // '['
	for {
		s, err := p.sink()
		if err != nil {
			return nil, err
		}
		f.Sinks = append(f.Sinks, s)
		switch p.tok.kind {
		case tComma:
			p.next()
		case tRBrack:
			p.next()
			return f, nil
		default:
			return nil, p.expected("',' or ']' in fan-out")
		}
	}
}

func (p *parser) failover() (Sink, *Error) {
	f := &Failover{Pos: p.tok.pos}
	p.next() // '<'
	for {
		s, err := p.sink()
		if err != nil {
			return nil, err
		}
		f.Sinks = append(f.Sinks, s)
		switch {
		case p.tok.kind == tQuest:
			p.next()
		case len(f.Sinks) < 2:
			return nil, p.expected("'?' and a second sink in failover")
		case p.tok.kind == tGt:
			p.next()
			return f, nil
		default:
			return nil, p.expected("'?' or '>' in failover")
		}
	}
}

// braced parses the classic decorator form `{ deco => sink }`.
func (p *parser) braced() (Sink, *Error) {
	d := &Decorated{Pos: p.tok.pos}
	p.next() // '{'
	deco, err := p.call("decorator name")
	if err != nil {
		return nil, err
	}
	d.Deco = deco
	if err := p.expect(tArrow, "after decorator"); err != nil {
		return nil, err
	}
	if d.Sink, err = p.sink(); err != nil {
		return nil, err
	}
	if err := p.expect(tRBrace, "after decorated sink"); err != nil {
		return nil, err
	}
	return d, nil
}

func (p *parser) roll() (Sink, *Error) {
	r := &Roll{Pos: p.tok.pos, Args: &Call{Pos: p.tok.pos, Name: "roll"}}
	p.next() // 'roll'
	if p.tok.kind != tLParen {
		return nil, p.expected("'(' after 'roll'")
	}
	if err := p.args(r.Args); err != nil {
		return nil, err
	}
	sink, err := p.body("roll")
	if err != nil {
		return nil, err
	}
	r.Sink = sink
	return r, nil
}

func (p *parser) collector() (Sink, *Error) {
	c := &Collector{Pos: p.tok.pos, Args: &Call{Pos: p.tok.pos, Name: "collector"}}
	p.next() // 'collector'
	switch p.tok.kind {
	case tLParen:
		if err := p.args(c.Args); err != nil {
			return nil, err
		}
	case tLBrace:
	default:
		return nil, p.expected("'(' or '{' after 'collector'")
	}
	sink, err := p.body("collector")
	if err != nil {
		return nil, err
	}
	c.Sink = sink
	return c, nil
}

// body parses the `{ sink }` of roll and collector.
func (p *parser) body(what string) (Sink, *Error) {
	if err := p.expect(tLBrace, "after "+what+" arguments"); err != nil {
		return nil, err
	}
	s, err := p.sink()
	if err != nil {
		return nil, err
	}
	if err := p.expect(tRBrace, "after "+what+" sink"); err != nil {
		return nil, err
	}
	return s, nil
}

// describeTok names a token in an error message.
func describeTok(t token) string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tIdent:
		return "'" + clip(t.text) + "'"
	case tTrue, tFalse, tRoll, tCollector:
		return "reserved word '" + t.text + "'"
	case tIP:
		return "IP address " + t.text
	case tString:
		return "string " + clip(t.text)
	case tInt, tFloat:
		return "number " + clip(t.text)
	}
	return "'" + t.text + "'"
}
