package deco

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"strings"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// valueDeco sets one attribute on every event: a constant, or a template expanded against the
// event (escape=true). Attributes are write-once, so an event that already has the attribute
// fails the Append, as classic Flume's ValueDecorator threw.
type valueDeco struct {
	xfBase
	attr  string
	value []byte          // the constant value, shared by all events (values are immutable)
	tpl   *event.Template // nil unless the value has escapes to expand
}

func buildValue(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	attr, err := attrName(args, "attr")
	if err != nil {
		return nil, err
	}
	v := args.String("value", "")
	d := &valueDeco{xfBase: newXFBase(bc, "value", next), attr: attr, value: []byte(v)}
	if args.Bool("escape", false) {
		if t := event.CompileTemplate(v); !t.IsLiteral() {
			d.tpl = t
		} else {
			d.value = []byte(t.Expand(nil)) // "%%" and the like still unescape
		}
	}
	return d, nil
}

func (d *valueDeco) Append(ctx context.Context, batch []*event.Event) error {
	d.begin(len(batch))
	for _, e := range batch {
		v := d.value
		if d.tpl != nil {
			start := len(d.buf)
			d.buf = d.tpl.AppendTo(d.buf, e)
			v = d.keep(start)
		}
		o := d.derive(e)
		if err := o.SetAttr(d.attr, v); err != nil {
			return d.fail(err)
		}
		d.batch = append(d.batch, o)
	}
	return d.send(ctx)
}

// maskDeco removes the listed attributes; selectDeco keeps only them. An event that needs no
// change is passed on as it is, without a copy.
type maskDeco struct {
	xfBase
	attrs []string
	keep  bool // select: keep the listed attributes, drop the others
}

func buildMask(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	return newMaskDeco(bc, args, next, "mask", false)
}

func buildSelect(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	return newMaskDeco(bc, args, next, "select", true)
}

func newMaskDeco(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink, name string, keep bool) (plugin.Sink, error) {
	attrs := args.Strings("attr")
	for _, a := range attrs {
		if a == "" {
			return nil, args.Errorf("attr", "attribute names must not be empty")
		}
	}
	return &maskDeco{xfBase: newXFBase(bc, name, next), attrs: attrs, keep: keep}, nil
}

func (d *maskDeco) listed(key string) bool {
	for _, a := range d.attrs {
		if a == key {
			return true
		}
	}
	return false
}

// drops reports whether the decorator removes attribute key.
func (d *maskDeco) drops(key string) bool { return d.listed(key) != d.keep }

func (d *maskDeco) Append(ctx context.Context, batch []*event.Event) error {
	d.begin(len(batch))
	for _, e := range batch {
		change := false
		for _, a := range e.AttrList() {
			if d.drops(a.Key) {
				change = true
				break
			}
		}
		if !change {
			d.batch = append(d.batch, e)
			continue
		}
		o := d.derive(e)
		for _, a := range e.AttrList() {
			if d.drops(a.Key) {
				o.DeleteAttr(a.Key)
			}
		}
		d.batch = append(d.batch, o)
	}
	return d.send(ctx)
}

// formatDeco replaces the body with a template expanded against the event. The attributes,
// timestamp, priority and host are kept.
type formatDeco struct {
	xfBase
	tpl *event.Template
}

func buildFormat(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	return &formatDeco{
		xfBase: newXFBase(bc, "format", next),
		tpl:    event.CompileTemplate(args.String("pattern", "")),
	}, nil
}

func (d *formatDeco) Append(ctx context.Context, batch []*event.Event) error {
	d.begin(len(batch))
	for _, e := range batch {
		start := len(d.buf)
		d.buf = d.tpl.AppendTo(d.buf, e)
		o := d.derive(e)
		o.Body = d.keep(start)
		d.batch = append(d.batch, o)
	}
	return d.send(ctx)
}

// digestDeco sets an attribute to a digest of the body, raw or in base64.
type digestDeco struct {
	xfBase
	attr   string
	h      hash.Hash
	base64 bool
	sum    []byte // scratch for the raw digest
}

// digests maps the algorithm names Java's MessageDigest accepts, upper-cased, to
// constructors.
var digests = map[string]func() hash.Hash{
	"MD5":     md5.New,
	"SHA":     sha1.New,
	"SHA1":    sha1.New,
	"SHA-1":   sha1.New,
	"SHA-224": sha256.New224,
	"SHA-256": sha256.New,
	"SHA-384": sha512.New384,
	"SHA-512": sha512.New,
}

func buildDigest(bc *plugin.BuildContext, args *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	alg := args.String("algorithm", "")
	newHash, ok := digests[strings.ToUpper(alg)]
	if !ok {
		return nil, args.Errorf("algorithm", "unknown digest %q; want MD5, SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512", alg)
	}
	attr, err := attrName(args, "attr")
	if err != nil {
		return nil, err
	}
	h := newHash()
	return &digestDeco{
		xfBase: newXFBase(bc, "digest", next),
		attr:   attr,
		h:      h,
		base64: args.Bool("base64", false),
		sum:    make([]byte, 0, h.Size()),
	}, nil
}

func (d *digestDeco) Append(ctx context.Context, batch []*event.Event) error {
	d.begin(len(batch))
	for _, e := range batch {
		d.h.Reset()
		d.h.Write(e.Body) // a hash.Hash never returns an error
		start := len(d.buf)
		if d.base64 {
			d.sum = d.h.Sum(d.sum[:0])
			d.buf = base64.StdEncoding.AppendEncode(d.buf, d.sum)
		} else {
			d.buf = d.h.Sum(d.buf)
		}
		o := d.derive(e)
		if err := o.SetAttr(d.attr, d.keep(start)); err != nil {
			return d.fail(err)
		}
		d.batch = append(d.batch, o)
	}
	return d.send(ctx)
}

// attrName returns string argument name, which names an attribute and must not be empty.
func attrName(args *spec.Args, name string) (string, error) {
	s := args.String(name, "")
	if s == "" {
		return "", args.Errorf(name, "attribute name must not be empty")
	}
	return s, nil
}
