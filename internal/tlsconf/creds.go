package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/flumego/flume/internal/refusal"
)

// ServerCredentials returns gRPC server credentials on ServerConfig(auth, roles...). Each
// handshake is bounded by the handshake cap (10 s): the deadline is set on the raw connection
// and left for gRPC to clear, as it does once the HTTP/2 preface is read. Each failed handshake
// is reported to refused (nil discards) under "tls <peer ip>", saying why; a connection closed
// before its first byte (a port probe) is not.
func (p *Provider) ServerCredentials(auth ClientAuth, refused *refusal.Log, roles ...string) credentials.TransportCredentials {
	return &serverCreds{
		inner:   credentials.NewTLS(p.ServerConfig(auth, roles...)),
		refused: refused,
		timeout: p.handshakeTimeout,
	}
}

// ClientCredentials returns gRPC client credentials on ClientConfig(serverName): the server
// must hold a certificate of the role serverName (MasterName, NodeName). Each handshake is
// bounded by the context gRPC passes and the handshake cap (10 s). A failed handshake returns
// a *HandshakeError. Under TLS 1.3, where a server checks the client's certificate only after
// the client has finished, the handshake also waits (up to a second) for the server's first
// bytes, so that a refusal of the client's certificate is a HandshakeError too.
func (p *Provider) ClientCredentials(serverName string) credentials.TransportCredentials {
	return &clientCreds{
		inner:      credentials.NewTLS(p.ClientConfig(serverName)),
		serverName: serverName,
		timeout:    p.handshakeTimeout,
	}
}

// serverCreds logs refusals and bounds the handshakes of gRPC's TLS credentials.
type serverCreds struct {
	inner   credentials.TransportCredentials
	refused *refusal.Log
	timeout time.Duration
}

// ServerHandshake implements credentials.TransportCredentials.
func (c *serverCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	_ = raw.SetDeadline(time.Now().Add(c.timeout))
	conn, info, err := c.inner.ServerHandshake(raw)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			refuse(c.refused, raw.RemoteAddr(), err)
		}
		return nil, nil, err
	}
	return conn, info, nil
}

// ClientHandshake implements credentials.TransportCredentials; a server never calls it.
func (c *serverCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c.inner.ClientHandshake(ctx, authority, raw)
}

// Info implements credentials.TransportCredentials.
func (c *serverCreds) Info() credentials.ProtocolInfo { return c.inner.Info() }

// Clone implements credentials.TransportCredentials.
func (c *serverCreds) Clone() credentials.TransportCredentials {
	return &serverCreds{inner: c.inner.Clone(), refused: c.refused, timeout: c.timeout}
}

// OverrideServerName implements credentials.TransportCredentials (deprecated there).
func (c *serverCreds) OverrideServerName(name string) error {
	return c.inner.OverrideServerName(name) //nolint:staticcheck // part of the interface
}

// clientCreds explains the failures and bounds the handshakes of gRPC's TLS credentials.
type clientCreds struct {
	inner      credentials.TransportCredentials
	serverName string
	timeout    time.Duration
}

// ClientHandshake implements credentials.TransportCredentials.
func (c *clientCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	addr := raw.RemoteAddr().String()
	conn, info, err := c.inner.ClientHandshake(ctx, authority, raw)
	if err != nil {
		return nil, nil, explainClient(err, c.serverName, addr)
	}
	ec := &explainConn{Conn: conn, serverName: c.serverName, addr: addr}
	if tlsInfo, ok := info.(credentials.TLSInfo); ok && tlsInfo.State.Version >= tls.VersionTLS13 {
		if err := ec.awaitVerdict(ctx); err != nil {
			_ = conn.Close()
			return nil, nil, err
		}
	}
	if sc, ok := conn.(syscall.Conn); ok {
		// gRPC reads socket options through syscall.Conn; keep it visible.
		return &explainSyscallConn{explainConn: ec, sc: sc}, info, nil
	}
	return ec, info, nil
}

// ServerHandshake implements credentials.TransportCredentials; a client never calls it.
func (c *clientCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c.inner.ServerHandshake(raw)
}

// Info implements credentials.TransportCredentials. Its ServerName, the role name, becomes the
// :authority of the calls.
func (c *clientCreds) Info() credentials.ProtocolInfo { return c.inner.Info() }

// Clone implements credentials.TransportCredentials.
func (c *clientCreds) Clone() credentials.TransportCredentials {
	return &clientCreds{inner: c.inner.Clone(), serverName: c.serverName, timeout: c.timeout}
}

// OverrideServerName implements credentials.TransportCredentials (deprecated there). The name
// verified stays the role name given to ClientCredentials.
func (c *clientCreds) OverrideServerName(name string) error {
	return c.inner.OverrideServerName(name) //nolint:staticcheck // part of the interface
}

// verdictWait bounds how long a TLS 1.3 client waits for the server's first bytes after the
// handshake; a gRPC server sends its HTTP/2 SETTINGS at once, so only a slow link waits it out.
const verdictWait = time.Second

// explainConn is a client's connection after its handshake. It holds the bytes read while
// awaiting the server's verdict on the client certificate, and turns an alert the server
// sends later into a HandshakeError.
type explainConn struct {
	net.Conn
	serverName, addr string
	pending          []byte // read by awaitVerdict, returned first; Read is called by one goroutine
}

// awaitVerdict reads the server's first bytes, keeping them for Read. In TLS 1.3 a server
// checks the client's certificate after the client has finished its handshake, so its refusal
// (an alert) arrives only then; reading it here, before gRPC writes, turns the refusal into a
// handshake error that says why instead of a "broken pipe" on gRPC's first write. A server
// that sends nothing within verdictWait (or ctx) is given the benefit of the doubt.
func (c *explainConn) awaitVerdict(ctx context.Context) error {
	deadline := time.Now().Add(verdictWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.Conn.SetReadDeadline(deadline); err != nil {
		return explainClient(err, c.serverName, c.addr)
	}
	buf := make([]byte, 4096)
	n, err := c.Conn.Read(buf)
	c.pending = buf[:n]
	var netErr net.Error
	if err != nil && !(errors.As(err, &netErr) && netErr.Timeout()) {
		return explainClient(err, c.serverName, c.addr)
	}
	// A timed-out read leaves a tls.Conn usable: crypto/tls keeps only permanent errors.
	if err := c.Conn.SetReadDeadline(time.Time{}); err != nil {
		return explainClient(err, c.serverName, c.addr)
	}
	return nil
}

// Read implements net.Conn.
func (c *explainConn) Read(b []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	n, err := c.Conn.Read(b)
	if err != nil {
		if _, ok := remoteAlert(err); ok {
			err = explainClient(err, c.serverName, c.addr)
		}
	}
	return n, err
}

// explainSyscallConn is an explainConn over a connection that exposes its socket.
type explainSyscallConn struct {
	*explainConn
	sc syscall.Conn
}

// SyscallConn implements syscall.Conn.
func (c *explainSyscallConn) SyscallConn() (syscall.RawConn, error) { return c.sc.SyscallConn() }
