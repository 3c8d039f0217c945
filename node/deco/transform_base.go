package deco

import (
	"context"
	"errors"
	"fmt"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
)

// Errors of the transforming decorators.
var (
	// ErrBadAggregate is wrapped by the error unbatch or gunzip returns for an event whose
	// batchSize, batchData or compressGzip attribute does not hold what batch or gzip writes.
	// It is permanent: the same event fails the same way every time.
	ErrBadAggregate = errors.New("corrupt aggregate event")
	// ErrPanicked is wrapped by the error batch returns after the sink it feeds panicked in a
	// flush that batch's own timer started, where no caller could recover the panic. The
	// error carries the panic value and stack, and is permanent.
	ErrPanicked = errors.New("next sink panicked")
)

// maxScratch is the capacity above which a decorator drops its scratch buffer after an Append
// instead of keeping it for the next one, so one huge batch does not pin memory for good.
const maxScratch = 4 << 20

// xfBase is what the transforming decorators share: the sink they feed, their counters, and
// scratch memory reused from one Append to the next.
//
// Reuse is safe because of the sink contract: the next sink owns nothing after its Append
// returns, so the output batch, and the bytes that events in it point to, may be overwritten
// by the following Append.
type xfBase struct {
	next plugin.Sink
	name string
	in   *metrics.Counter // events received
	out  *metrics.Counter // events passed on
	// batch is the output being built; buf holds bytes made for it (attribute values, bodies).
	// A value handed out is a capped slice of buf: later appends to buf may move it to a new
	// array, which leaves values already handed out intact in the old one.
	batch []*event.Event
	buf   []byte
	// arena holds the derived events of the current Append.
	arena event.Arena
}

// derive returns a copy of e that the decorator may change, from memory reused across Appends.
func (b *xfBase) derive(e *event.Event) *event.Event { return b.arena.Derive(e) }

func newXFBase(bc *plugin.BuildContext, name string, next plugin.Sink) xfBase {
	m := bc.Counters().Sub(name)
	return xfBase{next: next, name: name, in: m.Counter("events_in"), out: m.Counter("events_out")}
}

// Open opens the sink the decorator feeds.
func (b *xfBase) Open(ctx context.Context) error { return b.next.Open(ctx) }

// Forwards implements plugin.Forwarder: the transforming decorators built on xfBase hand each
// batch on within Append.
func (b *xfBase) Forwards() plugin.Sink { return b.next }

// Close closes the sink the decorator feeds. The decorators built on xfBase hold no events
// between Appends, so there is nothing to flush first.
func (b *xfBase) Close(ctx context.Context) error { return b.next.Close(ctx) }

// begin starts an Append of n events.
func (b *xfBase) begin(n int) {
	b.in.Add(int64(n))
	b.batch = b.batch[:0]
	b.buf = b.buf[:0]
	b.arena.Reset()
}

// keep returns buf[start:] as a value that later appends to buf cannot overwrite.
func (b *xfBase) keep(start int) []byte {
	return b.buf[start:len(b.buf):len(b.buf)]
}

// send passes the output batch on, unless it is empty, and releases the scratch memory for the
// next Append. Errors of the next sink pass through unchanged.
func (b *xfBase) send(ctx context.Context) error {
	var err error
	if len(b.batch) > 0 {
		err = b.next.Append(ctx, b.batch)
		if err == nil {
			b.out.Add(int64(len(b.batch)))
		}
	}
	b.reset()
	return err
}

// fail abandons the output batch and returns err, named after the decorator and marked
// permanent: the events are at fault, so retrying the same batch cannot succeed.
func (b *xfBase) fail(err error) error {
	b.reset()
	return plugin.Permanent(fmt.Errorf("%s: %w", b.name, err))
}

func (b *xfBase) reset() {
	clear(b.batch) // do not keep the events, or what they point to, alive until the next Append
	b.batch = b.batch[:0]
	if cap(b.buf) > maxScratch {
		b.buf = nil
	}
	if cap(b.batch) > maxScratch/8 {
		b.batch = nil
	}
}
