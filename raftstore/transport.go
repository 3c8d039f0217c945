package raftstore

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// streamLayer is the raft.StreamLayer of a member: plain TCP or TLS over a net.Listener.
//
// It tracks every connection it hands out, accepted or dialled, and closes them all in
// Close. raft's NetworkTransport only closes the listener, and its per-connection readers
// block until the peer hangs up; closing the connections here ends them promptly, on this
// member and on the peers at the other end.
type streamLayer struct {
	ln        net.Listener
	advertise net.Addr
	server    *tls.Config // nil: plain TCP
	client    *tls.Config
	timeout   time.Duration // connect plus handshake

	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
	down   atomic.Bool // closed, readable without the lock
}

var _ raft.StreamLayer = (*streamLayer)(nil)

// newStreamLayer wraps ln. advertise is the address the other members dial (this member's
// Addr in the server list), which raft stores in the configuration.
func newStreamLayer(ln net.Listener, advertise string, tlsConf *tls.Config, timeout time.Duration) *streamLayer {
	s := &streamLayer{
		ln:        ln,
		advertise: advertAddr(advertise),
		timeout:   timeout,
		conns:     make(map[*trackedConn]struct{}),
	}
	if tlsConf != nil {
		s.server = tlsConf.Clone()
		if s.server.ClientCAs != nil && s.server.ClientAuth == tls.NoClientCert {
			s.server.ClientAuth = tls.RequireAndVerifyClientCert
		}
		s.client = tlsConf.Clone()
		s.client.ClientCAs = nil
	}
	return s
}

// advertAddr is a net.Addr that prints as the configured address.
type advertAddr string

func (a advertAddr) Network() string { return "tcp" }
func (a advertAddr) String() string  { return string(a) }

// Accept waits for the next connection. With TLS the handshake runs on the first Read or
// Write, in raft's per-connection goroutine, bounded by the dial timeout, so a slow or
// hostile client does not stall the accept loop.
func (s *streamLayer) Accept() (net.Conn, error) {
	c, err := s.ln.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, layer: s, timeout: s.timeout}
	if s.server != nil {
		tc.tls = tls.Server(c, s.server)
		tc.Conn = tc.tls
	}
	if !s.track(tc) {
		_ = c.Close()
		return nil, fmt.Errorf("accept: %w", ErrClosed)
	}
	return tc, nil
}

// Dial connects to another member; timeout bounds connect and TLS handshake together.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if timeout <= 0 || timeout > s.timeout {
		timeout = s.timeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", string(address))
	if err != nil {
		return nil, fmt.Errorf("dial raft peer %s: %w", address, err)
	}
	tc := &trackedConn{Conn: c, layer: s}
	if s.client != nil {
		conf := s.client
		if conf.ServerName == "" {
			conf = conf.Clone()
			conf.ServerName, _, _ = net.SplitHostPort(string(address))
		}
		tlsConn := tls.Client(c, conf)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("tls handshake with raft peer %s: %w", address, err)
		}
		tc.Conn, tc.tls = tlsConn, tlsConn
		tc.handshaken.Store(true)
	}
	if !s.track(tc) {
		_ = c.Close()
		return nil, fmt.Errorf("dial raft peer %s: %w", address, ErrClosed)
	}
	return tc, nil
}

// Addr is the advertised address, not the bound one: raft refuses to run with an
// unroutable local address such as 0.0.0.0.
func (s *streamLayer) Addr() net.Addr { return s.advertise }

// Close closes the listener and every connection still open. Safe twice.
func (s *streamLayer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.down.Store(true)
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	err := s.ln.Close()
	for c := range conns {
		_ = c.Conn.Close()
	}
	if err != nil {
		return fmt.Errorf("close raft listener: %w", err)
	}
	return nil
}

// track registers c; false once the layer is closed.
func (s *streamLayer) track(c *trackedConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *streamLayer) untrack(c *trackedConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// trackedConn removes itself from its layer on Close and, on the accepting side of TLS,
// runs the handshake under a deadline before the first Read or Write.
type trackedConn struct {
	net.Conn
	layer      *streamLayer
	tls        *tls.Conn // nil for plain TCP
	timeout    time.Duration
	handshaken atomic.Bool
	closeOnce  sync.Once
}

func (c *trackedConn) handshake() error {
	if c.tls == nil || c.handshaken.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if err := c.tls.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("tls handshake with raft peer %s: %w", c.RemoteAddr(), err)
	}
	c.handshaken.Store(true)
	return nil
}

// Read handshakes first when needed. A read cut short by the layer's Close reports
// io.EOF: raft treats that as a peer hanging up, where any other error is logged as a
// failure, and a member shutting down is not one.
func (c *trackedConn) Read(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if err != nil && c.layer.down.Load() {
		err = io.EOF
	}
	return n, err
}

// Write handshakes first when needed.
func (c *trackedConn) Write(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// Close closes the connection once and forgets it.
func (c *trackedConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.layer.untrack(c)
		err = c.Conn.Close()
	})
	return err
}
