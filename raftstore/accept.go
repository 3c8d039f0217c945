package raftstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/flumego/flume/node/retry"
)

// Bounds of the accepting side. A member's peers need a handful of connections each (a
// pool of maxPool, a pipeline, a snapshot transfer); the per-IP bounds keep one stranger
// from taking every slot, the totals bound what a flood from many addresses can hold.
// Beyond a bound a connection is closed at once.
const (
	maxInbound         = 64 // accepted connections open at once
	maxInboundPerIP    = 32
	maxHandshakes      = 64 // server TLS handshakes in progress at once
	maxHandshakesPerIP = 16
)

// acceptLoop takes raw connections off the listener until Close. A plain TCP connection
// is handed to Accept directly; a TLS one is handshaken in its own goroutine, so a peer
// that stalls its handshake holds a slot, not the loop. Runs in its own goroutine, owned
// by the layer.
func (s *streamLayer) acceptLoop() {
	defer s.wg.Done()
	backoff := retry.Backoff{Initial: 5 * time.Millisecond, Max: time.Second}
	for {
		raw, err := s.ln.Accept()
		if err != nil {
			if s.down.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: wait and try again, as net/http does.
			s.refuse.Refuse("raft accept", "raft listener failed to accept; retrying", "err", err)
			d, _ := backoff.Next()
			if retry.Wait(s.ctx, d) != nil {
				return
			}
			continue
		}
		backoff.Reset()
		s.admit(raw)
	}
}

// admit tracks a new connection within the bounds and starts its handshake, or hands it
// to Accept when there is none.
func (s *streamLayer) admit(raw net.Conn) {
	c := s.newConn(raw, true)
	if s.server != nil {
		c.tls = tls.Server(raw, s.server)
		c.Conn = c.tls
	}
	if err := s.trackInbound(c); err != nil {
		_ = raw.Close()
		if !errors.Is(err, ErrClosed) {
			s.refuse.Refuse("raft limit "+c.ip, "raft connection refused", "peer", c.peer, "err", err)
		}
		return
	}
	if c.tls == nil {
		s.deliver(c)
		return
	}
	s.wg.Add(1)
	go s.serverHandshake(c)
}

// trackInbound registers an accepted connection and takes its slots, or says why not.
func (s *streamLayer) trackInbound(c *trackedConn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if !s.inbound.take(c.ip) {
		return fmt.Errorf("too many connections open (at most %d, %d per IP)", maxInbound, maxInboundPerIP)
	}
	if c.tls != nil && !s.handshakes.take(c.ip) {
		s.inbound.give(c.ip)
		return fmt.Errorf("too many tls handshakes in progress (at most %d, %d per IP)", maxHandshakes, maxHandshakesPerIP)
	}
	s.conns[c] = struct{}{}
	return nil
}

// serverHandshake runs the server side of c's handshake under the dial timeout and hands
// c to Accept if it completes with a client certificate. A failure is logged once per
// remote IP and quiet period, so a stranger hammering the port cannot flood the log. Runs
// in its own goroutine.
func (s *streamLayer) serverHandshake(c *trackedConn) {
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	err := c.tls.HandshakeContext(ctx)
	cancel()
	if err == nil && len(c.tls.ConnectionState().PeerCertificates) == 0 {
		// Only a config from GetConfigForClient that does not ask for one gets here.
		err = errors.New("no client certificate: the server tls config must require one")
	}
	s.mu.Lock()
	s.handshakes.give(c.ip)
	s.mu.Unlock()
	if err != nil {
		_ = c.Close()
		if !s.down.Load() {
			s.refuse.Refuse("raft tls "+c.ip, "raft connection refused: tls handshake failed",
				"peer", c.peer, "err", err)
		}
		return
	}
	s.deliver(c)
}

// deliver hands c to Accept, or closes it when the layer closes first.
func (s *streamLayer) deliver(c *trackedConn) {
	select {
	case s.ready <- c:
	case <-s.ctx.Done():
		_ = c.Close()
	}
}

// quota counts slots held, in total and per remote IP. Guarded by streamLayer.mu; byIP
// holds only IPs with a slot, so it is bounded by total.
type quota struct {
	total, perIP int
	held         int
	byIP         map[string]int
}

func newQuota(total, perIP int) quota {
	return quota{total: total, perIP: perIP, byIP: make(map[string]int)}
}

// take takes a slot for ip; false when a bound is reached.
func (q *quota) take(ip string) bool {
	if q.held >= q.total || q.byIP[ip] >= q.perIP {
		return false
	}
	q.held++
	q.byIP[ip]++
	return true
}

// give returns a slot of ip.
func (q *quota) give(ip string) {
	q.held--
	if q.byIP[ip]--; q.byIP[ip] <= 0 {
		delete(q.byIP, ip)
	}
}
