// Package event defines the unit of data that flows through Flume: a body of bytes with a
// timestamp, a priority, the host that made it and a set of write-once attributes.
//
// Ownership. Events handed to a sink's Append are read-only to the sink and to everything
// downstream of it: a decorator that changes an event works on a Derive()d copy. A sink must not
// keep an event after Append returns unless it Clone()s it, because sources may reuse the memory
// of a batch once the batch has been delivered.
package event

import (
	"errors"
	"fmt"
	"iter"
	"os"
	"sync"
	"time"
)

// Size limits for an event body (flume.event.max.size.bytes).
const (
	// DefaultMaxSize is the classic default limit for an event body, 32 KiB.
	DefaultMaxSize = 32 << 10
	// MaxSizeLimit is the largest limit that can be configured, 16 MiB.
	MaxSizeLimit = 16 << 20
)

var (
	// ErrAttrExists is returned when an attribute that is already set is set again:
	// attributes are write-once, so that nothing downstream rewrites what upstream recorded.
	ErrAttrExists = errors.New("attribute already set")
	// ErrTooLarge is returned for an event body over the configured size limit when the
	// policy is to reject it.
	ErrTooLarge = errors.New("event body over the size limit")
)

// Attr is one attribute: a name and its value.
type Attr struct {
	Key   string
	Value []byte
}

// Event is one log record. The zero value is an empty event at time zero with priority FATAL;
// use New for an event stamped now, at INFO, from this host.
type Event struct {
	// Body is the payload, typically one log line without its line terminator.
	Body []byte
	// Timestamp is the event time in unix nanoseconds. Sources set it to the time of reading
	// unless they know better (a syslog header, a decorator that parses the line).
	Timestamp int64
	// Priority is the severity of the event.
	Priority Priority
	// Host is the name of the host the event was created on.
	Host string

	// attrs are kept as a slice: events carry few attributes, and a slice is cheaper to copy
	// and scan than a map.
	attrs []Attr
}

// New returns an event with the given body, stamped with the current time, priority INFO and
// this machine's host name. The body is not copied.
func New(body []byte) *Event {
	return &Event{Body: body, Timestamp: time.Now().UnixNano(), Priority: INFO, Host: Hostname()}
}

// Time returns the event's timestamp as a time.Time in the local zone.
func (e *Event) Time() time.Time { return time.Unix(0, e.Timestamp) }

// Attr returns the value of attribute key and whether it is set.
func (e *Event) Attr(key string) ([]byte, bool) {
	for i := range e.attrs {
		if e.attrs[i].Key == key {
			return e.attrs[i].Value, true
		}
	}
	return nil, false
}

// SetAttr sets attribute key to value. It returns an error wrapping ErrAttrExists if the
// attribute is already set. The value is not copied.
func (e *Event) SetAttr(key string, value []byte) error {
	if _, ok := e.Attr(key); ok {
		return fmt.Errorf("set attribute %q: %w", key, ErrAttrExists)
	}
	e.attrs = append(e.attrs, Attr{Key: key, Value: value})
	return nil
}

// DeleteAttr removes attribute key if it is set. Removing is not rewriting: a removed
// attribute can be set again.
func (e *Event) DeleteAttr(key string) {
	for i := range e.attrs {
		if e.attrs[i].Key == key {
			e.attrs = append(e.attrs[:i:i], e.attrs[i+1:]...)
			return
		}
	}
}

// NumAttrs returns the number of attributes set.
func (e *Event) NumAttrs() int { return len(e.attrs) }

// Attrs iterates over the attributes in the order they were set.
func (e *Event) Attrs() iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		for _, a := range e.attrs {
			if !yield(a.Key, a.Value) {
				return
			}
		}
	}
}

// AttrList returns the attributes in the order they were set. The slice is shared with the
// event and must not be modified.
func (e *Event) AttrList() []Attr { return e.attrs }

// Derive returns a shallow copy of e whose fields and attribute set can be changed without
// affecting e. Body and attribute values are shared and must be treated as immutable; replace
// them rather than writing into them.
func (e *Event) Derive() *Event {
	d := *e
	if len(e.attrs) > 0 {
		d.attrs = make([]Attr, len(e.attrs), len(e.attrs)+1)
		copy(d.attrs, e.attrs)
	}
	return &d
}

// Clone returns a deep copy of e that shares no memory with it. Sinks that keep events past
// the return of Append keep clones.
func (e *Event) Clone() *Event {
	c := &Event{Timestamp: e.Timestamp, Priority: e.Priority, Host: e.Host}
	n := len(e.Body)
	for _, a := range e.attrs {
		n += len(a.Value)
	}
	buf := make([]byte, 0, n)
	buf = append(buf, e.Body...)
	c.Body = buf[:len(e.Body):len(e.Body)]
	if len(e.attrs) > 0 {
		c.attrs = make([]Attr, len(e.attrs))
		for i, a := range e.attrs {
			start := len(buf)
			buf = append(buf, a.Value...)
			c.attrs[i] = Attr{Key: a.Key, Value: buf[start:len(buf):len(buf)]}
		}
	}
	return c
}

// Size returns an estimate of the bytes the event occupies on the wire: the body, the host and
// every attribute name and value.
func (e *Event) Size() int {
	n := len(e.Body) + len(e.Host) + 16
	for _, a := range e.attrs {
		n += len(a.Key) + len(a.Value)
	}
	return n
}

// Equal reports whether two events have the same fields and the same attributes in the same
// order.
func Equal(a, b *Event) bool {
	if a.Timestamp != b.Timestamp || a.Priority != b.Priority || a.Host != b.Host ||
		string(a.Body) != string(b.Body) || len(a.attrs) != len(b.attrs) {
		return false
	}
	for i := range a.attrs {
		if a.attrs[i].Key != b.attrs[i].Key || string(a.attrs[i].Value) != string(b.attrs[i].Value) {
			return false
		}
	}
	return true
}

// OversizePolicy says what a source does with a body over the size limit.
type OversizePolicy int

const (
	// Truncate cuts the body to the limit (the classic behaviour).
	Truncate OversizePolicy = iota
	// Reject refuses the event.
	Reject
	// Split cuts the record into several events of at most the limit, in order. Only sources
	// that read a stream of records (lines) can split; Limit treats it as Truncate.
	Split
)

// String returns "truncate", "reject" or "split".
func (p OversizePolicy) String() string {
	switch p {
	case Reject:
		return "reject"
	case Split:
		return "split"
	}
	return "truncate"
}

// ParseOversizePolicy parses "truncate", "reject" or "split".
func ParseOversizePolicy(s string) (OversizePolicy, error) {
	switch s {
	case "truncate":
		return Truncate, nil
	case "reject":
		return Reject, nil
	case "split":
		return Split, nil
	}
	return Truncate, fmt.Errorf("unknown oversize policy %q: want truncate, reject or split", s)
}

// Limit applies a body size limit to e. It returns true if the body was over the limit: with
// Truncate the body is cut to max bytes, with Reject the event is left as it is and the error
// wraps ErrTooLarge. Callers count oversized events in a metric; none is dropped silently.
func (e *Event) Limit(max int, p OversizePolicy) (over bool, err error) {
	if max <= 0 || len(e.Body) <= max {
		return false, nil
	}
	if p == Reject {
		return true, fmt.Errorf("%d bytes, limit %d: %w", len(e.Body), max, ErrTooLarge)
	}
	e.Body = e.Body[:max:max]
	return true, nil
}

var (
	hostOnce sync.Once
	hostName string
)

// Hostname returns this machine's host name, looked up once. It falls back to "localhost".
func Hostname() string {
	hostOnce.Do(func() {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		hostName = h
	})
	return hostName
}
