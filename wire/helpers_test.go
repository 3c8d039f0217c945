package wire

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flumego/flume/internal/testwait"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// handlerFunc adapts a function to Handler.
type handlerFunc func(ctx context.Context, s *StreamInfo, b BatchInfo, events []*event.Event, ack func(flumev1.AckStatus, error))

func (f handlerFunc) Batch(ctx context.Context, s *StreamInfo, b BatchInfo, events []*event.Event, ack func(flumev1.AckStatus, error)) {
	f(ctx, s, b, events, ack)
}

// ackAll acks every batch OK at once.
var ackAll = handlerFunc(func(_ context.Context, _ *StreamInfo, _ BatchInfo, _ []*event.Event, ack func(flumev1.AckStatus, error)) {
	ack(flumev1.AckStatus_ACK_STATUS_OK, nil)
})

// recorder keeps a copy of every batch it is given and acks it OK at once.
type recorder struct {
	mu      sync.Mutex
	batches map[uint64][]*event.Event
	order   []uint64
	streams []StreamInfo
}

func (r *recorder) Batch(_ context.Context, s *StreamInfo, b BatchInfo, events []*event.Event, ack func(flumev1.AckStatus, error)) {
	kept := make([]*event.Event, len(events))
	for i, e := range events {
		kept[i] = e.Clone()
	}
	r.mu.Lock()
	if r.batches == nil {
		r.batches = map[uint64][]*event.Event{}
	}
	r.batches[b.Seq] = kept
	r.order = append(r.order, b.Seq)
	r.streams = append(r.streams, *s)
	r.mu.Unlock()
	ack(flumev1.AckStatus_ACK_STATUS_OK, nil)
}

// held is a batch whose ack a holder keeps.
type held struct {
	seq uint64
	ack func(flumev1.AckStatus, error)
}

// holder keeps every batch's ack until the test releases it, counting the most batches it
// held at once.
type holder struct {
	mu      sync.Mutex
	held    []held
	seen    int
	maxHeld int
}

func (h *holder) Batch(_ context.Context, _ *StreamInfo, b BatchInfo, _ []*event.Event, ack func(flumev1.AckStatus, error)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = append(h.held, held{b.Seq, ack})
	h.seen++
	h.maxHeld = max(h.maxHeld, len(h.held))
}

// take removes and returns the acks held.
func (h *holder) take() []held {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.held
	h.held = nil
	return out
}

// stats returns the number of batches seen, held now, and held at most.
func (h *holder) stats() (seen, holding, most int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen, len(h.held), h.maxHeld
}

// releaseAll acks every batch held OK.
func (h *holder) releaseAll() {
	for _, b := range h.take() {
		b.ack(flumev1.AckStatus_ACK_STATUS_OK, nil)
	}
}

// startServer serves h on a loopback port and stops it when the test ends.
func startServer(tb testing.TB, h Handler, opts ServerOptions) (*Server, string) {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return serveOn(tb, h, opts, lis), lis.Addr().String()
}

func serveOn(tb testing.TB, h Handler, opts ServerOptions, lis net.Listener) *Server {
	tb.Helper()
	srv := NewServer(h, opts)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis) // a test that cuts the listener makes Serve fail; nothing to check
	}()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			tb.Errorf("stop server: %v", err)
		}
		<-done
	})
	return srv
}

// dial connects to addr and closes the client when the test ends.
func dial(tb testing.TB, addr string, opts ClientOptions) *Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func hello(agent string) *flumev1.StreamHello {
	return &flumev1.StreamHello{Agent: agent, Epoch: 7, Physical: "host-a",
		Reliability: flumev1.Reliability_RELIABILITY_END_TO_END}
}

// open opens a stream and reads its acks into the returned log; the stream is closed when
// the test ends.
func open(tb testing.TB, c *Client, agent string) (*Stream, *ackLog) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.Open(ctx, hello(agent))
	if err != nil {
		tb.Fatal(err)
	}
	l := &ackLog{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for r := range s.Acks() {
			l.mu.Lock()
			l.acks = append(l.acks, r)
			l.mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx) // tests that care check Close themselves
		<-l.done
	})
	return s, l
}

// ackLog is the acks a stream delivered, in order.
type ackLog struct {
	mu   sync.Mutex
	acks []*flumev1.AppendResponse
	done chan struct{}
}

func (l *ackLog) list() []*flumev1.AppendResponse {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*flumev1.AppendResponse(nil), l.acks...)
}

// waitN waits until the log holds n acks.
func (l *ackLog) waitN(tb testing.TB, n int) []*flumev1.AppendResponse {
	tb.Helper()
	testwait.UntilNil(tb, 5*time.Second, "acks", func() error {
		if got := len(l.list()); got < n {
			return fmt.Errorf("%d acks of %d", got, n)
		}
		return nil
	})
	return l.list()
}

// counter reads a metric that must exist.
func counter(tb testing.TB, r *metrics.Registry, name string) int64 {
	tb.Helper()
	v, ok := r.Get(name)
	if !ok {
		tb.Fatalf("no metric %q", name)
	}
	return v
}

// trackingListener remembers the connections it accepts, so that a test can cut them all as
// if the collector process had been killed.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

// kill closes the listener and every connection accepted.
func (l *trackingListener) kill() {
	l.Listener.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
}

// freezer is a TCP proxy that can freeze: from then on it takes every byte and forwards
// none, like a collector whose process is paused or a network that blackholes.
type freezer struct {
	lis    net.Listener
	target string
	frozen atomic.Bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func newFreezer(tb testing.TB, target string) *freezer {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &freezer{lis: lis, target: target}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(func() {
		lis.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *freezer) addr() string { return p.lis.Addr().String() }

func (p *freezer) freeze() { p.frozen.Store(true) }

func (p *freezer) accept() {
	defer p.wg.Done()
	for {
		in, err := p.lis.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(out, in)
		go p.pipe(in, out)
	}
}

// pipe copies from src to dst until src fails, dropping everything once frozen.
func (p *freezer) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
