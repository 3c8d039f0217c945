package syslog

import (
	"errors"
	"io"
	"net"
	"time"
)

// accept accepts connections until the listener closes; syslogTcp1 accepts one and closes it.
func (s *Source) accept(ln net.Listener) {
	defer s.wg.Done()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closing() || errors.Is(err, net.ErrClosed) {
				return
			}
			delay = nextDelay(delay)
			s.log.Warn("accept failed; retrying", "err", err, "delay", delay)
			if !s.pause(delay) {
				return
			}
			continue
		}
		delay = 0
		l, ok := s.track(c)
		if !ok {
			_ = c.Close() // accepted as the source closed: never read
			return
		}
		go s.serve(c, l)
		if s.single {
			// Classic syslogTcp1 served one connection. Closing the listener frees the
			// port; its error is of no interest.
			_ = ln.Close()
			return
		}
	}
}

// track records c as open, with a lane of its own; false if the source is closing.
func (s *Source) track(c net.Conn) (*lane, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	l := newLane(s)
	s.conns[c] = l
	s.wg.Add(1)
	s.ctr.accepted.Inc()
	s.ctr.open.Add(1)
	return l, true
}

// untrack closes c and forgets it. For syslogTcp1, the source has ended.
func (s *Source) untrack(c net.Conn) {
	_ = c.Close() // the connection is done with; Close may have closed it already
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.ctr.open.Add(-1)
	if s.single {
		s.finish()
	}
}

// serve reads messages from c into l until c ends or the source closes. The messages that
// were read when it ends are delivered, with an unterminated last one.
func (s *Source) serve(c net.Conn, l *lane) {
	defer s.wg.Done()
	defer s.untrack(c)
	remote := c.RemoteAddr().String()
	s.log.Debug("connection opened", "remote", remote)
	f := newFramer(s.max, s.policy)
	p := newParser(s.loc)
	var m message
	for {
		n, err := c.Read(f.space())
		now := time.Now().UnixNano()
		f.wrote(n)
		for frame, ok := f.next(); ok; frame, ok = f.next() {
			// Waits while the lane is full: the socket is not read meanwhile, and TCP
			// slows the sender.
			p.parse(frame, now, &m)
			s.add(l, &m, now, true)
		}
		if err != nil {
			// What is left is a message without its end. The sender's closing ends its last
			// line, as in classic Flume; but a message of a connection the source closed,
			// or one shorter than its octet count, was cut short: it is kept as malformed.
			if frame, cut, ok := f.remainder(); ok {
				p.parse(frame, now, &m)
				if cut || !errors.Is(err, io.EOF) {
					m.err = ErrCut.Error()
				}
				s.add(l, &m, now, true)
			}
			s.countOversize(f)
			switch {
			case errors.Is(err, io.EOF):
				s.log.Debug("connection closed", "remote", remote)
			case s.closing():
			default:
				s.log.Info("connection failed", "remote", remote, "err", err)
			}
			return
		}
		s.countOversize(f)
	}
}

// countOversize adds f's counts of oversized frames to the metrics.
func (s *Source) countOversize(f *framer) {
	truncated, rejected := f.takeCounts()
	if truncated > 0 {
		s.ctr.Truncated.Add(truncated)
	}
	if rejected > 0 {
		s.ctr.Rejected.Add(rejected)
	}
}
