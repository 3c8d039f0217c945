// Package client is how everything that talks to the masters dials them: nodes (sessions and
// end-to-end commits), flumectl, the benchmarks. A Client holds one connection per master,
// secured with the given transport credentials and carrying the given token, and tries the
// masters in turn, with a growing backoff, until one answers. Errors keep their gRPC status
// code: callers decide by status.Code, never by message text.
//
// It imports nothing of the master itself, so its users do not link the raft library.
package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/flumego/flume/node/retry"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// Defaults of a Client.
const (
	// DefaultMaxRecvBytes is the largest answer a client takes: a node's assignment is at most
	// a quarter of it, and the configurations of thousands of logical nodes fit.
	DefaultMaxRecvBytes = 64 << 20
	// defaultBackoffInitial and defaultBackoffMax pace the rounds over every master while none
	// answers (an election, a restart).
	defaultBackoffInitial = 50 * time.Millisecond
	defaultBackoffMax     = time.Second
	// reconnectMax caps gRPC's own wait between two connection attempts to a master that is
	// down (gRPC's default is two minutes). A call to a master whose connection is waiting
	// fails at once without trying, so with the default a master back after a long outage
	// would stay out of reach, for nodes and collectors alike, long after it answers again.
	// The masters are few, so trying each about once a second costs little.
	reconnectMax = time.Second
	// minConnectTimeout bounds one connection attempt (TCP and TLS): gRPC's default, which
	// setting the reconnect backoff would otherwise replace.
	minConnectTimeout = 20 * time.Second
)

// ErrNoMaster is returned by New for an empty list of masters.
var ErrNoMaster = errors.New("no master to connect to")

// TokenHeader is the metadata key a token travels under, as "Bearer TOKEN".
const TokenHeader = "authorization"

// Options configure a Client. Addrs is required.
type Options struct {
	// Addrs are the addresses (host:port) of the masters' service the client calls: the admin
	// service for flumectl, the node service for nodes.
	Addrs []string
	// Credentials secure the connections; nil is plaintext, which a daemon allows on loopback
	// only (or with --insecure).
	Credentials credentials.TransportCredentials
	// Token, when not empty, is sent with every call.
	Token string
	// Retry reports whether another master, or the same one later, may answer a call that
	// failed with err. The default retries codes.Unavailable (no master reachable, no leader
	// yet) unless the TLS handshake failed, which another try would not change.
	Retry func(err error) bool
	// AttemptTimeout bounds one attempt against one master; 0 leaves only the caller's ctx.
	AttemptTimeout time.Duration
	// Backoff paces the rounds over every master; the zero value waits 50 ms, doubling up to
	// 1 s.
	Backoff retry.Backoff
	// DialOptions are added to the client's own.
	DialOptions []grpc.DialOption
}

// Client dials the masters. It is safe for concurrent use.
type Client struct {
	opts Options
	dial []grpc.DialOption

	mu    sync.Mutex
	addrs []string
	conns map[string]*grpc.ClientConn
	good  int // the index of the master that answered last
}

// New returns a client of the masters at opts.Addrs. Close releases its connections.
func New(opts Options) (*Client, error) {
	if len(opts.Addrs) == 0 {
		return nil, ErrNoMaster
	}
	if opts.Retry == nil {
		opts.Retry = func(err error) bool { return status.Code(err) == codes.Unavailable && !HandshakeFailed(err) }
	}
	if opts.Backoff.Initial == 0 {
		opts.Backoff.Initial = defaultBackoffInitial
	}
	if opts.Backoff.Max == 0 {
		opts.Backoff.Max = defaultBackoffMax
	}
	creds := opts.Credentials
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	reconnect := backoff.DefaultConfig
	reconnect.BaseDelay, reconnect.MaxDelay = reconnectMax/4, reconnectMax
	dial := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(DefaultMaxRecvBytes)),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: reconnect, MinConnectTimeout: minConnectTimeout}),
	}
	if opts.Token != "" {
		dial = append(dial, grpc.WithPerRPCCredentials(bearer(opts.Token)))
	}
	return &Client{opts: opts, dial: append(dial, opts.DialOptions...),
		addrs: append([]string(nil), opts.Addrs...), conns: map[string]*grpc.ClientConn{}}, nil
}

// bearer sends a token with every call. It does not require transport security: a daemon
// refuses plaintext off loopback unless told --insecure, and then the operator chose it.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{TokenHeader: "Bearer " + string(b)}, nil
}

func (b bearer) RequireTransportSecurity() bool { return false }

// Close closes every connection. The client must not be used after.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for addr, cc := range c.conns {
		_ = cc.Close()
		delete(c.conns, addr)
	}
	return nil
}

// Addrs returns the masters the client tries.
func (c *Client) Addrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.addrs...)
}

// SetAddrs changes the masters the client tries, as the ensemble announced them; connections to
// masters no longer listed are closed.
func (c *Client) SetAddrs(addrs []string) {
	if len(addrs) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		keep[a] = true
	}
	for a, cc := range c.conns {
		if !keep[a] {
			_ = cc.Close()
			delete(c.conns, a)
		}
	}
	c.addrs, c.good = append([]string(nil), addrs...), 0
}

// Conn returns the connection to the master at addr, dialing it the first time. Dialing does
// not connect: the connection is made by the first call.
func (c *Client) Conn(addr string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cc, ok := c.conns[addr]; ok {
		return cc, nil
	}
	cc, err := grpc.NewClient(addr, c.dial...)
	if err != nil {
		return nil, fmt.Errorf("master %s: %w", addr, err)
	}
	c.conns[addr] = cc
	return cc, nil
}

// Call runs fn against the masters in turn, starting with the one that answered last, until one
// answers, fn fails with an error Options.Retry does not retry, or ctx ends. After a round in
// which no master answered it backs off. The error names the master and what was asked, and
// keeps the gRPC status of the last failure (status.Code and errors.As see it).
func (c *Client) Call(ctx context.Context, what string, fn func(ctx context.Context, cc grpc.ClientConnInterface) error) error {
	c.mu.Lock()
	start, n := c.good, len(c.addrs)
	c.mu.Unlock()
	b := c.opts.Backoff
	var last *Error
	for attempt := 0; ; attempt++ {
		addr := c.addrAt(start + attempt)
		cc, err := c.Conn(addr)
		if err != nil {
			return &Error{What: what, Master: addr, Err: err}
		}
		actx, cancel := ctx, context.CancelFunc(func() {})
		if c.opts.AttemptTimeout > 0 {
			actx, cancel = context.WithTimeout(ctx, c.opts.AttemptTimeout)
		}
		err = fn(actx, cc)
		cancel()
		if err == nil {
			c.mu.Lock()
			c.good = (start + attempt) % max(len(c.addrs), 1)
			c.mu.Unlock()
			return nil
		}
		last = &Error{What: what, Master: addr, Err: err, plaintext: c.opts.Credentials == nil}
		if ctx.Err() != nil {
			last.Timeout = true
			return last
		}
		if !c.opts.Retry(err) {
			return last
		}
		if (attempt+1)%n == 0 { // every master tried once more: wait for an election or a restart
			d, _ := b.Next()
			if retry.Wait(ctx, d) != nil {
				last.Timeout = true
				return last
			}
		}
	}
}

func (c *Client) addrAt(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addrs[i%len(c.addrs)]
}

// Explain wraps err, the failure of a call to the master at addr made outside Call (a
// session stream), as Call would: naming the master, keeping its status, with a hint.
func (c *Client) Explain(addr string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Master: addr, Err: err, plaintext: c.opts.Credentials == nil}
}

// Admin runs fn with the admin service of each master in turn, as Call does.
func (c *Client) Admin(ctx context.Context, what string, fn func(ctx context.Context, a flumev1.AdminServiceClient) error) error {
	return c.Call(ctx, what, func(ctx context.Context, cc grpc.ClientConnInterface) error {
		return fn(ctx, flumev1.NewAdminServiceClient(cc))
	})
}

// Node runs fn with the node service of each master in turn, as Call does.
func (c *Client) Node(ctx context.Context, what string, fn func(ctx context.Context, n flumev1.NodeServiceClient) error) error {
	return c.Call(ctx, what, func(ctx context.Context, cc grpc.ClientConnInterface) error {
		return fn(ctx, flumev1.NewNodeServiceClient(cc))
	})
}

// HandshakeFailed reports whether err is a connection that failed in its TLS handshake, or a
// plaintext connection a TLS master closed before it began: a mistake of configuration.
func HandshakeFailed(err error) bool {
	if status.Code(err) != codes.Unavailable {
		return false
	}
	msg := status.Convert(err).Message()
	return strings.Contains(msg, "authentication handshake failed") || strings.Contains(msg, "error reading server preface")
}

// Error is a call that no master answered, or that a master refused. It keeps the gRPC status
// of the failure.
type Error struct {
	// What the caller asked, e.g. "commit" or "status".
	What string
	// Master is the address of the master that answered last, or was tried last.
	Master string
	// Err is that master's answer: a gRPC status error.
	Err error
	// Timeout is set when the caller's context ended while masters were tried.
	Timeout bool

	plaintext bool // the client spoke plaintext, for the hint
}

// Error says what failed, where, and what the master said, with a hint for the usual mistakes
// of a secured ensemble.
func (e *Error) Error() string {
	var b strings.Builder
	if e.What != "" {
		b.WriteString(e.What + ": ")
	}
	if e.Timeout {
		b.WriteString("no master answered in time; last tried ")
	}
	b.WriteString("master " + e.Master + ": " + status.Convert(e.Err).Message())
	if h := e.hint(); h != "" {
		b.WriteString(" (" + h + ")")
	}
	return b.String()
}

// hint explains the failures whose message does not say what to do.
func (e *Error) hint() string {
	msg := status.Convert(e.Err).Message()
	switch status.Code(e.Err) {
	case codes.Unavailable:
		if e.plaintext && (strings.Contains(msg, "server preface") || strings.Contains(msg, "connection reset")) {
			return "the master may require TLS: set flume.tls.ca, flume.tls.cert and flume.tls.key"
		}
	case codes.ResourceExhausted:
		return "the request or its answer is larger than a message may be"
	}
	return ""
}

// Unwrap returns the master's answer.
func (e *Error) Unwrap() error { return e.Err }

// GRPCStatus returns the status of the master's answer, so that status.Code sees it.
func (e *Error) GRPCStatus() *status.Status { return status.Convert(e.Err) }
