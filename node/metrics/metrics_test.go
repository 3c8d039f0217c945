package metrics

import (
	"sync"
	"testing"
)

func TestRegistryScopesAndShares(t *testing.T) {
	r := NewRegistry()
	a := r.Sub("agentA")
	a.Sub("tail").Counter("events_in").Add(3)
	a.Sub("tail").Counter("events_in").Inc() // same name, same counter
	a.Gauge("queue").Set(7)
	r.Sub("agentB").Counter("events_in").Add(10)

	if v, ok := a.Get("tail.events_in"); !ok || v != 4 {
		t.Fatalf("agentA tail.events_in = %d, %v", v, ok)
	}
	snap := a.Snapshot()
	if len(snap) != 2 || snap[0].Name != "agentA.queue" || !snap[0].Gauge || snap[1].Name != "agentA.tail.events_in" {
		t.Fatalf("snapshot of agentA = %+v", snap)
	}
	if len(r.Snapshot()) != 3 {
		t.Fatalf("root snapshot has %d values, want 3", len(r.Snapshot()))
	}
}

func TestNilRegistryIsUsable(t *testing.T) {
	var r *Registry
	r.Sub("x").Counter("c").Inc()
	r.Gauge("g").Add(-1)
	if r.Snapshot() != nil {
		t.Fatal("nil registry recorded something")
	}
	if _, ok := r.Get("c"); ok {
		t.Fatal("nil registry found a counter")
	}
}

func TestCountersAreSafeForConcurrentUse(t *testing.T) {
	r := NewRegistry()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				r.Counter("n").Inc()
			}
		}()
	}
	wg.Wait()
	if v, _ := r.Get("n"); v != 8000 {
		t.Fatalf("n = %d, want 8000", v)
	}
}
