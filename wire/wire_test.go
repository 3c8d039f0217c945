package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/flumego/flume/internal/testwait"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

func TestStreamDeliversEveryBatchInEveryCompression(t *testing.T) {
	const batches, perBatch = 120, 50
	for _, c := range compressions {
		t.Run(c.String(), func(t *testing.T) {
			rec := &recorder{}
			reg := metrics.NewRegistry()
			_, addr := startServer(t, rec, ServerOptions{Metrics: reg})
			s, acks := open(t, dial(t, addr, ClientOptions{}), "agentA")

			enc, err := NewEncoder(c)
			if err != nil {
				t.Fatal(err)
			}
			sent := map[uint64][]*event.Event{}
			for seq := uint64(1); seq <= batches; seq++ {
				events := makeEvents(t, perBatch, 180, int(seq))
				req := &flumev1.AppendRequest{Seq: seq, Created: int64(seq)}
				if err := enc.Encode(req, events); err != nil {
					t.Fatal(err)
				}
				if err := s.Send(context.Background(), req); err != nil {
					t.Fatalf("send %d: %v", seq, err)
				}
				sent[seq] = events
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.Close(ctx); err != nil {
				t.Fatalf("close: %v", err)
			}
			<-acks.done
			got := acks.list()
			if len(got) != batches {
				t.Fatalf("%d acks, want %d", len(got), batches)
			}
			for i, a := range got {
				if a.Seq != uint64(i+1) || a.Status != flumev1.AckStatus_ACK_STATUS_OK {
					t.Fatalf("ack %d: seq %d status %v, want seq %d OK", i, a.Seq, a.Status, i+1)
				}
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for seq, want := range sent {
				sameEvents(t, rec.batches[seq], want)
			}
			info := rec.streams[0]
			if info.Agent != "agentA" || info.Epoch != 7 || info.Physical != "host-a" ||
				info.Reliability != flumev1.Reliability_RELIABILITY_END_TO_END || !strings.HasPrefix(info.Peer, "127.0.0.1:") {
				t.Fatalf("stream info %+v", info)
			}
			for name, want := range map[string]int64{"batches_in": batches, "events_in": batches * perBatch, "acks_out": batches, "batches_rejected": 0} {
				if v := counter(t, reg, name); v != want {
					t.Errorf("%s = %d, want %d", name, v, want)
				}
			}
			testwait.UntilNil(t, 5*time.Second, "streams_open back to 0", func() error {
				if v := counter(t, reg, "streams_open"); v != 0 {
					return errors.New("still open")
				}
				return nil
			})
		})
	}
}

func TestAcksGoOutInTheOrderTheHandlerGivesThem(t *testing.T) {
	h := &holder{}
	_, addr := startServer(t, h, ServerOptions{})
	s, acks := open(t, dial(t, addr, ClientOptions{}), "agentA")
	t.Cleanup(h.releaseAll)
	for seq := uint64(1); seq <= 8; seq++ {
		if err := s.Send(context.Background(), encode(t, 0, seq, makeEvents(t, 3, 40, 0))); err != nil {
			t.Fatal(err)
		}
	}
	testwait.UntilNil(t, 5*time.Second, "8 batches held", func() error {
		if seen, _, _ := h.stats(); seen < 8 {
			return errors.New("fewer")
		}
		return nil
	})
	// Acked from another goroutine, last batch first, as commits that finish out of order.
	hs := h.take()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, b := range slices.Backward(hs) {
			b.ack(flumev1.AckStatus_ACK_STATUS_OK, nil)
		}
	}()
	<-done
	var order []uint64
	for _, a := range acks.waitN(t, 8) {
		order = append(order, a.Seq)
	}
	if want := []uint64{8, 7, 6, 5, 4, 3, 2, 1}; !slices.Equal(order, want) {
		t.Fatalf("acks arrived for %v, want %v", order, want)
	}
}

func TestSendBlocksAtTheWindow(t *testing.T) {
	h := &holder{}
	_, addr := startServer(t, h, ServerOptions{})
	s, acks := open(t, dial(t, addr, ClientOptions{Window: 4}), "agentA")
	t.Cleanup(h.releaseAll)
	for seq := uint64(1); seq <= 4; seq++ {
		if err := s.Send(context.Background(), encode(t, 0, seq, makeEvents(t, 3, 40, 0))); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Send(short, encode(t, 0, 5, makeEvents(t, 3, 40, 0))); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("fifth send with 4 unacked = %v, want it blocked until its deadline", err)
	}
	if s.Err() != nil {
		t.Fatalf("a send that gave up waiting failed the stream: %v", s.Err())
	}
	testwait.UntilNil(t, 5*time.Second, "4 batches held", func() error {
		if seen, _, _ := h.stats(); seen < 4 {
			return errors.New("fewer")
		}
		return nil
	})
	first := h.take()
	first[0].ack(flumev1.AckStatus_ACK_STATUS_OK, nil)
	if err := s.Send(context.Background(), encode(t, 0, 5, makeEvents(t, 3, 40, 0))); err != nil {
		t.Fatalf("send after an ack freed the window: %v", err)
	}
	for _, b := range first[1:] {
		b.ack(flumev1.AckStatus_ACK_STATUS_OK, nil)
	}
	testwait.UntilNil(t, 5*time.Second, "batch 5 held", func() error {
		if seen, _, _ := h.stats(); seen < 5 {
			return errors.New("not yet")
		}
		return nil
	})
	h.releaseAll()
	acks.waitN(t, 5)
}

func TestServerStopsReadingBeyondMaxInFlight(t *testing.T) {
	const maxInFlight, batches = 3, 24
	h := &holder{}
	reg := metrics.NewRegistry()
	_, addr := startServer(t, h, ServerOptions{MaxInFlight: maxInFlight, Metrics: reg})
	s, acks := open(t, dial(t, addr, ClientOptions{Window: batches}), "agentA")
	t.Cleanup(h.releaseAll)
	for seq := uint64(1); seq <= batches; seq++ {
		if err := s.Send(context.Background(), encode(t, 0, seq, makeEvents(t, 10, 180, 0))); err != nil {
			t.Fatal(err)
		}
	}
	// The agent sent them all; the collector takes them a few at a time as it acks.
	for acked := 0; acked < batches; {
		testwait.UntilNil(t, 5*time.Second, "batches held", func() error {
			if _, holding, _ := h.stats(); holding == 0 {
				return errors.New("none")
			}
			return nil
		})
		for _, b := range h.take() {
			b.ack(flumev1.AckStatus_ACK_STATUS_OK, nil)
			acked++
		}
	}
	acks.waitN(t, batches)
	if _, _, most := h.stats(); most > maxInFlight {
		t.Fatalf("the handler held %d batches at once, MaxInFlight is %d", most, maxInFlight)
	}
	if v := counter(t, reg, "batches_in"); v != batches {
		t.Fatalf("batches_in = %d, want %d", v, batches)
	}
}

func TestBadBatchIsRejectedAndTheStreamGoesOn(t *testing.T) {
	rec := &recorder{}
	reg := metrics.NewRegistry()
	_, addr := startServer(t, rec, ServerOptions{Metrics: reg})
	s, acks := open(t, dial(t, addr, ClientOptions{}), "agentA")
	bad := encode(t, flumev1.Compression_COMPRESSION_ZSTD, 2, makeEvents(t, 10, 180, 2))
	bad.Payload[len(bad.Payload)/2] ^= 0x10
	for _, req := range []*flumev1.AppendRequest{
		encode(t, flumev1.Compression_COMPRESSION_ZSTD, 1, makeEvents(t, 10, 180, 1)),
		bad,
		encode(t, flumev1.Compression_COMPRESSION_ZSTD, 3, makeEvents(t, 10, 180, 3)),
	} {
		if err := s.Send(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	got := acks.waitN(t, 3)
	want := []flumev1.AckStatus{flumev1.AckStatus_ACK_STATUS_OK, flumev1.AckStatus_ACK_STATUS_REJECTED, flumev1.AckStatus_ACK_STATUS_OK}
	for i, a := range got {
		if a.Seq != uint64(i+1) || a.Status != want[i] {
			t.Fatalf("ack %d: seq %d %v, want seq %d %v", i, a.Seq, a.Status, i+1, want[i])
		}
	}
	if msg := got[1].Error; !strings.Contains(msg, "batch 2") || !strings.Contains(msg, "crc32c mismatch: want") {
		t.Fatalf("rejection says %q, want the batch and the checksum named", msg)
	}
	if s.Err() != nil {
		t.Fatalf("stream failed: %v", s.Err())
	}
	rec.mu.Lock()
	order := rec.order
	rec.mu.Unlock()
	if !slices.Equal(order, []uint64{1, 3}) {
		t.Fatalf("handler got batches %v, want [1 3]", order)
	}
	if v := counter(t, reg, "batches_rejected"); v != 1 {
		t.Fatalf("batches_rejected = %d, want 1", v)
	}
}

func TestStreamsWithoutAGoodHelloAreRefused(t *testing.T) {
	_, addr := startServer(t, ackAll, ServerOptions{})
	c := dial(t, addr, ClientOptions{})
	good := &flumev1.AppendRequest{Hello: hello("agentA")}
	tests := []struct {
		name string
		reqs []*flumev1.AppendRequest
		msg  string
	}{
		{"no hello", []*flumev1.AppendRequest{encode(t, 0, 1, makeEvents(t, 1, 10, 0))}, "must carry a hello"},
		{"hello without agent", []*flumev1.AppendRequest{{Hello: &flumev1.StreamHello{Epoch: 1}}}, "names no agent"},
		{"unknown reliability", []*flumev1.AppendRequest{{Hello: &flumev1.StreamHello{Agent: "a", Reliability: 9}}}, "unknown reliability 9"},
		{"hello twice", []*flumev1.AppendRequest{good, good}, "hello repeated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			cs, err := c.svc.Append(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, req := range tt.reqs {
				if err := cs.Send(req); err != nil {
					t.Fatal(err)
				}
			}
			_, err = cs.Recv()
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Recv = %v, want InvalidArgument saying %q", err, tt.msg)
			}
		})
	}
	if _, err := c.Open(context.Background(), &flumev1.StreamHello{}); !errors.Is(err, ErrBadHello) {
		t.Fatalf("Open without agent = %v, want ErrBadHello", err)
	}
}

func TestOpenReportsARefusedHello(t *testing.T) {
	_, addr := startServer(t, ackAll, ServerOptions{})
	c := dial(t, addr, ClientOptions{})
	_, err := c.Open(context.Background(), &flumev1.StreamHello{Agent: "a", Reliability: 9})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("Open with a bad hello = %v, want InvalidArgument", err)
	}
}

func TestSendRefusesBadSequenceNumbers(t *testing.T) {
	h := &holder{}
	_, addr := startServer(t, h, ServerOptions{})
	s, _ := open(t, dial(t, addr, ClientOptions{}), "agentA")
	t.Cleanup(h.releaseAll)
	if err := s.Send(context.Background(), encode(t, 0, 0, nil)); !errors.Is(err, ErrBadSeq) {
		t.Fatalf("send seq 0 = %v, want ErrBadSeq", err)
	}
	if err := s.Send(context.Background(), encode(t, 0, 5, nil)); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), encode(t, 0, 5, nil)); !errors.Is(err, ErrBadSeq) {
		t.Fatalf("send seq 5 twice = %v, want ErrBadSeq", err)
	}
	if s.Err() != nil {
		t.Fatalf("refused sends failed the stream: %v", s.Err())
	}
	testwait.UntilNil(t, 5*time.Second, "batch 5 held", func() error {
		if seen, _, _ := h.stats(); seen != 1 {
			return fmt.Errorf("handler saw %d batches", seen)
		}
		return nil
	})
}

func TestOversizeMessages(t *testing.T) {
	big := encode(t, 0, 1, makeEvents(t, 1, 200<<10, 0))
	small := encode(t, 0, 2, makeEvents(t, 1, 100, 0))
	t.Run("refused by the collector", func(t *testing.T) {
		_, addr := startServer(t, ackAll, ServerOptions{MaxMessageSize: 64 << 10})
		s, _ := open(t, dial(t, addr, ClientOptions{}), "agentA")
		_ = s.Send(context.Background(), big) // may or may not see the failure yet
		testwait.UntilNil(t, 5*time.Second, "stream failure", func() error {
			if status.Code(s.Err()) != codes.ResourceExhausted {
				return errors.New("stream error is " + errString(s.Err()))
			}
			return nil
		})
	})
	t.Run("refused by the agent", func(t *testing.T) {
		_, addr := startServer(t, ackAll, ServerOptions{})
		s, acks := open(t, dial(t, addr, ClientOptions{MaxMessageSize: 64 << 10}), "agentA")
		if err := s.Send(context.Background(), big); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("send of a 200 KiB batch = %v, want ErrTooLarge", err)
		}
		if err := s.Send(context.Background(), small); err != nil {
			t.Fatalf("send after a refused one: %v", err)
		}
		if a := acks.waitN(t, 1)[0]; a.Seq != 2 {
			t.Fatalf("ack for seq %d, want 2", a.Seq)
		}
	})
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

func TestAckTimeoutFailsTheStream(t *testing.T) {
	h := &holder{}
	_, addr := startServer(t, h, ServerOptions{})
	s, _ := open(t, dial(t, addr, ClientOptions{AckTimeout: 200 * time.Millisecond}), "agentA")
	t.Cleanup(h.releaseAll)
	start := time.Now()
	if err := s.Send(context.Background(), encode(t, 0, 1, makeEvents(t, 1, 10, 0))); err != nil {
		t.Fatal(err)
	}
	testwait.UntilNil(t, 3*time.Second, "ack timeout", func() error {
		if !errors.Is(s.Err(), ErrAckTimeout) {
			return errors.New("stream error is " + errString(s.Err()))
		}
		return nil
	})
	if took := time.Since(start); took > time.Second {
		t.Fatalf("ack timeout of 200ms noticed after %v", took)
	}
	if !strings.Contains(s.Err().Error(), "batch 1") {
		t.Fatalf("error %q does not name the batch", s.Err())
	}
	if err := s.Send(context.Background(), encode(t, 0, 2, nil)); !errors.Is(err, ErrAckTimeout) {
		t.Fatalf("send on a failed stream = %v, want its error", err)
	}
}

func TestIdleStreamSendsKeepalives(t *testing.T) {
	reg := metrics.NewRegistry()
	called := make(chan struct{}, 1)
	h := handlerFunc(func(context.Context, *StreamInfo, BatchInfo, []*event.Event, func(flumev1.AckStatus, error)) {
		called <- struct{}{}
	})
	_, addr := startServer(t, h, ServerOptions{Metrics: reg})
	s, _ := open(t, dial(t, addr, ClientOptions{KeepaliveInterval: 20 * time.Millisecond}), "agentA")
	testwait.UntilNil(t, 5*time.Second, "keepalives", func() error {
		// The hello rides in a keepalive too.
		if v := counter(t, reg, "keepalives_in"); v < 4 {
			return errors.New("fewer than 4")
		}
		return nil
	})
	select {
	case <-called:
		t.Fatal("a keepalive reached the handler")
	default:
	}
	if s.Err() != nil || counter(t, reg, "acks_out") != 0 {
		t.Fatalf("stream error %v, acks out %d", s.Err(), counter(t, reg, "acks_out"))
	}
}

func TestCloseWaitsForOutstandingAcks(t *testing.T) {
	h := &holder{}
	_, addr := startServer(t, h, ServerOptions{})
	s, acks := open(t, dial(t, addr, ClientOptions{}), "agentA")
	t.Cleanup(h.releaseAll)
	for seq := uint64(1); seq <= 5; seq++ {
		if err := s.Send(context.Background(), encode(t, 0, seq, makeEvents(t, 2, 20, 0))); err != nil {
			t.Fatal(err)
		}
	}
	testwait.UntilNil(t, 5*time.Second, "5 batches held", func() error {
		if seen, _, _ := h.stats(); seen < 5 {
			return errors.New("fewer")
		}
		return nil
	})
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		closed <- s.Close(ctx)
	}()
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v with 5 batches unacknowledged", err)
	default:
	}
	h.releaseAll()
	if err := <-closed; err != nil {
		t.Fatalf("Close = %v, want nil once every batch is acked", err)
	}
	<-acks.done
	if n := len(acks.list()); n != 5 {
		t.Fatalf("%d acks delivered before the stream closed, want 5", n)
	}
	if err := s.Send(context.Background(), encode(t, 0, 6, nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after Close = %v, want ErrClosed", err)
	}
}

func TestCloseGivesUpAtItsDeadline(t *testing.T) {
	h := &holder{}
	_, addr := startServer(t, h, ServerOptions{})
	s, _ := open(t, dial(t, addr, ClientOptions{}), "agentA")
	t.Cleanup(h.releaseAll)
	if err := s.Send(context.Background(), encode(t, 0, 1, nil)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := s.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 batches unacknowledged") {
		t.Fatalf("Close = %v, want the deadline and the unacked batch", err)
	}
}

// rogueCollector acks a batch that was never sent.
type rogueCollector struct {
	flumev1.UnimplementedCollectorServiceServer
}

func (rogueCollector) Append(ss flumev1.CollectorService_AppendServer) error {
	if _, err := ss.Recv(); err != nil {
		return err
	}
	if err := ss.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	for {
		req, err := ss.Recv()
		if err != nil {
			return err
		}
		if req.Seq != 0 {
			break
		}
	}
	if err := ss.Send(&flumev1.AppendResponse{Seq: 99, Status: flumev1.AckStatus_ACK_STATUS_OK}); err != nil {
		return err
	}
	<-ss.Context().Done()
	return nil
}

func TestUnexpectedAckFailsTheStream(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	flumev1.RegisterCollectorServiceServer(gs, rogueCollector{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = gs.Serve(lis)
	}()
	t.Cleanup(func() {
		gs.Stop()
		<-done
	})
	s, _ := open(t, dial(t, lis.Addr().String(), ClientOptions{}), "agentA")
	if err := s.Send(context.Background(), encode(t, 0, 1, nil)); err != nil {
		t.Fatal(err)
	}
	testwait.UntilNil(t, 5*time.Second, "stream failure", func() error {
		if !errors.Is(s.Err(), ErrUnexpectedAck) {
			return errors.New("stream error is " + errString(s.Err()))
		}
		return nil
	})
	if !strings.Contains(s.Err().Error(), "seq 99") {
		t.Fatalf("error %q does not name the ack", s.Err())
	}
}

func TestDoneClosesWhenTheStreamIsOver(t *testing.T) {
	srv, addr := startServer(t, ackAll, ServerOptions{})
	c := dial(t, addr, ClientOptions{})
	closed, _ := open(t, c, "agentA")
	failed, _ := open(t, c, "agentB")
	select {
	case <-closed.Done():
		t.Fatal("Done closed on a stream in use")
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := closed.Close(ctx); err != nil {
		t.Fatal(err)
	}
	<-closed.Done()
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-failed.Done():
	case <-ctx.Done():
		t.Fatal("Done not closed after the collector stopped")
	}
	if failed.Err() == nil {
		t.Fatal("Done closed on a failed stream without an error")
	}
}
