// Package collector is the collector tier: the source that receives agents' batches
// (collectorSource, rpcSource) and the sinks that write them durably and commit them
// (collectorSink and the dfs family, on collector/store), with the end-to-end commit protocol of
// DESIGN.md §6.1.
package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/flumego/flume/commitpoint"
	"github.com/flumego/flume/internal/refusal"
	"github.com/flumego/flume/internal/tlsconf"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
	"github.com/flumego/flume/wire"
)

// DefaultPort is the port of a collector source that names none (flume.collector.event.port).
const DefaultPort = 35853

// BindProperty is the property of the address collector sources bind.
const BindProperty = "flume.collector.event.bind"

// stopTimeout bounds how long a closing source waits for its streams' batches in flight.
const stopTimeout = 5 * time.Second

// delivery is one batch handed from a stream to the flow.
type delivery struct {
	events []*event.Event
	chunk  *commitpoint.Chunk
	taken  chan struct{} // closed once the flow is done with events
}

// Source receives agents' batches on a port and hands them to its flow one at a time, each
// with its chunk, so that the sinks that commit chunks can ack them when they are safe. A stream
// whose batch waits for the flow waits too (the flow's pace is the agents' pace), and the wire
// server stops reading it beyond its window: a slow sink slows agents down, it never grows the
// collector's memory.
type Source struct {
	addr    string
	bc      *plugin.BuildContext
	srv     *wire.Server
	lis     net.Listener
	in      chan *delivery
	closing chan struct{}

	serveErr chan error
	once     sync.Once
	closed   bool

	cur *delivery // the batch the flow has, released at the next Next
}

var (
	_ plugin.Source      = (*Source)(nil)
	_ plugin.ChunkSource = (*Source)(nil)
)

func portParam() spec.Param {
	return spec.Param{Name: "port", Kind: spec.ParamInt}
}

// buildSource builds collectorSource([port]) and rpcSource(port).
func buildSource(bc *plugin.BuildContext, a *spec.Args) (plugin.Source, error) {
	port := a.Int("port", bc.PropInt("flume.collector.event.port", DefaultPort))
	if port < 0 || port > 65535 {
		return nil, a.Errorf("port", "port %d is not a TCP port (0-65535)", port)
	}
	host := bc.Prop(BindProperty, "127.0.0.1")
	return &Source{addr: net.JoinHostPort(host, strconv.FormatInt(port, 10)), bc: bc,
		in: make(chan *delivery), closing: make(chan struct{}), serveErr: make(chan error, 1)}, nil
}

// Open listens and starts serving streams.
func (s *Source) Open(context.Context) error {
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("collector source: listen on %s: %w", s.addr, err)
	}
	s.lis = lis
	opts := wire.ServerOptions{
		Metrics: s.bc.Counters().Sub("collectorSource"),
		Logger:  s.bc.Log(),
	}
	if s.bc.TLS != nil {
		// Batches come from agents, which are nodes: with client verification on, only a
		// node certificate of the ensemble's CA may send them.
		opts.GRPCOptions = append(opts.GRPCOptions, grpc.Creds(
			s.bc.TLS.ServerCredentials(s.bc.ClientAuth, refusal.New(s.bc.Log(), 0), tlsconf.NodeName)))
	}
	s.srv = wire.NewServer(handler{s}, opts)
	go func() { s.serveErr <- s.srv.Serve(lis) }()
	s.bc.Log().Info("collector source listening", "addr", lis.Addr().String(), "tls", s.bc.TLS != nil)
	return nil
}

// Addr returns the address the source listens on, once open.
func (s *Source) Addr() string {
	if s.lis == nil {
		return s.addr
	}
	return s.lis.Addr().String()
}

// Next returns the next batch any agent sent.
func (s *Source) Next(ctx context.Context) ([]*event.Event, error) {
	s.release()
	if s.closed {
		return nil, io.EOF
	}
	select {
	case d := <-s.in:
		s.cur = d
		return d.events, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case err := <-s.serveErr:
		s.serveErr <- err
		if err == nil {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("collector source on %s: %w", s.Addr(), err)
	}
}

// Chunk returns the chunk of the batch the last Next returned.
func (s *Source) Chunk() *commitpoint.Chunk {
	if s.cur == nil {
		return nil
	}
	return s.cur.chunk
}

// release gives the stream of the current batch its turn back.
func (s *Source) release() {
	if s.cur != nil {
		close(s.cur.taken)
		s.cur = nil
	}
}

// Close stops taking batches: the streams' batches in flight are answered RETRY (their agents
// send them again, here after a restart or to another collector), the server stops.
func (s *Source) Close(context.Context) error {
	s.release()
	var err error
	s.once.Do(func() {
		s.closed = true
		close(s.closing)
		if s.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
			defer cancel()
			if e := s.srv.Stop(ctx); e != nil && !errors.Is(e, context.DeadlineExceeded) {
				err = e
			}
			<-s.serveErr
			s.serveErr <- nil
		}
	})
	return err
}

// handler takes batches from the wire server.
type handler struct{ s *Source }

func reliabilityOf(r flumev1.Reliability) commitpoint.Reliability {
	switch r {
	case flumev1.Reliability_RELIABILITY_END_TO_END:
		return commitpoint.EndToEnd
	case flumev1.Reliability_RELIABILITY_DISK_FAILOVER:
		return commitpoint.DiskFailover
	}
	return commitpoint.BestEffort
}

var ackStatus = map[commitpoint.Result]flumev1.AckStatus{
	commitpoint.OK:        flumev1.AckStatus_ACK_STATUS_OK,
	commitpoint.Duplicate: flumev1.AckStatus_ACK_STATUS_DUPLICATE,
	commitpoint.Retry:     flumev1.AckStatus_ACK_STATUS_RETRY,
	commitpoint.Rejected:  flumev1.AckStatus_ACK_STATUS_REJECTED,
}

// Batch hands one batch to the flow and waits until the flow is done with its events, which
// are valid only during the call.
func (h handler) Batch(ctx context.Context, si *wire.StreamInfo, b wire.BatchInfo, events []*event.Event,
	ack func(flumev1.AckStatus, error)) {
	if len(events) == 0 {
		// A chunk without events (it carries the agent's source position only) is safe as
		// soon as it arrived.
		ack(flumev1.AckStatus_ACK_STATUS_OK, nil)
		return
	}
	d := &delivery{events: events, taken: make(chan struct{}),
		chunk: commitpoint.NewChunk(si.Agent, si.Epoch, b.Seq, reliabilityOf(si.Reliability),
			func(r commitpoint.Result, err error) { ack(ackStatus[r], err) })}
	select {
	case h.s.in <- d:
	case <-ctx.Done():
		ack(flumev1.AckStatus_ACK_STATUS_RETRY, errors.New("stream ended"))
		return
	case <-h.s.closing:
		ack(flumev1.AckStatus_ACK_STATUS_RETRY, errors.New("collector source closing"))
		return
	}
	<-d.taken
}
