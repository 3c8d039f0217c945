package syslog

import (
	"errors"
	"net"
	"time"

	"github.com/flumego/flume/node/event"
)

// maxDatagram is the largest UDP payload.
const maxDatagram = 64 << 10

// readUDP reads datagrams into l until the socket closes: one message per datagram (RFC 5426),
// a trailing '\n' or "\r\n" dropped. It never waits for Next: while the lane is full, the
// datagrams that come are dropped and counted, and the socket is kept drained, so that the
// count covers what a slow flow loses.
func (s *Source) readUDP(pc net.PacketConn, l *lane) {
	defer s.wg.Done()
	buf := make([]byte, maxDatagram)
	p := newParser(s.loc)
	var m message
	var delay time.Duration
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			if s.closing() || errors.Is(err, net.ErrClosed) {
				return
			}
			delay = nextDelay(delay)
			s.log.Warn("read failed; retrying", "err", err, "delay", delay)
			if !s.pause(delay) {
				return
			}
			continue
		}
		delay = 0
		now := time.Now().UnixNano()
		frame := trimLF(buf[:n])
		if len(frame) == 0 {
			continue
		}
		if len(frame) > s.max {
			if s.policy == event.Reject {
				s.ctr.Rejected.Inc()
				continue
			}
			s.ctr.Truncated.Inc()
			frame = frame[:s.max]
		}
		// A full lane is checked first, to spend no parsing on what is dropped; add checks
		// again, as Next may not have taken the lane by then.
		if l.isFull() {
			s.ctr.dropped.Inc()
			continue
		}
		p.parse(frame, now, &m)
		if !s.add(l, &m, now, false) {
			s.ctr.dropped.Inc()
		}
	}
}
