package syslog

import (
	"slices"
	"sync"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/source/internal/record"
)

// Limits of one batch. A lane holds at most two batches, so they bound the memory a
// connection's backlog takes.
const (
	// batchEvents is the most events in a batch, the most Next returns at once.
	batchEvents = record.MaxBatch
	// batchBytes is the size of a batch's memory (bodies and attribute values) at which it
	// counts as full. The event that crosses it is kept whole.
	batchBytes = 256 << 10
)

// batch is a reusable set of events and the memory that holds their bodies and attribute
// values. Its events and their memory are overwritten when it is reused, which is safe by the
// source contract: a batch Next returned is in use only until the next call to Next.
type batch struct {
	lane *lane
	// all holds every event the batch ever had, allocated once and reused; the first n are
	// in use.
	all []*event.Event
	n   int
	mem []byte
}

func newBatch(l *lane) *batch { return &batch{lane: l} }

// events returns the events of the batch.
func (b *batch) events() []*event.Event { return b.all[:b.n:b.n] }

// full reports whether the batch takes no more events.
func (b *batch) full() bool { return b.n >= batchEvents || len(b.mem) >= batchBytes }

// reset empties the batch for reuse.
func (b *batch) reset() {
	b.n = 0
	b.mem = b.mem[:0]
}

// keep copies p into the batch's memory. When the memory grows, the events added before keep
// pointing into the old array, which stays valid for them.
func (b *batch) keep(p []byte) []byte {
	if b.mem == nil {
		b.mem = make([]byte, 0, 4<<10)
	}
	start := len(b.mem)
	b.mem = append(b.mem, p...)
	return b.mem[start:len(b.mem):len(b.mem)]
}

// keepString is keep for a string.
func (b *batch) keepString(s string) []byte {
	if b.mem == nil {
		b.mem = make([]byte, 0, 4<<10)
	}
	start := len(b.mem)
	b.mem = append(b.mem, s...)
	return b.mem[start:len(b.mem):len(b.mem)]
}

// add appends an event made of m, which arrived at arrival, from localHost unless m names
// its host.
func (b *batch) add(m *message, arrival int64, localHost string) {
	if b.n == len(b.all) {
		b.all = append(b.all, new(event.Event))
	}
	e := b.all[b.n]
	b.n++
	// A fresh Event: attributes of the slot's last use must go, and there is no way to clear
	// them but dropping the slice.
	*e = event.Event{Body: b.keep(m.body), Timestamp: arrival, Priority: event.INFO, Host: localHost}
	if m.ts != 0 {
		e.Timestamp = m.ts
	}
	if m.host != "" {
		e.Host = m.host
	}
	if m.pri >= 0 {
		e.Priority = severityPriority[m.pri%8]
		_ = e.SetAttr(AttrFacility, byteValues[m.pri/8])
		_ = e.SetAttr(AttrSeverity, byteValues[m.pri%8])
	}
	b.setString(e, AttrHost, m.host)
	b.setString(e, AttrApp, m.app)
	b.setString(e, AttrProcID, m.procID)
	b.setString(e, AttrMsgID, m.msgID)
	if len(m.sd) > 0 {
		b.addSD(e, m.sd)
	}
	b.setString(e, AttrError, m.err)
}

// setString sets attribute key to v unless v is empty. Keys are distinct, so SetAttr cannot
// fail.
func (b *batch) setString(e *event.Event, key, v string) {
	if v != "" {
		_ = e.SetAttr(key, b.keepString(v))
	}
}

// addSD sets an attribute syslogsd.<id>.<param> for every parameter of the structured data,
// and syslogsd.<id> (empty) for an element without parameters, in sorted order so that
// equal messages make equal events. Should two names collide (an SD-ID with a dot), the
// first one is kept.
func (b *batch) addSD(e *event.Event, sd map[string]map[string]string) {
	ids := make([]string, 0, len(sd))
	for id := range sd {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		params := sd[id]
		if len(params) == 0 {
			_ = e.SetAttr(AttrSDPrefix+id, []byte{})
			continue
		}
		names := make([]string, 0, len(params))
		for name := range params {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			_ = e.SetAttr(AttrSDPrefix+id+"."+name, b.keepString(params[name]))
		}
	}
}

// lane is the bounded queue between one producer (a connection, or the UDP socket) and Next.
// It holds two batches: the producer fills one while Next hands out the other. A producer
// that finds its batch full waits for Next to take it (TCP: it stops reading the socket, and
// the sender is slowed) or drops what it has (UDP). So a lane holds at most two batches,
// whatever the rate of the sender.
//
// Lock order: lane.mu, then Source.mu.
type lane struct {
	src *Source

	mu     sync.Mutex
	fill   *batch   // the producer's batch
	spare  *batch   // the other batch, when Next does not hold it
	held   []*batch // full batches set aside while the source closes, before fill
	queued bool     // the lane is in the source's ready list
	wake   chan struct{}
}

func newLane(s *Source) *lane {
	l := &lane{src: s, wake: make(chan struct{}, 1)}
	l.fill, l.spare = newBatch(l), newBatch(l)
	return l
}

// add appends an event made of m to the lane. When the lane is full it waits for Next to take
// a batch if wait is set, and otherwise returns false without adding. Once the source is
// closing it never waits: full batches are set aside, so that what a connection had read is
// delivered; that is at most one read buffer more.
func (l *lane) add(m *message, arrival int64, wait bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.fill.full() {
		if l.src.closing() {
			l.held = append(l.held, l.fill)
			l.fill = newBatch(l)
			break
		}
		if !wait {
			return false
		}
		l.mu.Unlock()
		select {
		case <-l.wake:
		case <-l.src.done:
		}
		l.mu.Lock()
	}
	l.fill.add(m, arrival, l.src.host)
	if !l.queued {
		l.queued = true
		l.src.push(l)
	}
	return true
}

// take returns the lane's oldest batch of events, or nil if it has none. more reports that
// the lane has more, and stays queued.
func (l *lane) take() (b *batch, more bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.held) > 0 {
		b = l.held[0]
		l.held[0] = nil
		l.held = l.held[1:]
		return b, true
	}
	l.queued = false
	if l.fill.n == 0 {
		return nil, false
	}
	b = l.fill
	l.fill = l.spare
	if l.fill == nil {
		l.fill = newBatch(l)
	}
	l.spare = nil
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return b, false
}

// recycle gives back b, which Next handed out, for reuse.
func (l *lane) recycle(b *batch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b.reset()
	if l.spare == nil {
		l.spare = b
	}
}

// isFull reports whether the lane takes no more events until Next takes a batch.
func (l *lane) isFull() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fill.full()
}

// len returns the number of events the lane holds.
func (l *lane) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.fill.n
	for _, b := range l.held {
		n += b.n
	}
	return n
}
