package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// Stream is an agent's stream of batches to a collector. Send and Close may be called from
// any goroutine; acks arrive on Acks.
//
// A stream fails for good on the first error of the connection, of the collector or of the
// protocol (an ack timeout, an ack for a batch not in flight); then Send returns the error,
// Err reports it, and the batches not acked are the agent's to send again, on another stream.
type Stream struct {
	c      *Client
	cs     flumev1.CollectorService_AppendClient
	ctx    context.Context // the stream's own: cancelled on failure and by Close
	cancel context.CancelFunc

	window    chan struct{} // one token per batch in flight
	acks      chan *flumev1.AppendResponse
	sendLock  chan struct{} // held around SendMsg and CloseSend; a channel so waiting can end
	keepalive *flumev1.AppendRequest

	mu       sync.Mutex
	inflight []inflight // in send order: the first is the oldest
	lastSend time.Time
	closing  bool
	err      error
	done     chan struct{} // closed when err is set
	over     chan struct{} // closed when the stream failed or Close returns: Done
	overOnce sync.Once

	recvDone  chan struct{} // closed when the receiver has returned
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

type inflight struct {
	seq  uint64
	sent time.Time
}

// Open opens a stream with hello, which must name the agent, and returns once the collector
// has taken the hello. ctx bounds the opening only; the stream lives until Close or failure.
func (c *Client) Open(ctx context.Context, hello *flumev1.StreamHello) (*Stream, error) {
	if hello.GetAgent() == "" {
		return nil, fmt.Errorf("%w: no agent name", ErrBadHello)
	}
	sctx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(ctx, cancel)
	cs, err := c.open(sctx, hello)
	if !stop() {
		err = ctx.Err()
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("open stream to collector %s: %w", c.addr, err)
	}
	s := &Stream{
		c:         c,
		cs:        cs,
		ctx:       sctx,
		cancel:    cancel,
		window:    make(chan struct{}, c.opts.Window),
		acks:      make(chan *flumev1.AppendResponse, c.opts.Window),
		sendLock:  make(chan struct{}, 1),
		keepalive: &flumev1.AppendRequest{},
		lastSend:  time.Now(),
		done:      make(chan struct{}),
		over:      make(chan struct{}),
		recvDone:  make(chan struct{}),
	}
	s.wg.Add(2)
	go s.receive()
	go s.watch()
	return s, nil
}

// open starts the RPC, sends the hello and waits for the collector's headers, which say the
// hello was taken; a refused hello ends the stream with the collector's status instead.
func (c *Client) open(ctx context.Context, hello *flumev1.StreamHello) (flumev1.CollectorService_AppendClient, error) {
	cs, err := c.svc.Append(ctx)
	if err != nil {
		return nil, err
	}
	if err := cs.Send(&flumev1.AppendRequest{Hello: hello}); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	// On io.EOF from Send, the status comes with the headers or with Recv.
	md, err := cs.Header()
	if err == nil && md == nil {
		_, err = cs.Recv()
		if err == nil || errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w before taking the hello", ErrStreamEnded)
		}
	}
	return cs, err
}

// Acks delivers the collector's acks in arrival order, which need not be the order the
// batches were sent in. A batch's window slot frees once its ack is in the channel, which
// holds Window acks: the agent must read Acks from another goroutine than the one blocked in
// Send, or drain it before each Send, else the stream stalls until the ack timeout. The
// channel is closed when the stream ends.
func (s *Stream) Acks() <-chan *flumev1.AppendResponse { return s.acks }

// Send sends one batch, encoded by an Encoder and numbered by the agent: req.Seq must not be 0
// (keepalives are the stream's business) nor the number of a batch in flight. Send blocks
// while Window batches are unacknowledged. It returns ctx's error when ctx ends while it
// waits for the window, ErrTooLarge for a request over the message size limit (the stream
// stays usable), and the stream's error once it failed. If ctx ends while the request is
// being written, the stream fails: half a request cannot be taken back.
//
// The stream does not keep req once Send returns (unless ClientOptions.DialOptions install a
// stats handler that reads messages later), so the agent may reuse it; the agent keeps the
// batch itself until its ack comes, to send it again elsewhere if the stream fails.
func (s *Stream) Send(ctx context.Context, req *flumev1.AppendRequest) error {
	if req.Seq == 0 {
		return fmt.Errorf("%w: 0 is reserved for keepalives", ErrBadSeq)
	}
	if n, limit := proto.Size(req), s.c.opts.MaxMessageSize; n > limit {
		return fmt.Errorf("%w: batch %d is a %d-byte message, the limit is %d", ErrTooLarge, req.Seq, n, limit)
	}
	select {
	case s.window <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return s.Err()
	}
	select {
	case s.sendLock <- struct{}{}:
	case <-ctx.Done():
		<-s.window
		return ctx.Err()
	case <-s.done:
		<-s.window
		return s.Err()
	}
	defer func() { <-s.sendLock }()
	if err := s.register(req.Seq); err != nil {
		<-s.window
		return err
	}
	if ctx.Done() == nil {
		return s.sendMsg(req)
	}
	var written atomic.Bool
	stop := context.AfterFunc(ctx, func() {
		if !written.Load() {
			s.fail(fmt.Errorf("send batch %d: %w", req.Seq, ctx.Err()))
		}
	})
	err := s.sendMsg(req)
	written.Store(true)
	stop()
	return err
}

// register records batch seq as in flight, unless the stream cannot take it.
func (s *Stream) register(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.err != nil:
		return s.err
	case s.closing:
		return ErrClosed
	case slices.ContainsFunc(s.inflight, func(f inflight) bool { return f.seq == seq }):
		return fmt.Errorf("%w: batch %d is already in flight", ErrBadSeq, seq)
	}
	s.inflight = append(s.inflight, inflight{seq: seq, sent: time.Now()})
	return nil
}

// sendMsg writes req; the caller holds sendLock.
func (s *Stream) sendMsg(req *flumev1.AppendRequest) error {
	err := s.cs.SendMsg(req)
	if err == nil {
		s.mu.Lock()
		s.lastSend = time.Now()
		s.mu.Unlock()
		return nil
	}
	if errors.Is(err, io.EOF) {
		// The stream is over; the receiver is about to learn why from the status.
		select {
		case <-s.recvDone:
		case <-s.done:
		}
		if err := s.Err(); err != nil {
			return err
		}
		return ErrStreamEnded
	}
	s.fail(fmt.Errorf("send batch %d: %w", req.Seq, err))
	return s.Err()
}

// Err returns the error the stream failed with, or nil while it has not failed.
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// fail ends the stream with err, unless it already failed.
func (s *Stream) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
		close(s.done)
	}
	s.mu.Unlock()
	s.cancel()
	s.end()
}

// end marks the stream over.
func (s *Stream) end() { s.overOnce.Do(func() { close(s.over) }) }

// Close half-closes the stream, waits until every batch sent is acked (and its ack read from
// Acks: see there) or ctx ends, and releases the stream. It returns nil when every batch was
// acked, and otherwise the error that ended the stream. Close may be called more than once.
func (s *Stream) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { s.closeErr = s.close(ctx) })
	return s.closeErr
}

func (s *Stream) close(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	if ctx.Err() == nil {
		// A close that may wait for acks half-closes first. One that may not (a failed
		// stream given up at once) does not touch the RPC: the stream is cancelled below,
		// and a half-close of a broken RPC could wait on a reconnection.
		select {
		case s.sendLock <- struct{}{}:
			// An error means the stream is broken; the receiver reports how.
			_ = s.cs.CloseSend()
			<-s.sendLock
		case <-s.done:
		case <-ctx.Done():
		}
	}
	select {
	case <-s.recvDone:
	case <-ctx.Done():
		s.mu.Lock()
		n := len(s.inflight)
		s.mu.Unlock()
		s.fail(fmt.Errorf("close stream: %w with %d batches unacknowledged", ctx.Err(), n))
	}
	s.cancel()
	s.wg.Wait()
	s.end()
	return s.Err()
}

// receive reads acks until the stream ends.
func (s *Stream) receive() {
	defer s.wg.Done()
	defer close(s.recvDone)
	defer close(s.acks)
	for {
		r, err := s.cs.Recv()
		if err != nil {
			s.ended(err)
			return
		}
		if !s.settle(r.Seq) {
			s.fail(fmt.Errorf("%w: seq %d", ErrUnexpectedAck, r.Seq))
			return
		}
		select {
		case s.acks <- r:
		case <-s.ctx.Done():
			return
		}
		<-s.window
	}
}

// settle removes batch seq from the batches in flight and reports whether it was there.
func (s *Stream) settle(seq uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.inflight, func(f inflight) bool { return f.seq == seq })
	if i < 0 {
		return false
	}
	s.inflight = slices.Delete(s.inflight, i, i+1)
	return true
}

// ended records how the collector ended the stream: cleanly only after the agent closed it
// and every batch was acked.
func (s *Stream) ended(err error) {
	if !errors.Is(err, io.EOF) {
		s.fail(fmt.Errorf("collector stream: %w", err))
		return
	}
	s.mu.Lock()
	n, closing := len(s.inflight), s.closing
	s.mu.Unlock()
	if !closing || n > 0 {
		s.fail(fmt.Errorf("%w with %d batches unacknowledged", ErrStreamEnded, n))
	}
}

// watch fails the stream when its oldest batch waits too long for its ack, and sends a
// keepalive when the stream is idle: the traffic keeps the connection's TCP_USER_TIMEOUT
// armed, so a collector host that vanishes is noticed even while nothing is sent.
func (s *Stream) watch() {
	defer s.wg.Done()
	o := s.c.opts
	t := time.NewTicker(max(min(o.KeepaliveInterval, o.AckTimeout)/4, 5*time.Millisecond))
	defer t.Stop()
	for {
		var now time.Time
		select {
		case <-s.done:
			return
		case <-s.recvDone:
			return
		case now = <-t.C:
		}
		s.mu.Lock()
		var late inflight
		if len(s.inflight) > 0 && now.Sub(s.inflight[0].sent) > o.AckTimeout {
			late = s.inflight[0]
		}
		idle := !s.closing && now.Sub(s.lastSend) >= o.KeepaliveInterval
		s.mu.Unlock()
		if late.seq != 0 {
			s.fail(fmt.Errorf("%w: batch %d unacknowledged after %v", ErrAckTimeout, late.seq, o.AckTimeout))
			return
		}
		if idle {
			s.sendKeepalive()
		}
	}
}

// sendKeepalive sends a keepalive unless a batch is being sent, which does as well.
func (s *Stream) sendKeepalive() {
	select {
	case s.sendLock <- struct{}{}:
	default:
		return
	}
	defer func() { <-s.sendLock }()
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if !closing {
		_ = s.sendMsg(s.keepalive) // a failure fails the stream, which watch sees next
	}
}
