package wire

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// Client defaults.
const (
	// DefaultWindow is the number of batches a stream keeps unacknowledged before Send blocks.
	DefaultWindow = 16
	// DefaultAckTimeout is how long the oldest batch in flight may wait for its ack before
	// the stream fails; it covers an end-to-end commit through the masters.
	DefaultAckTimeout = 10 * time.Second
	// DefaultKeepaliveInterval is how long a stream may be idle before it sends a keepalive.
	DefaultKeepaliveInterval = time.Second
	// DefaultConnectTimeout bounds a connection attempt, HTTP/2 handshake included, so that a
	// peer that accepts connections and never answers is given up in about two seconds.
	DefaultConnectTimeout = 2 * time.Second
	// DefaultClientKeepaliveTime is how long a connection may be silent before the client
	// pings the collector: 10 s is the least gRPC allows a client. Detection is faster through
	// the stream's own keepalives, the keepalive timeout and the ack timeout.
	DefaultClientKeepaliveTime = 10 * time.Second
	// DefaultClientKeepaliveTimeout is how long a ping, and any data sent (gRPC sets it as
	// the connection's TCP_USER_TIMEOUT), may stay unanswered before the connection is closed.
	DefaultClientKeepaliveTimeout = time.Second
)

// ClientOptions configure a Client and its streams. The zero value gives the defaults.
type ClientOptions struct {
	// Window is the number of unacknowledged batches per stream. Default DefaultWindow.
	Window int
	// AckTimeout is how long the oldest unacknowledged batch may wait before the stream
	// fails with ErrAckTimeout. Default DefaultAckTimeout; best-effort and disk-failover
	// streams, acked as soon as the collector's sink has their batch, can use less.
	AckTimeout time.Duration
	// KeepaliveInterval is how long a stream may be idle before it sends a keepalive
	// request. Default DefaultKeepaliveInterval.
	KeepaliveInterval time.Duration
	// ConnectTimeout bounds each connection attempt. Default DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// KeepaliveTime and KeepaliveTimeout are the connection's HTTP/2 keepalive. Defaults
	// DefaultClientKeepaliveTime and DefaultClientKeepaliveTimeout.
	KeepaliveTime, KeepaliveTimeout time.Duration
	// MaxMessageSize is the largest request a stream sends, in bytes; Send refuses a larger
	// one with ErrTooLarge. Default DefaultMaxMessageSize.
	MaxMessageSize int
	// Credentials secure the connection; nil means plaintext.
	Credentials credentials.TransportCredentials
	// DialOptions are added to the client's own, after them.
	DialOptions []grpc.DialOption
}

func (o ClientOptions) withDefaults() ClientOptions {
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = DefaultAckTimeout
	}
	if o.KeepaliveInterval <= 0 {
		o.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.KeepaliveTime <= 0 {
		o.KeepaliveTime = DefaultClientKeepaliveTime
	}
	if o.KeepaliveTimeout <= 0 {
		o.KeepaliveTimeout = DefaultClientKeepaliveTimeout
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.Credentials == nil {
		o.Credentials = insecure.NewCredentials()
	}
	return o
}

// Client is an agent's connection to one collector. It is safe for concurrent use: several
// streams can share it.
type Client struct {
	addr string
	opts ClientOptions
	conn *grpc.ClientConn
	svc  flumev1.CollectorServiceClient
}

// Dial connects to the collector at addr (host:port) and returns once the connection is up.
// It fails with ErrUnreachable when the connection attempt fails or times out (see
// ClientOptions.ConnectTimeout), and with ctx's error when ctx ends first. Later, the client
// reconnects by itself, with backoff; a stream opened while the collector is down fails
// within the connect timeout.
func Dial(ctx context.Context, addr string, opts ClientOptions) (*Client, error) {
	opts = opts.withDefaults()
	bo := backoff.DefaultConfig
	bo.MaxDelay = 10 * time.Second
	dopts := []grpc.DialOption{
		grpc.WithTransportCredentials(opts.Credentials),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                opts.KeepaliveTime,
			Timeout:             opts.KeepaliveTimeout,
			PermitWithoutStream: true,
		}),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: opts.ConnectTimeout}),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(opts.MaxMessageSize), grpc.ForceCodecV2(newSendCodec())),
	}
	conn, err := grpc.NewClient(addr, append(dopts, opts.DialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("dial collector %s: %w", addr, err)
	}
	if err := awaitReady(ctx, conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("dial collector %s: %w", addr, err)
	}
	return &Client{addr: addr, opts: opts, conn: conn, svc: flumev1.NewCollectorServiceClient(conn)}, nil
}

// awaitReady connects conn and waits until it is ready or its first attempt failed.
func awaitReady(ctx context.Context, conn *grpc.ClientConn) error {
	conn.Connect()
	for {
		switch s := conn.GetState(); s {
		case connectivity.Ready:
			return nil
		case connectivity.TransientFailure, connectivity.Shutdown:
			return ErrUnreachable
		default:
			if !conn.WaitForStateChange(ctx, s) {
				return ctx.Err()
			}
		}
	}
}

// Addr returns the collector's address.
func (c *Client) Addr() string { return c.addr }

// Close closes the connection; streams still open on it fail.
func (c *Client) Close() error {
	return c.conn.Close()
}
