package wire

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flumego/flume/internal/testwait"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// failsWithin waits until s fails and returns its error, failing tb if that takes longer
// than d.
func failsWithin(tb testing.TB, s *Stream, d time.Duration) error {
	tb.Helper()
	start := time.Now()
	testwait.UntilNil(tb, d, "stream failure", func() error {
		if s.Err() == nil {
			return errors.New("stream still up")
		}
		return nil
	})
	tb.Logf("stream failed after %v: %v", time.Since(start).Round(time.Millisecond), s.Err())
	return s.Err()
}

func TestStopDrainsBatchesInFlightThenEndsStreams(t *testing.T) {
	h := &holder{}
	srv, addr := startServer(t, h, ServerOptions{})
	s, acks := open(t, dial(t, addr, ClientOptions{}), "agentA")
	t.Cleanup(h.releaseAll)
	if err := s.Send(context.Background(), encode(t, 0, 1, makeEvents(t, 5, 50, 0))); err != nil {
		t.Fatal(err)
	}
	testwait.UntilNil(t, 5*time.Second, "batch 1 held", func() error {
		if seen, _, _ := h.stats(); seen != 1 {
			return errors.New("not yet")
		}
		return nil
	})
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- srv.Stop(ctx)
	}()
	testwait.UntilNil(t, 5*time.Second, "server stopping", func() error {
		select {
		case <-srv.stopping:
			return nil
		default:
			return errors.New("not yet")
		}
	})
	// A batch arriving while the collector stops is turned away, to be sent elsewhere.
	if err := s.Send(context.Background(), encode(t, 0, 2, makeEvents(t, 5, 50, 0))); err != nil {
		t.Fatal(err)
	}
	if a := acks.waitN(t, 1)[0]; a.Seq != 2 || a.Status != flumev1.AckStatus_ACK_STATUS_RETRY {
		t.Fatalf("ack %d %v, want 2 RETRY", a.Seq, a.Status)
	}
	if s.Err() != nil {
		t.Fatalf("stream ended with batch 1 in flight: %v", s.Err())
	}
	h.releaseAll()
	if a := acks.waitN(t, 2)[1]; a.Seq != 1 || a.Status != flumev1.AckStatus_ACK_STATUS_OK {
		t.Fatalf("ack %d %v, want 1 OK", a.Seq, a.Status)
	}
	if err := failsWithin(t, s, 2*time.Second); status.Code(err) != codes.Unavailable {
		t.Fatalf("stream error %v, want Unavailable", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Stop = %v", err)
	}
}

func TestStoppedCollectorEndsIdleStreamsAtOnce(t *testing.T) {
	srv, addr := startServer(t, ackAll, ServerOptions{})
	s, acks := open(t, dial(t, addr, ClientOptions{}), "agentA")
	if err := s.Send(context.Background(), encode(t, 0, 1, nil)); err != nil {
		t.Fatal(err)
	}
	acks.waitN(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := failsWithin(t, s, time.Second); status.Code(err) != codes.Unavailable {
		t.Fatalf("stream error %v, want Unavailable", err)
	}
	if err := s.Send(context.Background(), encode(t, 0, 2, nil)); err == nil {
		t.Fatal("send on a stream of a stopped collector succeeded")
	}
}

func TestKilledCollectorIsNoticedAtOnce(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis := &trackingListener{Listener: inner}
	serveOn(t, ackAll, ServerOptions{}, lis)
	c := dial(t, lis.Addr().String(), ClientOptions{})
	s, acks := open(t, c, "agentA")
	if err := s.Send(context.Background(), encode(t, 0, 1, nil)); err != nil {
		t.Fatal(err)
	}
	acks.waitN(t, 1)
	lis.kill()
	if err := failsWithin(t, s, 2*time.Second); status.Code(err) != codes.Unavailable {
		t.Fatalf("stream error %v, want Unavailable", err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Open(ctx, hello("agentA")); err == nil {
		t.Fatal("opened a stream to a killed collector")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("opening a stream to a killed collector failed after %v", took)
	}
}

// silentPeer accepts TCP connections and never says anything on them.
func silentPeer(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	return lis.Addr().String()
}

func TestSilentPeerIsNoticedWithinThreeSeconds(t *testing.T) {
	addr := silentPeer(t)
	start := time.Now()
	c, err := Dial(context.Background(), addr, ClientOptions{})
	took := time.Since(start)
	if err == nil {
		c.Close()
		t.Fatal("connected to a peer that never answers")
	}
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Dial = %v, want ErrUnreachable", err)
	}
	if took > 3*time.Second {
		t.Fatalf("silent peer noticed after %v", took)
	}
	t.Logf("silent peer noticed after %v", took.Round(time.Millisecond))
}

func TestDialGivesUpWithItsContext(t *testing.T) {
	addr := silentPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := Dial(ctx, addr, ClientOptions{ConnectTimeout: time.Minute}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial = %v, want the context's deadline", err)
	}
}

func TestStopGivesUpAtItsDeadline(t *testing.T) {
	// A handler stuck in its sink, returning only when the stream ends.
	inside := make(chan struct{}, 1)
	stuck := handlerFunc(func(ctx context.Context, _ *StreamInfo, _ BatchInfo, _ []*event.Event, _ func(flumev1.AckStatus, error)) {
		inside <- struct{}{}
		<-ctx.Done()
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(stuck, ServerOptions{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	s, _ := open(t, dial(t, lis.Addr().String(), ClientOptions{}), "agentA")
	if err := s.Send(context.Background(), encode(t, 0, 1, nil)); err != nil {
		t.Fatal(err)
	}
	<-inside
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := srv.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want its deadline", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Stop with a 200ms deadline took %v", took)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v, want nil after Stop", err)
	}
	failsWithin(t, s, 2*time.Second)
}

func TestServerForgetsAVanishedAgent(t *testing.T) {
	reg := metrics.NewRegistry()
	_, addr := startServer(t, ackAll, ServerOptions{Metrics: reg})
	c, err := Dial(context.Background(), addr, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.Open(ctx, hello("agentA"))
	if err != nil {
		t.Fatal(err)
	}
	if v := counter(t, reg, "streams_open"); v != 1 {
		t.Fatalf("streams_open = %d, want 1", v)
	}
	c.Close() // the connection goes without the stream being closed
	testwait.UntilNil(t, 3*time.Second, "stream forgotten", func() error {
		if v := counter(t, reg, "streams_open"); v != 0 {
			return errors.New("still open")
		}
		return nil
	})
	if err := s.Close(ctx); err == nil {
		t.Fatal("Close of a stream whose connection is gone = nil")
	}
}

func TestFrozenCollectorIsNoticedByTheAckTimeout(t *testing.T) {
	h := &holder{}
	_, addr := startServer(t, h, ServerOptions{})
	p := newFreezer(t, addr)
	s, acks := open(t, dial(t, p.addr(), ClientOptions{AckTimeout: 500 * time.Millisecond}), "agentA")
	t.Cleanup(h.releaseAll)
	if err := s.Send(context.Background(), encode(t, 0, 1, nil)); err != nil {
		t.Fatal(err)
	}
	testwait.UntilNil(t, 5*time.Second, "batch 1", func() error {
		h.releaseAll()
		if len(acks.list()) == 0 {
			return errors.New("no ack")
		}
		return nil
	})
	// From now on the collector takes bytes and never answers, like a paused process.
	p.freeze()
	if err := s.Send(context.Background(), encode(t, 0, 2, nil)); err != nil {
		t.Fatal(err)
	}
	if err := failsWithin(t, s, 2*time.Second); !errors.Is(err, ErrAckTimeout) {
		t.Fatalf("stream error %v, want ErrAckTimeout", err)
	}
	if seqs := ackSeqs(acks.list()); !slices.Equal(seqs, []uint64{1}) {
		t.Fatalf("acks %v, want [1]", seqs)
	}
}

func ackSeqs(acks []*flumev1.AppendResponse) []uint64 {
	var out []uint64
	for _, a := range acks {
		out = append(out, a.Seq)
	}
	return out
}

func TestServerNoticesAFrozenAgent(t *testing.T) {
	reg := metrics.NewRegistry()
	_, addr := startServer(t, ackAll, ServerOptions{Metrics: reg})
	p := newFreezer(t, addr)
	s, _ := open(t, dial(t, p.addr(), ClientOptions{}), "agentA")
	if v := counter(t, reg, "streams_open"); v != 1 {
		t.Fatalf("streams_open = %d, want 1", v)
	}
	p.freeze()
	start := time.Now()
	testwait.UntilNil(t, 4*time.Second, "frozen agent's stream dropped", func() error {
		if v := counter(t, reg, "streams_open"); v != 0 {
			return errors.New("still open")
		}
		return nil
	})
	t.Logf("frozen agent noticed after %v", time.Since(start).Round(time.Millisecond))
	// The agent does not hear of it through the frozen link: let its stream go.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = s.Close(ctx)
}
