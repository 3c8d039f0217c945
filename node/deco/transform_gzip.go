package deco

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// AttrGzip holds a gzipped event: the gzip compression of its event.AppendBinary encoding. The
// name is classic Flume's.
const AttrGzip = "compressGzip"

// maxInflated bounds what gunzip inflates one event to, so a small corrupt or hostile payload
// cannot expand without limit. It leaves room for a gzipped batch of large events.
const maxInflated = 256 << 20

// gzipDeco replaces each event by one with an empty body, the same timestamp, priority and
// host, and the gzipped encoding of the whole event in attribute AttrGzip.
type gzipDeco struct {
	xfBase
	zw        *gzip.Writer
	dst       byteAppender // writes into xfBase.buf
	enc       []byte       // scratch for an event's encoding
	raw, comp *metrics.Counter
}

// byteAppender is an io.Writer that appends to a byte slice.
type byteAppender struct{ b *[]byte }

func (w byteAppender) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

func buildGzip(bc *plugin.BuildContext, _ *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	m := bc.Counters().Sub("gzip")
	d := &gzipDeco{
		xfBase: newXFBase(bc, "gzip", next),
		zw:     gzip.NewWriter(io.Discard),
		raw:    m.Counter("bytes_in"),
		comp:   m.Counter("bytes_out"),
	}
	d.dst = byteAppender{&d.buf}
	return d, nil
}

func (d *gzipDeco) Append(ctx context.Context, batch []*event.Event) error {
	d.begin(len(batch))
	for _, e := range batch {
		d.enc = event.AppendBinary(d.enc[:0], e)
		start := len(d.buf)
		d.zw.Reset(d.dst)
		if _, err := d.zw.Write(d.enc); err != nil {
			return d.fail(err) // writes to memory do not fail; kept for the contract
		}
		if err := d.zw.Close(); err != nil {
			return d.fail(err)
		}
		o := &event.Event{Body: []byte{}, Timestamp: e.Timestamp, Priority: e.Priority, Host: e.Host}
		_ = o.SetAttr(AttrGzip, d.keep(start)) // a fresh event has no attributes
		d.raw.Add(int64(len(d.enc)))
		d.comp.Add(int64(len(d.buf) - start))
		d.batch = append(d.batch, o)
	}
	if cap(d.enc) > maxScratch {
		d.enc = nil
	}
	return d.send(ctx)
}

// gunzipDeco restores events gzip packed; events without AttrGzip pass through. Data that
// does not inflate to exactly one event fails the Append with ErrBadAggregate.
type gunzipDeco struct {
	xfBase
	zr     *gzip.Reader // nil until the first gzipped event: NewReader needs a valid header
	src    bytes.Reader
	pool   []*event.Event // decoded events, reused from one Append to the next
	passed *metrics.Counter
}

func buildGunzip(bc *plugin.BuildContext, _ *spec.Args, next plugin.Sink) (plugin.Sink, error) {
	return &gunzipDeco{
		xfBase: newXFBase(bc, "gunzip", next),
		passed: bc.Counters().Sub("gunzip").Counter("passthrough"),
	}, nil
}

func (d *gunzipDeco) Append(ctx context.Context, batch []*event.Event) error {
	d.begin(len(batch))
	used := 0
	for _, e := range batch {
		z, ok := e.Attr(AttrGzip)
		if !ok {
			d.passed.Inc()
			d.batch = append(d.batch, e)
			continue
		}
		start := len(d.buf)
		if err := d.inflate(z); err != nil {
			return d.fail(fmt.Errorf("%w: %s: %w", ErrBadAggregate, AttrGzip, err))
		}
		if used == len(d.pool) {
			d.pool = append(d.pool, new(event.Event))
		}
		ev := d.pool[used]
		data := d.keep(start)
		n, err := event.DecodeBinaryInto(ev, data)
		if err != nil {
			return d.fail(fmt.Errorf("%w: %s: %w", ErrBadAggregate, AttrGzip, err))
		}
		if n != len(data) {
			return d.fail(fmt.Errorf("%w: %s: %d bytes after the event", ErrBadAggregate, AttrGzip, len(data)-n))
		}
		used++
		d.batch = append(d.batch, ev)
	}
	return d.send(ctx)
}

// inflate appends the gunzipped z to d.buf.
func (d *gunzipDeco) inflate(z []byte) error {
	d.src.Reset(z)
	var err error
	if d.zr == nil {
		d.zr, err = gzip.NewReader(&d.src)
	} else {
		err = d.zr.Reset(&d.src)
	}
	if err != nil {
		return err
	}
	start := len(d.buf)
	for {
		if len(d.buf) == cap(d.buf) {
			d.buf = append(d.buf, 0)[:len(d.buf)]
		}
		n, err := d.zr.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+n]
		if len(d.buf)-start > maxInflated {
			return fmt.Errorf("inflates to more than %d bytes", maxInflated)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
