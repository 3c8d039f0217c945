package testwait

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a testing.TB that keeps what Fatalf said instead of stopping.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}

func TestWaitsEndWhenTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	cond := func() bool { return n.Add(1) >= 3 }
	r := &recorder{TB: t}
	Until(r, time.Second, "three tries", cond)
	if r.failed != "" || n.Load() != 3 {
		t.Fatalf("Until: failed %q after %d tries", r.failed, n.Load())
	}
	var m atomic.Int32
	UntilNil(r, time.Second, "no error", func() error {
		if m.Add(1) < 2 {
			return errors.New("not yet")
		}
		return nil
	})
	if r.failed != "" {
		t.Fatalf("UntilNil failed: %s", r.failed)
	}
}

func TestWaitsFailWithWhatWasAwaited(t *testing.T) {
	r := &recorder{TB: t}
	Until(r, 20*time.Millisecond, "the moon", func() bool { return false })
	if !strings.Contains(r.failed, "waiting for the moon") {
		t.Fatalf("Until said %q", r.failed)
	}
	r.failed = ""
	UntilNil(r, 20*time.Millisecond, "the sun", func() error { return errors.New("cloudy") })
	if !strings.Contains(r.failed, "the sun") || !strings.Contains(r.failed, "cloudy") {
		t.Fatalf("UntilNil said %q", r.failed)
	}
	r.failed = ""
	For(r, 20*time.Millisecond, func() bool { return false }, func() string { return "3 of 4 lines" })
	if !strings.Contains(r.failed, "3 of 4 lines") {
		t.Fatalf("For said %q", r.failed)
	}
	if Within(20*time.Millisecond, func() bool { return false }) {
		t.Fatal("Within reported a condition that never held")
	}
}
