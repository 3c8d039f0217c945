package record

import (
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
)

// MaxBatch is the most events a source returns from one Next.
const MaxBatch = 1000

// Batch is a reusable batch of events. Its Event structs are allocated once and overwritten by
// each round, so a source in steady state allocates nothing per event. Every event gets the
// batch's host, priority INFO and its fixed attributes.
//
// Reuse is safe because of the plugin contract: events handed downstream are read-only, and
// whoever keeps one past the next Next has cloned it.
type Batch struct {
	slots []event.Event
	evs   []*event.Event
	n     int
	host  string
	attrs []event.Attr
	// fresh is how many slots already carry attrs: slots are filled in order, so those below
	// it keep their attributes from round to round and need no SetAttr (which allocates).
	fresh int
}

// NewBatch returns a batch of up to capacity events from host, each carrying attrs. The
// attribute values are shared by every event and must not change.
func NewBatch(capacity int, host string, attrs ...event.Attr) *Batch {
	b := &Batch{
		slots: make([]event.Event, capacity),
		evs:   make([]*event.Event, capacity),
		host:  host,
		attrs: attrs,
	}
	for i := range b.slots {
		b.evs[i] = &b.slots[i]
	}
	return b
}

// Reset empties the batch for a new round. Events of the previous round are overwritten.
func (b *Batch) Reset() { b.n = 0 }

// Len returns the number of events in the batch.
func (b *Batch) Len() int { return b.n }

// Cap returns the most events the batch holds.
func (b *Batch) Cap() int { return len(b.slots) }

// Full reports whether the batch is at capacity.
func (b *Batch) Full() bool { return b.n == len(b.slots) }

// Add appends an event with body (not copied) stamped at ts (unix nanoseconds).
func (b *Batch) Add(body []byte, ts int64) *event.Event {
	e := &b.slots[b.n]
	if b.n >= b.fresh {
		*e = event.Event{}
		for _, a := range b.attrs {
			_ = e.SetAttr(a.Key, a.Value) // a fresh event has no attributes: cannot fail
		}
		b.fresh = b.n + 1
	}
	e.Body = body
	e.Timestamp = ts
	e.Priority = event.INFO
	e.Host = b.host
	b.n++
	return e
}

// Events returns the events added since Reset. The slice is reused by the next round.
func (b *Batch) Events() []*event.Event { return b.evs[:b.n] }

// Bytes returns the total body size of the batch.
func (b *Batch) Bytes() int64 {
	var n int64
	for _, e := range b.evs[:b.n] {
		n += int64(len(e.Body))
	}
	return n
}

// Counters are the metrics every source keeps, updated once per batch.
type Counters struct {
	// Events and Bytes count the events produced and their body bytes.
	Events, Bytes *metrics.Counter
	// Truncated, Rejected and Split count records over the size limit, cut, dropped or split
	// into several events.
	Truncated, Rejected, Split *metrics.Counter
}

// NewCounters registers the source counters in reg: events_in, bytes_in, events_truncated,
// events_rejected, events_split.
func NewCounters(reg *metrics.Registry) Counters {
	return Counters{
		Events:    reg.Counter("events_in"),
		Bytes:     reg.Counter("bytes_in"),
		Truncated: reg.Counter("events_truncated"),
		Rejected:  reg.Counter("events_rejected"),
		Split:     reg.Counter("events_split"),
	}
}

// Add records events produced outside a Batch.
func (c Counters) Add(evs []*event.Event) {
	if len(evs) == 0 {
		return
	}
	var n int64
	for _, e := range evs {
		n += int64(len(e.Body))
	}
	c.Events.Add(int64(len(evs)))
	c.Bytes.Add(n)
}

// Count records a batch and the oversize counts of buf (if not nil), which it resets.
func (c Counters) Count(b *Batch, buf *Buffer) {
	if n := b.Len(); n > 0 {
		c.Events.Add(int64(n))
		c.Bytes.Add(b.Bytes())
	}
	if buf != nil {
		c.Oversize(buf)
	}
}

// Oversize records the oversize counts of buf and resets them.
func (c Counters) Oversize(buf *Buffer) {
	if buf.Truncated > 0 {
		c.Truncated.Add(buf.Truncated)
		buf.Truncated = 0
	}
	if buf.Rejected > 0 {
		c.Rejected.Add(buf.Rejected)
		buf.Rejected = 0
	}
	if buf.Split > 0 {
		c.Split.Add(buf.Split)
		buf.Split = 0
	}
}

// TakeHeld returns the next batch of at most MaxBatch events from *held, the events a closed
// source still hands out, and shortens *held; nil once it is empty (and *held is released).
func TakeHeld(held *[]*event.Event) []*event.Event {
	if len(*held) == 0 {
		*held = nil
		return nil
	}
	n := min(len(*held), MaxBatch)
	b := (*held)[:n:n]
	*held = (*held)[n:]
	return b
}
