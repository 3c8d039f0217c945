package retry

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const ms = time.Millisecond

// waits calls Next n times and returns the waits up to and including the first refusal, which
// it reports as -1.
func waits(b *Backoff, n int) []time.Duration {
	var out []time.Duration
	for range n {
		d, ok := b.Next()
		if !ok {
			return append(out, -1)
		}
		out = append(out, d)
	}
	return out
}

func TestBackoffSequence(t *testing.T) {
	tests := []struct {
		name string
		b    Backoff
		n    int
		want []time.Duration
	}{
		{"doubles up to max", Backoff{Initial: 10 * ms, Max: 50 * ms}, 6,
			[]time.Duration{10 * ms, 20 * ms, 40 * ms, 50 * ms, 50 * ms, 50 * ms}},
		{"max below initial", Backoff{Initial: 100 * ms, Max: 30 * ms}, 3,
			[]time.Duration{30 * ms, 30 * ms, 30 * ms}},
		{"zero value uses defaults", Backoff{}, 8,
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
				16 * time.Second, 32 * time.Second, time.Minute, time.Minute}},
		{"cumulative cap gives up", Backoff{Initial: 10 * ms, Max: 40 * ms, CumulativeMax: 100 * ms}, 6,
			// 10+20+40 = 70; +40 = 110 > 100.
			[]time.Duration{10 * ms, 20 * ms, 40 * ms, -1}},
		{"cumulative cap reached exactly", Backoff{Initial: 10 * ms, Max: 40 * ms, CumulativeMax: 70 * ms}, 6,
			[]time.Duration{10 * ms, 20 * ms, 40 * ms, -1}},
		{"cumulative cap below initial", Backoff{Initial: 10 * ms, CumulativeMax: 5 * ms}, 3,
			[]time.Duration{-1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := waits(&tt.b, tt.n)
			if len(got) != len(tt.want) {
				t.Fatalf("waits = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("waits = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestBackoffStaysFailedUntilReset(t *testing.T) {
	b := Backoff{Initial: 10 * ms, Max: 10 * ms, CumulativeMax: 25 * ms, Jitter: 1}
	var refused bool
	for range 100 {
		if _, ok := b.Next(); !ok {
			refused = true
			break
		}
	}
	if !refused {
		t.Fatal("Next never refused with a cumulative cap of 25ms")
	}
	for range 10 {
		if d, ok := b.Next(); ok {
			t.Fatalf("Next after refusal = %v, true; want false", d)
		}
	}
	b.Reset()
	if _, ok := b.Next(); !ok {
		t.Fatal("Next after Reset refused")
	}
}

func TestBackoffReset(t *testing.T) {
	b := Backoff{Initial: 10 * ms, Max: time.Second, CumulativeMax: 35 * ms}
	waits(&b, 2)
	if got := b.Total(); got != 30*ms {
		t.Fatalf("Total = %v, want 30ms", got)
	}
	b.Reset()
	if got := b.Total(); got != 0 {
		t.Fatalf("Total after Reset = %v, want 0", got)
	}
	got := waits(&b, 3)
	want := []time.Duration{10 * ms, 20 * ms, -1}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("waits after Reset = %v, want %v", got, want)
	}
}

func TestBackoffJitter(t *testing.T) {
	b := Backoff{Initial: 100 * ms, Max: 100 * ms, Jitter: 0.5}
	var varied bool
	for range 200 {
		d, ok := b.Next()
		if !ok {
			t.Fatal("Next refused without a cumulative cap")
		}
		if d < 50*ms || d > 100*ms {
			t.Fatalf("jittered wait %v outside [50ms, 100ms]", d)
		}
		if d != 100*ms {
			varied = true
		}
	}
	if !varied {
		t.Fatal("Jitter 0.5 never shortened a wait in 200 tries")
	}
}

func TestWait(t *testing.T) {
	t.Run("elapses", func(t *testing.T) {
		start := time.Now()
		if err := Wait(context.Background(), 20*ms); err != nil {
			t.Fatalf("Wait = %v", err)
		}
		if el := time.Since(start); el < 20*ms {
			t.Fatalf("Wait returned after %v, want >= 20ms", el)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Wait(ctx, time.Hour) }()
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Wait = %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Wait did not return after cancel")
		}
	})
	t.Run("zero with done context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := Wait(ctx, 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait(0) = %v, want context.Canceled", err)
		}
		if err := Wait(context.Background(), -ms); err != nil {
			t.Fatalf("Wait(-1ms) = %v, want nil", err)
		}
	})
}

func BenchmarkBackoffNext(b *testing.B) {
	bo := Backoff{Initial: ms, Max: time.Second}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := bo.Next(); !ok {
			b.Fatal("refused")
		}
	}
}

func TestBackoffHugeMaxDoesNotOverflow(t *testing.T) {
	b := Backoff{Initial: time.Hour, Max: time.Duration(math.MaxInt64)}
	prev := time.Duration(0)
	for range 100 {
		d, ok := b.Next()
		if !ok || d < prev {
			t.Fatalf("Next = %v, %v after %v: waits must not shrink", d, ok, prev)
		}
		prev = d
	}
}
