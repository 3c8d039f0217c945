package deco

import (
	"context"
	"math"
	"regexp"
	"strconv"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/javatime"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// Extracted values are slices of the body: the body is immutable while the batch is in flight,
// so no copy is needed, and a sink that keeps the event Clones it, body and attributes alike.

// regexDeco sets an attribute to one capture group of the first match of a regular expression
// in the body. As in classic Flume, no match, a group out of range and a group that took no
// part in the match all give "".
type regexDeco struct {
	xfBase
	pick
}

// pick is the (regex, idx, attr) arguments that regex and split share.
type pick struct {
	re   *regexp.Regexp
	idx  int
	attr string
}

func bindPick(args *spec.Args) (p pick, err error) {
	if p.re, err = compileRegex(args, "regex"); err != nil {
		return p, err
	}
	if p.idx, err = groupIndex(args, "idx"); err != nil {
		return p, err
	}
	p.attr, err = attrName(args, "attr")
	return p, err
}

func buildRegex(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	p, err := bindPick(args)
	if err != nil {
		return nil, err
	}
	return &regexDeco{xfBase: newXFBase(bc, "regex", next), pick: p}, nil
}

func (d *regexDeco) Append(ctx context.Context, batch []*event.Event) error {
	d.begin(len(batch))
	for _, e := range batch {
		var v []byte
		if d.idx <= d.re.NumSubexp() {
			if m := d.re.FindSubmatchIndex(e.Body); m != nil && m[2*d.idx] >= 0 {
				v = e.Body[m[2*d.idx]:m[2*d.idx+1]:m[2*d.idx+1]]
			}
		}
		o := d.derive(e)
		if err := o.SetAttr(d.attr, v); err != nil {
			return d.fail(err)
		}
		d.batch = append(d.batch, o)
	}
	return d.send(ctx)
}

// regexAllDeco sets one attribute per capture group of the first match: group i goes to the
// i-th name. An empty name skips its group; a group that matched nothing, or took no part in
// the match, sets no attribute (FLUME-722); names beyond the groups are ignored.
type regexAllDeco struct {
	xfBase
	re    *regexp.Regexp
	names []string
}

func buildRegexAll(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	re, err := compileRegex(args, "regex")
	if err != nil {
		return nil, err
	}
	return &regexAllDeco{
		xfBase: newXFBase(bc, "regexAll", next),
		re:     re,
		names:  args.Strings("name"),
	}, nil
}

func (d *regexAllDeco) Append(ctx context.Context, batch []*event.Event) error {
	d.begin(len(batch))
	for _, e := range batch {
		m := d.re.FindSubmatchIndex(e.Body)
		if m == nil {
			d.batch = append(d.batch, e)
			continue
		}
		o := d.derive(e)
		for g := 1; g <= d.re.NumSubexp() && g <= len(d.names); g++ {
			start, end := m[2*g], m[2*g+1]
			if d.names[g-1] == "" || start < 0 || start == end {
				continue
			}
			if err := o.SetAttr(d.names[g-1], e.Body[start:end:end]); err != nil {
				return d.fail(err)
			}
		}
		d.batch = append(d.batch, o)
	}
	return d.send(ctx)
}

// splitDeco sets an attribute to the idx-th field of the body split around a regular
// expression, as Java's String.split does it: trailing empty fields do not count, and a match
// of width zero at the start makes no empty first field. An idx beyond the fields gives "".
type splitDeco struct {
	xfBase
	pick
}

func buildSplit(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	p, err := bindPick(args)
	if err != nil {
		return nil, err
	}
	return &splitDeco{xfBase: newXFBase(bc, "split", next), pick: p}, nil
}

func (d *splitDeco) Append(ctx context.Context, batch []*event.Event) error {
	d.begin(len(batch))
	for _, e := range batch {
		o := d.derive(e)
		if err := o.SetAttr(d.attr, splitField(d.re, e.Body, d.idx)); err != nil {
			return d.fail(err)
		}
		d.batch = append(d.batch, o)
	}
	return d.send(ctx)
}

// splitField returns field idx of b split around re with Java's String.split(regex) rules,
// or nil if there is no such field. split also drops trailing empty fields, which needs no
// code here: a dropped field and a missing one both give "".
func splitField(re *regexp.Regexp, b []byte, idx int) []byte {
	n, start := 0, 0
	// Field idx ends at match idx, or idx+1 after a zero-width match at the start: later
	// matches need not be found.
	for _, m := range re.FindAllIndex(b, idx+2) {
		if m[1] == 0 {
			continue // a zero-width match at the start splits nothing off
		}
		if n == idx {
			return b[start:m[0]:m[0]]
		}
		n, start = n+1, m[1]
	}
	if n == idx {
		return b[start:len(b):len(b)] // the last field; the whole body if nothing matched
	}
	return nil
}

// exDateDeco parses a date out of an attribute with a SimpleDateFormat pattern and sets its
// parts as <prefix>day, <prefix>month, <prefix>year, <prefix>hr, <prefix>min and <prefix>sec,
// in the node's time zone. An event whose attribute is missing, empty or does not parse is
// passed on unchanged and counted, as classic Flume passed it on with a warning.
type exDateDeco struct {
	xfBase
	attr     string
	layout   *javatime.Layout
	names    [6]string // day, month, year, hr, min, sec, with the prefix
	padding  bool
	loc      *time.Location
	missing  *metrics.Counter
	unparsed *metrics.Counter
}

func buildExDate(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	attr, err := attrName(args, "attr")
	if err != nil {
		return nil, err
	}
	layout, err := javatime.Compile(args.String("pattern", ""))
	if err != nil {
		return nil, args.Errorf("pattern", "%v", err)
	}
	prefix := args.String("prefix", "date")
	m := bc.Counters().Sub("exDate")
	d := &exDateDeco{
		xfBase:   newXFBase(bc, "exDate", next),
		attr:     attr,
		layout:   layout,
		padding:  args.Bool("padding", true),
		loc:      time.Local,
		missing:  m.Counter("missing"),
		unparsed: m.Counter("unparsed"),
	}
	for i, part := range [...]string{"day", "month", "year", "hr", "min", "sec"} {
		d.names[i] = prefix + part
	}
	return d, nil
}

func (d *exDateDeco) Append(ctx context.Context, batch []*event.Event) error {
	d.begin(len(batch))
	for _, e := range batch {
		v, _ := e.Attr(d.attr)
		if len(v) == 0 {
			d.missing.Inc()
			d.batch = append(d.batch, e)
			continue
		}
		t, _, err := d.layout.ParsePrefix(string(v), d.loc)
		if err != nil {
			d.unparsed.Inc()
			d.batch = append(d.batch, e)
			continue
		}
		year := t.Year()
		if year < 1 {
			year = 1 - year // a Java calendar counts years within the era: 1 BC is year 1
		}
		o := d.derive(e)
		for i, n := range [...]int{t.Day(), int(t.Month()), year, t.Hour(), t.Minute(), t.Second()} {
			start := len(d.buf)
			if d.padding && i != 2 && n < 10 {
				d.buf = append(d.buf, '0')
			}
			d.buf = strconv.AppendInt(d.buf, int64(n), 10)
			if err := o.SetAttr(d.names[i], d.keep(start)); err != nil {
				return d.fail(err)
			}
		}
		d.batch = append(d.batch, o)
	}
	return d.send(ctx)
}

// compileRegex compiles string argument name with Go's regexp package.
func compileRegex(args *spec.Args, name string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(args.String(name, ""))
	if err != nil {
		return nil, args.Errorf(name, "%v (the syntax is RE2: no lookaround, no backreferences)", err)
	}
	return re, nil
}

// groupIndex returns integer argument name, a group or field index: 0 or more.
func groupIndex(args *spec.Args, name string) (int, error) {
	n := args.Int(name, 0)
	if n < 0 || n > math.MaxInt32 {
		return 0, args.Errorf(name, "must be between 0 and %d, got %d", math.MaxInt32, n)
	}
	return int(n), nil
}
