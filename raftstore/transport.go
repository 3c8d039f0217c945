package raftstore

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/flumego/flume/internal/refusal"
)

// streamLayer is the raft.StreamLayer of a member: plain TCP or mutual TLS over a
// net.Listener.
//
// Accepting runs in the layer's own goroutine (accept.go): it takes raw connections off the
// listener, handshakes each TLS connection in a goroutine of its own under the dial
// timeout, and hands raft, through Accept, only connections whose handshake has completed.
// Raft therefore never reads a byte from a peer that has not shown a certificate the
// server config verified.
//
// Every connection reads through a cap (msgcap.go): at most maxMessage bytes between two of
// its writes, maxSnapshot for an InstallSnapshot request; past it the connection is closed.
//
// It tracks every connection it hands out, accepted or dialled, and closes them all in
// Close. raft's NetworkTransport only closes the listener, and its per-connection readers
// block until the peer hangs up; closing the connections here ends them promptly, on this
// member and on the peers at the other end.
type streamLayer struct {
	ln          net.Listener
	advertise   net.Addr
	server      *tls.Config // nil: plain TCP; used as given, never cloned
	client      *tls.Config
	timeout     time.Duration // connect plus handshake
	maxMessage  int64
	maxSnapshot int64
	refuse      *refusal.Log

	ctx   context.Context    // cancelled by Close: ends the accept loop, handshakes and dials
	stop  context.CancelFunc // cancels ctx
	ready chan *trackedConn  // accepted connections, handshake done, waiting for Accept
	wg    sync.WaitGroup     // the accept loop and the handshakes it started

	mu         sync.Mutex
	conns      map[*trackedConn]struct{} // nil once closed
	inbound    quota                     // accepted connections open
	handshakes quota                     // server handshakes in progress
	closed     bool
	down       atomic.Bool // closed, readable without the lock
}

var _ raft.StreamLayer = (*streamLayer)(nil)

// streamConfig is what a streamLayer takes from Config.
type streamConfig struct {
	// advertise is the address the other members dial (this member's Addr in the server
	// list), which raft stores in the configuration.
	advertise   string
	server      *tls.Config // nil with client: plain TCP
	client      *tls.Config
	timeout     time.Duration
	maxMessage  int64
	maxSnapshot int64
	log         *slog.Logger
}

// newStreamLayer wraps ln and starts accepting on it; Close stops it.
func newStreamLayer(ln net.Listener, sc streamConfig) *streamLayer {
	ctx, stop := context.WithCancel(context.Background())
	s := &streamLayer{
		ln:          ln,
		advertise:   advertAddr(sc.advertise),
		server:      sc.server,
		client:      sc.client,
		timeout:     sc.timeout,
		maxMessage:  sc.maxMessage,
		maxSnapshot: sc.maxSnapshot,
		refuse:      refusal.New(sc.log, 0),
		ctx:         ctx,
		stop:        stop,
		ready:       make(chan *trackedConn),
		conns:       make(map[*trackedConn]struct{}),
		inbound:     newQuota(maxInbound, maxInboundPerIP),
		handshakes:  newQuota(maxHandshakes, maxHandshakesPerIP),
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s
}

// advertAddr is a net.Addr that prints as the configured address.
type advertAddr string

func (a advertAddr) Network() string { return "tcp" }
func (a advertAddr) String() string  { return string(a) }

// Accept returns the next accepted connection, TLS handshake completed. It is called by
// raft's listen goroutine only; after Close it fails with ErrClosed.
func (s *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.ready:
		return c, nil
	case <-s.ctx.Done():
		return nil, fmt.Errorf("accept raft connection: %w", ErrClosed)
	}
}

// Dial connects to another member; timeout bounds connect and TLS handshake together, and
// Close cuts both short.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if timeout <= 0 || timeout > s.timeout {
		timeout = s.timeout
	}
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", string(address))
	if err != nil {
		return nil, fmt.Errorf("dial raft peer %s: %w", address, err)
	}
	c := s.newConn(raw, false)
	if s.client != nil {
		tlsConn := tls.Client(raw, s.clientConfig(address))
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("tls handshake with raft peer %s: %w", address, err)
		}
		c.Conn, c.tls = tlsConn, tlsConn
	}
	if !s.track(c) {
		_ = raw.Close()
		return nil, fmt.Errorf("dial raft peer %s: %w", address, ErrClosed)
	}
	return c, nil
}

// clientConfig is the client config for address: as given when it names a server, else a
// clone naming the host of address, so RootCAs verification checks the host dialled. Clone
// keeps every hook (VerifyConnection, GetClientCertificate) and the pools they read.
func (s *streamLayer) clientConfig(address raft.ServerAddress) *tls.Config {
	if s.client.ServerName != "" {
		return s.client
	}
	conf := s.client.Clone()
	conf.ServerName, _, _ = net.SplitHostPort(string(address))
	return conf
}

// Addr is the advertised address, not the bound one: raft refuses to run with an
// unroutable local address such as 0.0.0.0.
func (s *streamLayer) Addr() net.Addr { return s.advertise }

// Close stops accepting, ends the handshakes in progress, closes the listener and every
// connection still open, and returns once the layer's goroutines have ended. Safe twice.
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
	s.stop()
	err := s.ln.Close()
	for c := range conns {
		// The raw connection: closing the TLS one would first try to send close_notify.
		_ = c.raw.Close()
	}
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("close raft listener: %w", err)
	}
	return nil
}

// newConn wraps raw, not yet tracked; inbound for an accepted connection.
func (s *streamLayer) newConn(raw net.Conn, inbound bool) *trackedConn {
	c := &trackedConn{
		Conn:    raw,
		raw:     raw,
		layer:   s,
		inbound: inbound,
		peer:    raw.RemoteAddr().String(),
		ip:      remoteIP(raw.RemoteAddr()),
	}
	snapshot := int64(0) // a dialled connection reads responses only
	if inbound {
		snapshot = s.maxSnapshot
	}
	c.cap.init(s.maxMessage, snapshot)
	return c
}

// track registers a dialled connection; false once the layer is closed.
func (s *streamLayer) track(c *trackedConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// untrack forgets c and gives back its inbound slot; a no-op after the first call and
// after Close.
func (s *streamLayer) untrack(c *trackedConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	if c.inbound {
		s.inbound.give(c.ip)
	}
}

// trackedConn is a connection handed to raft. It reads through its cap, removes itself
// from its layer on Close, and reports a read cut short by the layer's Close as io.EOF.
type trackedConn struct {
	net.Conn            // what raft reads and writes: tls, or raw for plain TCP
	raw       net.Conn  // the TCP connection under it
	tls       *tls.Conn // nil for plain TCP
	layer     *streamLayer
	inbound   bool   // accepted, not dialled
	peer      string // remote address, for logs
	ip        string // remote IP, the key of quotas and refusal logs
	cap       readCap
	closeOnce sync.Once
}

// Read reads at most what the cap has left. Past the cap it closes the connection and
// reports io.EOF, as it does for a read cut short by the layer's Close: raft logs any other
// error at every occurrence, while the cap logs once per peer and quiet period, and a
// member shutting down is no failure.
func (c *trackedConn) Read(p []byte) (int, error) {
	p, ok := c.cap.clip(p)
	if !ok {
		c.overCap()
		return 0, io.EOF
	}
	n, err := c.Conn.Read(p)
	c.cap.count(p[:n])
	if err != nil && c.layer.down.Load() {
		err = io.EOF
	}
	return n, err
}

// Write starts a new read budget: raft writes a response once it has read a whole request.
func (c *trackedConn) Write(p []byte) (int, error) {
	c.cap.reset()
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

// remoteIP is the IP of addr without the port, the unit of quotas and refusal logs.
func remoteIP(addr net.Addr) string {
	if a, ok := addr.(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}
