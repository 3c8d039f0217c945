package syslog

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/flumego/flume/node/event"
)

// Source is a syslog source: syslogUdp, syslogTcp or syslogTcp1.
//
// Open listens. The goroutines it starts (the UDP reader; the TCP accept loop and one reader
// per connection) parse messages into lanes, one per connection or socket, and Next hands out
// their batches in the order the lanes filled. The driver calls Open, Next and Close from one
// goroutine; Close may also come from another goroutine while Next waits, and ends the wait.
// Close stops the listener and the connections and waits for every goroutine; Next then
// returns what the lanes hold, then io.EOF. syslogTcp1 also ends, the same way, when its
// connection closes.
type Source struct {
	name    string
	network string      // "udp" or "tcp"
	bind    string      // the host to listen on (flume.syslog.bind)
	tls     *tls.Config // TCP over TLS; nil: plaintext
	port    int
	single  bool // syslogTcp1: one connection, then the end
	max     int
	policy  event.OversizePolicy
	host    string
	loc     *time.Location // zone of RFC 3164 timestamps
	log     *slog.Logger
	ctr     counters

	mu     sync.Mutex // guards the fields below
	opened bool
	closed bool
	addr   net.Addr
	ln     net.Listener
	pc     net.PacketConn
	udp    *lane
	conns  map[net.Conn]*lane // the open connections and their lanes
	ready  []*lane            // lanes that hold events, in the order they came to

	notify     chan struct{} // a lane joined ready; buffered 1
	done       chan struct{} // closed by Close: producers stop waiting and finish
	finished   chan struct{} // closed when no producer will add another event
	finishOnce sync.Once
	wg         sync.WaitGroup // the goroutines Open started

	cur *batch // the batch the last Next returned; only Next touches it
}

// Addr returns the address the source listens on (its port, when it was given as 0), or nil
// before Open.
func (s *Source) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Open listens on the port, on the address flume.syslog.bind gives, and starts reading. ctx
// bounds the attempt.
func (s *Source) Open(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.opened {
		return nil
	}
	addr := net.JoinHostPort(s.bind, strconv.Itoa(s.port))
	var lc net.ListenConfig
	if s.network == "udp" {
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		s.pc, s.addr, s.udp = pc, pc.LocalAddr(), newLane(s)
		s.wg.Add(1)
		go s.readUDP(pc, s.udp)
	} else {
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if s.tls != nil {
			ln = tls.NewListener(ln, s.tls)
		}
		s.ln, s.addr, s.conns = ln, ln.Addr(), make(map[net.Conn]*lane)
		s.wg.Add(1)
		go s.accept(ln)
	}
	s.opened = true
	s.log.Info("listening", "addr", s.addr.String(), "tls", s.tls != nil)
	return nil
}

// Next returns the next batch of messages, waiting for one. It returns ctx.Err() at once when
// ctx is done. Once the source has ended (closed, or syslogTcp1's connection closed) it
// returns what the lanes still hold, then io.EOF. The batch is valid until the next call.
func (s *Source) Next(ctx context.Context) ([]*event.Event, error) {
	s.mu.Lock()
	opened, closed := s.opened, s.closed
	s.mu.Unlock()
	if !opened {
		if closed {
			return nil, io.EOF
		}
		return nil, ErrNotOpen
	}
	if s.cur != nil {
		s.cur.lane.recycle(s.cur)
		s.cur = nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for {
		// Read before take: every event added before finished closed is then seen.
		ended := isClosed(s.finished)
		if b := s.take(); b != nil {
			s.cur = b
			evs := b.events()
			s.ctr.Add(evs)
			return evs, nil
		}
		if ended {
			return nil, io.EOF
		}
		select {
		case <-s.notify:
		case <-s.finished:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// take returns a batch from the first lane that has one, or nil.
func (s *Source) take() *batch {
	for {
		s.mu.Lock()
		if len(s.ready) == 0 {
			s.mu.Unlock()
			return nil
		}
		l := s.ready[0]
		n := copy(s.ready, s.ready[1:])
		s.ready[n] = nil
		s.ready = s.ready[:n]
		s.mu.Unlock()
		b, more := l.take()
		if more {
			s.mu.Lock()
			s.ready = append(s.ready, l)
			s.mu.Unlock()
		}
		if b != nil {
			return b
		}
	}
}

// push puts l in the ready list and wakes Next. The caller holds l.mu.
func (s *Source) push(l *lane) {
	s.mu.Lock()
	s.ready = append(s.ready, l)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Close stops listening, closes the connections and waits for every goroutine of the source.
// What they had read is kept for Next. Close is safe without Open, and twice.
func (s *Source) Close(context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	ln, pc := s.ln, s.pc
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	// Errors closing are of no interest: syslogTcp1's listener is already closed, and a
	// connection may be closing itself.
	if ln != nil {
		_ = ln.Close()
	}
	if pc != nil {
		_ = pc.Close()
	}
	for _, c := range conns {
		_ = c.Close()
	}
	s.wg.Wait()
	s.finish()
	return nil
}

// closing reports whether Close has begun.
func (s *Source) closing() bool { return isClosed(s.done) }

// finish records that no producer will add another event.
func (s *Source) finish() { s.finishOnce.Do(func() { close(s.finished) }) }

// pause waits for d, or until Close; it reports whether d passed.
func (s *Source) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

// held returns the number of events the lanes hold.
func (s *Source) held() int {
	s.mu.Lock()
	lanes := make([]*lane, 0, len(s.conns)+1)
	if s.udp != nil {
		lanes = append(lanes, s.udp)
	}
	for _, l := range s.conns {
		lanes = append(lanes, l)
	}
	s.mu.Unlock()
	n := 0
	for _, l := range lanes {
		n += l.len()
	}
	return n
}

// add adds m, which arrived at arrival, to l, waiting for room if wait is set, and counts it
// if it is malformed. It reports whether m was added.
func (s *Source) add(l *lane, m *message, arrival int64, wait bool) bool {
	if !l.add(m, arrival, wait) {
		return false
	}
	if m.err != "" {
		s.ctr.parseErrors.Inc()
	}
	return true
}

// nextDelay is the wait before retrying after an error of a socket that is still open (out of
// file descriptors, say): growing from 5 ms to 1 s.
func nextDelay(d time.Duration) time.Duration {
	if d == 0 {
		return 5 * time.Millisecond
	}
	return min(2*d, time.Second)
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
