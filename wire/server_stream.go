package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// sstream is the server's side of one stream. Two goroutines serve it: the receiver reads,
// decodes and dispatches batches; the handler goroutine (the one gRPC called Append on) sends
// the acks in the order they are given, so that one slow write never reorders them.
//
// Flow control: the receiver takes a token from slots before each read and the handler
// goroutine gives it back once the batch's ack is sent, so at most MaxInFlight batches are
// read and unacked; when they are, the receiver stops reading and HTTP/2 flow control stops
// the agent. Every batch dispatched puts exactly one ack into acks, whose capacity is
// MaxInFlight: ack never blocks, even after the stream is gone.
type sstream struct {
	srv  *Server
	ss   flumev1.CollectorService_AppendServer
	ctx  context.Context
	info StreamInfo

	slots    chan struct{}
	acks     chan *flumev1.AppendResponse
	pending  atomic.Int64 // batches dispatched whose ack is not sent yet
	recvDone chan error   // the receiver's result, once
}

// open reads and checks the stream's hello and confirms it with the response headers.
func (s *Server) open(ss flumev1.CollectorService_AppendServer) (*sstream, error) {
	first, err := ss.Recv()
	if err != nil {
		return nil, err
	}
	h := first.GetHello()
	if h == nil {
		return nil, status.Error(codes.InvalidArgument, "the first request of a stream must carry a hello")
	}
	if h.Agent == "" {
		return nil, status.Error(codes.InvalidArgument, "the stream hello names no agent")
	}
	rel := h.Reliability
	switch rel {
	case flumev1.Reliability_RELIABILITY_UNSPECIFIED:
		rel = flumev1.Reliability_RELIABILITY_BEST_EFFORT
	case flumev1.Reliability_RELIABILITY_BEST_EFFORT, flumev1.Reliability_RELIABILITY_DISK_FAILOVER,
		flumev1.Reliability_RELIABILITY_END_TO_END:
	default:
		return nil, status.Errorf(codes.InvalidArgument, "the stream hello asks for unknown reliability %d", int32(rel))
	}
	ctx := ss.Context()
	st := &sstream{
		srv:      s,
		ss:       ss,
		ctx:      ctx,
		info:     StreamInfo{Agent: h.Agent, Epoch: h.Epoch, Physical: h.Physical, Reliability: rel},
		slots:    make(chan struct{}, s.opts.MaxInFlight),
		acks:     make(chan *flumev1.AppendResponse, s.opts.MaxInFlight),
		recvDone: make(chan error, 1),
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		st.info.Peer = p.Addr.String()
	}
	// The agent waits for the headers to know its hello was taken.
	if err := ss.SendHeader(metadata.MD{}); err != nil {
		return nil, err
	}
	st.slots <- struct{}{} // the first request's token
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		st.recvDone <- st.receive(first)
	}()
	return st, nil
}

// run sends acks until the stream is over: the agent half-closed it and every batch is
// acked, the stream broke, or the server is stopping and the stream is drained.
func (st *sstream) run() error {
	var (
		recvEnded bool
		stopping  = st.srv.stopping
	)
	for {
		if st.pending.Load() == 0 {
			if recvEnded {
				return nil
			}
			if stopping == nil {
				return status.Error(codes.Unavailable, "collector stopping")
			}
		}
		select {
		case r := <-st.acks:
			if err := st.ss.Send(r); err != nil {
				return err
			}
			st.pending.Add(-1)
			<-st.slots
			st.srv.m.acksOut.Inc()
		case err := <-st.recvDone:
			if !errors.Is(err, io.EOF) {
				// The stream is broken or refused: acks could not be delivered anyway.
				return err
			}
			recvEnded = true
		case <-stopping:
			stopping = nil // checked at the top of the loop from now on
		case <-st.ctx.Done():
			return status.FromContextError(st.ctx.Err()).Err()
		}
	}
}

// receive reads the stream until it ends, dispatching each batch; it returns io.EOF when the
// agent half-closed the stream.
func (st *sstream) receive(req *flumev1.AppendRequest) error {
	for first := true; ; first = false {
		if !first && req.Hello != nil {
			return status.Error(codes.InvalidArgument, "hello repeated after the first request")
		}
		if req.Seq == 0 {
			st.srv.m.keepalives.Inc()
			<-st.slots
		} else {
			st.dispatch(req)
		}
		select {
		case st.slots <- struct{}{}:
		case <-st.ctx.Done():
			return st.ctx.Err()
		}
		var err error
		if req, err = st.ss.Recv(); err != nil {
			return err
		}
	}
}

// dispatch decodes one batch and hands it to the handler, or answers it at once when it is
// bad or the server is stopping.
func (st *sstream) dispatch(req *flumev1.AppendRequest) {
	m := &st.srv.m
	m.batchesIn.Inc()
	m.bytesIn.Add(int64(len(req.Payload)))
	st.pending.Add(1)
	select {
	case <-st.srv.stopping:
		st.ackFunc(req.Seq)(flumev1.AckStatus_ACK_STATUS_RETRY, errors.New("collector stopping"))
		return
	default:
	}
	dec := st.srv.decoders.Get().(*Decoder)
	defer st.srv.decoders.Put(dec) // after the handler: the events live in the decoder
	events, err := dec.Decode(req)
	if err != nil {
		m.rejected.Inc()
		st.srv.log.Warn("batch rejected", "agent", st.info.Agent, "seq", req.Seq, "err", err)
		st.ackFunc(req.Seq)(flumev1.AckStatus_ACK_STATUS_REJECTED, fmt.Errorf("batch %d: %w", req.Seq, err))
		return
	}
	m.eventsIn.Add(int64(len(events)))
	b := BatchInfo{Seq: req.Seq, Created: req.Created, Bytes: int(req.RawSize)}
	st.srv.h.Batch(st.ctx, &st.info, b, events, st.ackFunc(req.Seq))
}

// ackFunc returns the ack callback of batch seq.
func (st *sstream) ackFunc(seq uint64) func(flumev1.AckStatus, error) {
	var done atomic.Bool
	return func(s flumev1.AckStatus, err error) {
		if s == flumev1.AckStatus_ACK_STATUS_UNSPECIFIED {
			panic(fmt.Sprintf("wire: batch %d acked without a status", seq))
		}
		if done.Swap(true) {
			panic(fmt.Sprintf("wire: batch %d acked twice", seq))
		}
		r := &flumev1.AppendResponse{Seq: seq, Status: s}
		if err != nil && s != flumev1.AckStatus_ACK_STATUS_OK {
			r.Error = err.Error()
		}
		st.acks <- r
	}
}
