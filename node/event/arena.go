package event

// Arena hands out derived events from memory it reuses. A decorator that changes events keeps
// one Arena, Resets it at the start of every Append and derives from it instead of calling
// Derive, so that in steady state deriving allocates nothing. This is safe because of the sink
// contract: the next sink owns nothing after its Append returns, so by the next Reset no one
// holds the events handed out. The zero value is ready to use; an Arena is not safe for
// concurrent use.
type Arena struct {
	events []Event
	attrs  []Attr
}

// headroom is the number of attributes a derived event can gain without allocating.
const headroom = 2

// maxArena bounds the memory an arena keeps across Resets, so that one huge batch does not
// pin memory for good.
const maxArena = 1 << 16

// Reset makes all the arena's memory reusable. Events handed out before must no longer be used.
func (a *Arena) Reset() {
	if cap(a.events) > maxArena {
		a.events = nil
	}
	if cap(a.attrs) > maxArena*headroom {
		a.attrs = nil
	}
	clear(a.events) // drop references to bodies and values of the last batch
	a.events = a.events[:0]
	a.attrs = a.attrs[:0]
}

// Derive returns a copy of e, as e.Derive does, taken from the arena's memory.
func (a *Arena) Derive(e *Event) *Event {
	if len(a.events) == cap(a.events) {
		// Growing moves later events to a new array; events already handed out stay valid in
		// the old one, which the garbage collector keeps while they are referenced.
		a.events = make([]Event, 0, max(64, 2*cap(a.events)))
	}
	a.events = append(a.events, *e)
	d := &a.events[len(a.events)-1]
	if n := len(e.attrs); n > 0 {
		need := n + headroom
		if cap(a.attrs)-len(a.attrs) < need {
			a.attrs = make([]Attr, 0, max(256, 2*cap(a.attrs), need))
		}
		start := len(a.attrs)
		a.attrs = append(a.attrs, e.attrs...)
		// Capped: appending past the headroom reallocates instead of running into the next
		// event's attributes.
		d.attrs = a.attrs[start : start+n : start+need]
		a.attrs = a.attrs[:start+need]
	}
	return d
}
