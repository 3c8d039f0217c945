package plugin

import (
	"context"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
)

// A batch costs what its events cost one by one: each its body plus the per-event overhead.
func TestChokeCostIsTheSumOfTheEvents(t *testing.T) {
	evs := []*event.Event{{Body: []byte("abc")}, {}, {Body: make([]byte, 1000)}}
	if got, want := ChokeCost(evs), 3+1000+3*ChokeEventOverhead; got != want {
		t.Fatalf("ChokeCost = %d, want %d", got, want)
	}
	split := 0
	for _, e := range evs {
		split += ChokeCost([]*event.Event{e})
	}
	if split != ChokeCost(evs) {
		t.Fatalf("one by one %d, as a batch %d", split, ChokeCost(evs))
	}
	if ChokeCost(nil) != 0 {
		t.Fatal("an empty batch costs something")
	}
}

// After an idle spell a choke lets through a tenth of a second's worth at once, not a whole
// second's, so the first second carries about the limit, not twice it.
func TestChokeBurstIsATenthOfASecond(t *testing.T) {
	ct := NewChokeTable()
	ct.SetLimit("c", 100) // 102400 bytes per second, a burst of 10240
	ctx := context.Background()
	start := time.Now()
	if err := ct.Wait(ctx, "c", 10*1024); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 50*time.Millisecond {
		t.Fatalf("the burst waited %v", el)
	}
	// 100 KiB in all: 90 KiB beyond the burst take about 0.9 s.
	for range 9 {
		if err := ct.Wait(ctx, "c", 10*1024); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < 800*time.Millisecond {
		t.Fatalf("100 KiB through a 100 KiB/s choke took %v, want about 0.9s", el)
	}
	// A request larger than the burst waits for it in steps instead of failing.
	ct.SetLimit("big", 1)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := ct.Wait(ctx, "big", 1024+ChokeEventOverhead); err != nil {
		t.Fatalf("a request larger than the burst: %v", err)
	}
}
