package wire

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// Server defaults.
const (
	// DefaultMaxInFlight is the number of unacknowledged batches a stream may have before the
	// server stops reading it.
	DefaultMaxInFlight = 64
	// DefaultServerKeepaliveTime is how long a connection may be silent before the server
	// pings the agent; with DefaultServerKeepaliveTimeout, a dead agent is noticed in about
	// two seconds.
	DefaultServerKeepaliveTime = time.Second
	// DefaultServerKeepaliveTimeout is how long the server waits for a ping's answer.
	DefaultServerKeepaliveTimeout = time.Second
)

// Handler takes the batches a Server receives.
type Handler interface {
	// Batch is called for each decoded batch of a stream in arrival order, from the stream's
	// goroutine; batches of different streams arrive concurrently. events are read-only and
	// valid only during the call: a handler that keeps them past it Clones them. ack must be
	// called exactly once, with a status other than unspecified, from any goroutine, possibly
	// after Batch returns (end-to-end commits finish later); it never blocks. err, which may
	// be nil, says why when status is not OK. ctx ends when the stream does: Batch must return
	// then, and an ack after it is dropped (the agent sends the batch again).
	Batch(ctx context.Context, s *StreamInfo, b BatchInfo, events []*event.Event, ack func(status flumev1.AckStatus, err error))
}

// StreamInfo describes a stream, from its hello. It is shared by the stream's batches and
// must not be changed.
type StreamInfo struct {
	// Agent is the agent's logical node name.
	Agent string
	// Epoch is the agent's epoch: its sequence numbers restart from 1 in each epoch.
	Epoch uint64
	// Physical is the physical node the agent runs on.
	Physical string
	// Reliability is the delivery promise of every batch of the stream; never unspecified
	// (a hello without one means best effort).
	Reliability flumev1.Reliability
	// Peer is the agent's network address.
	Peer string
}

// BatchInfo describes one batch.
type BatchInfo struct {
	// Seq is the batch's sequence number within the agent's epoch, from 1.
	Seq uint64
	// Created is when the agent first wrote the batch, in unix nanoseconds.
	Created int64
	// Bytes is the size of the batch's events in binary encoding (decompressed).
	Bytes int
}

// ServerOptions configure a Server. The zero value gives the defaults.
type ServerOptions struct {
	// MaxMessageSize is the largest request accepted, in bytes; a larger one fails its
	// stream with codes.ResourceExhausted. Default DefaultMaxMessageSize.
	MaxMessageSize int
	// MaxRawSize is the largest decompressed batch accepted; a larger one is rejected.
	// Default DefaultMaxRawSize.
	MaxRawSize int
	// MaxInFlight is the number of unacknowledged batches per stream beyond which the server
	// stops reading the stream. Default DefaultMaxInFlight.
	MaxInFlight int
	// KeepaliveTime and KeepaliveTimeout: the server pings a connection silent for
	// KeepaliveTime and closes it when the answer does not come within KeepaliveTimeout.
	// Defaults DefaultServerKeepaliveTime and DefaultServerKeepaliveTimeout.
	KeepaliveTime, KeepaliveTimeout time.Duration
	// Metrics receives the server's figures; nil records nothing. Counters: batches_in
	// (batches received, keepalives aside), events_in (events of the batches decoded),
	// bytes_in (payload bytes received, as sent), batches_rejected (batches refused as bad),
	// keepalives_in, acks_out; gauge: streams_open.
	Metrics *metrics.Registry
	// Logger logs streams opening and ending; nil logs nothing.
	Logger *slog.Logger
	// GRPCOptions are added to the server's own, after them: transport credentials for TLS,
	// interceptors.
	GRPCOptions []grpc.ServerOption
}

func (o ServerOptions) withDefaults() ServerOptions {
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.MaxRawSize <= 0 {
		o.MaxRawSize = DefaultMaxRawSize
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.KeepaliveTime <= 0 {
		o.KeepaliveTime = DefaultServerKeepaliveTime
	}
	if o.KeepaliveTimeout <= 0 {
		o.KeepaliveTimeout = DefaultServerKeepaliveTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// serverMetrics are the server's counters, shared by its streams.
type serverMetrics struct {
	batchesIn, eventsIn, bytesIn, rejected, keepalives, acksOut *metrics.Counter
	streamsOpen                                                 *metrics.Gauge
}

// Server is the collector's end of CollectorService. It decodes each stream's batches and
// hands them to its Handler, and sends the acks back. Serve and Stop run it on a gRPC server
// of its own; it can also be registered on another one, which its owner then stops, after
// calling Stop to drain the streams.
type Server struct {
	flumev1.UnimplementedCollectorServiceServer

	h    Handler
	opts ServerOptions
	log  *slog.Logger
	m    serverMetrics
	grpc *grpc.Server

	// decoders are shared by the streams: a decoder is busy only while a batch is decoded and
	// handled, so memory follows the batches being handled, not the streams open.
	decoders sync.Pool

	stopOnce sync.Once
	stopping chan struct{} // closed by Stop: streams take no new batches and end once drained
	wg       sync.WaitGroup
}

// NewServer returns a server that hands batches to h.
func NewServer(h Handler, opts ServerOptions) *Server {
	opts = opts.withDefaults()
	r := opts.Metrics
	s := &Server{
		h:    h,
		opts: opts,
		log:  opts.Logger,
		m: serverMetrics{
			batchesIn:   r.Counter("batches_in"),
			eventsIn:    r.Counter("events_in"),
			bytesIn:     r.Counter("bytes_in"),
			rejected:    r.Counter("batches_rejected"),
			keepalives:  r.Counter("keepalives_in"),
			acksOut:     r.Counter("acks_out"),
			streamsOpen: r.Gauge("streams_open"),
		},
		stopping: make(chan struct{}),
	}
	s.decoders.New = func() any { return NewDecoder(opts.MaxRawSize) }
	gopts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(opts.MaxMessageSize),
		// Agents ping no more often than every 10 s (gRPC's floor for clients); allowing
		// more keeps a ping storm from a buggy agent the only thing refused.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             time.Second,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:    opts.KeepaliveTime,
			Timeout: opts.KeepaliveTimeout,
		}),
		// Batches are large: bigger HTTP/2 windows let a stream keep the link busy instead of
		// waiting on flow-control updates. They also bound what an agent can have buffered
		// here beyond MaxInFlight: 4 MiB a stream, 16 MiB a connection, as much as bandwidth
		// estimation would grow the windows to anyway.
		grpc.InitialWindowSize(4 << 20),
		grpc.InitialConnWindowSize(16 << 20),
		grpc.WaitForHandlers(true),
	}
	s.grpc = grpc.NewServer(append(gopts, opts.GRPCOptions...)...)
	flumev1.RegisterCollectorServiceServer(s.grpc, s)
	return s
}

// Serve accepts connections on lis until Stop; it returns nil after Stop and the listener's
// error otherwise. Serve may be called once.
func (s *Server) Serve(lis net.Listener) error {
	err := s.grpc.Serve(lis)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Stop drains and stops the server: streams take no new batches (they are answered RETRY),
// each stream ends with codes.Unavailable once its batches in flight are acked, then the
// connections close. When ctx ends first, the remaining streams are cut and their unacked
// batches are left to the agents to send again; Stop then returns ctx's error. Stop waits for
// every goroutine of the server, and may be called more than once.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopping) })
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		s.grpc.Stop()
		<-done
	}
	s.wg.Wait()
	return err
}

// Append serves one agent's stream.
func (s *Server) Append(ss flumev1.CollectorService_AppendServer) error {
	st, err := s.open(ss)
	if err != nil {
		return err
	}
	s.m.streamsOpen.Add(1)
	defer s.m.streamsOpen.Add(-1)
	s.log.Debug("stream open", "agent", st.info.Agent, "epoch", st.info.Epoch, "peer", st.info.Peer)
	err = st.run()
	if err != nil {
		s.log.Info("stream ended", "agent", st.info.Agent, "peer", st.info.Peer, "err", err)
	} else {
		s.log.Debug("stream closed", "agent", st.info.Agent, "peer", st.info.Peer)
	}
	return err
}
