package wire

import (
	"context"
	"testing"
	"time"

	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// The benchmarks use the agent's default batch: 1000 events of 180 bytes.
const benchEvents, benchSize = 1000, 180

func BenchmarkEncode(b *testing.B) {
	for _, c := range compressions {
		b.Run(c.String(), func(b *testing.B) {
			events := makeEvents(b, benchEvents, benchSize, 0)
			enc, err := NewEncoder(c)
			if err != nil {
				b.Fatal(err)
			}
			req := &flumev1.AppendRequest{}
			if err := enc.Encode(req, events); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(req.RawSize))
			b.ReportAllocs()
			for b.Loop() {
				if err := enc.Encode(req, events); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(req.Payload))/float64(req.RawSize), "ratio")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range compressions {
		b.Run(c.String(), func(b *testing.B) {
			req := encode(b, c, 1, makeEvents(b, benchEvents, benchSize, 0))
			dec := NewDecoder(0)
			defer dec.Close()
			if _, err := dec.Decode(req); err != nil { // warm: size the decoder's events
				b.Fatal(err)
			}
			b.SetBytes(int64(req.RawSize))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := dec.Decode(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoopback streams 1000-event batches through real gRPC on loopback to a collector
// that acks at once: the agent encodes each batch, the collector decodes it. events/s is the
// figure DESIGN.md budgets (2-3 M events/s raw).
func BenchmarkLoopback(b *testing.B) {
	for _, c := range compressions {
		b.Run(c.String(), func(b *testing.B) {
			_, addr := startServer(b, ackAll, ServerOptions{})
			cl := dial(b, addr, ClientOptions{})
			s, err := cl.Open(context.Background(), hello("bench"))
			if err != nil {
				b.Fatal(err)
			}
			acked := make(chan int, 1)
			go func() {
				n := 0
				for range s.Acks() {
					n++
				}
				acked <- n
			}()
			enc, err := NewEncoder(c)
			if err != nil {
				b.Fatal(err)
			}
			events := makeEvents(b, benchEvents, benchSize, 0)
			// A request is reused once its batch is acked: Send returning for batch n means
			// batch n-Window was acked.
			reqs := make([]*flumev1.AppendRequest, DefaultWindow+1)
			for i := range reqs {
				reqs[i] = &flumev1.AppendRequest{}
			}
			var seq uint64
			send := func() {
				seq++
				req := reqs[seq%uint64(len(reqs))]
				req.Seq = seq
				if err := enc.Encode(req, events); err != nil {
					b.Fatal(err)
				}
				if err := s.Send(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
			for range 2 * len(reqs) { // warm both ends
				send()
			}
			b.SetBytes(int64(reqs[1].RawSize))
			b.ReportAllocs()
			for b.Loop() {
				send()
			}
			elapsed := b.Elapsed()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Close(ctx); err != nil {
				b.Fatal(err)
			}
			if n := <-acked; uint64(n) != seq {
				b.Fatalf("%d acks for %d batches", n, seq)
			}
			b.ReportMetric(float64(b.N*benchEvents)/elapsed.Seconds(), "events/s")
		})
	}
}
