package translate

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"testing"
)

func input() Input {
	return Input{
		Configs: map[string]Config{
			"c1":      {Flow: "web", Source: "autoCollectorSource", Sink: `collectorSink("/data/web/", "c1-")`},
			"c2":      {Flow: "web", Source: "autoCollectorSource", Sink: "null"},
			"c3":      {Flow: "web", Source: "autoCollectorSource", Sink: "null"},
			"dbcol":   {Flow: "db", Source: "autoCollectorSource", Sink: "null"},
			"named":   {Flow: "web", Source: "logicalSource", Sink: "null"},
			"agentA":  {Flow: "web", Source: `tail("/var/log/a")`, Sink: "autoE2EChain"},
			"agentD":  {Flow: "db", Source: `tail("/var/log/d")`, Sink: `batch(10) [console, < autoBEChain ? null >]`},
			"lonely":  {Flow: "empty", Source: "null", Sink: "autoDFOChain"},
			"toNamed": {Flow: "x", Source: "null", Sink: `logicalSink("named")`},
			"toGhost": {Flow: "x", Source: "null", Sink: `logicalSink("ghost")`},
		},
		Physical: map[string]string{"c1": "h1", "c2": "h1", "c3": "h2", "dbcol": "h2", "named": "h3"},
		Hosts:    map[string]string{"h1": "10.0.0.1", "h2": "10.0.0.2", "h3": "10.0.0.3"},
	}
}

func TestTranslations(t *testing.T) {
	out := Translate(input())
	want := map[string]Node{
		"c1":      {`collectorSource(35853)`, `collectorSink("/data/web/", "c1-")`},
		"c2":      {`collectorSource(35854)`, `null`},
		"c3":      {`collectorSource(35853)`, `null`},
		"dbcol":   {`collectorSource(35854)`, `null`},
		"named":   {`collectorSource(35853)`, `null`},
		"agentD":  {`tail("/var/log/d")`, `batch(10) [console, < agentBEChain("10.0.0.2:35854") ? null >]`},
		"lonely":  {`null`, `fail("no collectors")`},
		"toNamed": {`null`, `rpcSink("10.0.0.3", 35853)`},
		"toGhost": {`null`, `fail("logicalSink(\"ghost\"): no logical node of that name has a logicalSource or autoCollectorSource")`},
	}
	for name, w := range want {
		if got := out.Nodes[name]; got != w {
			t.Errorf("%s = %+v\n   want %+v", name, got, w)
		}
	}
	// agentA's chain: the three web collectors, in an order of its own, the logicalSource one
	// excluded (only autoCollectorSource joins automatic chains).
	re := regexp.MustCompile(`^agentE2EChain\("10\.0\.0\.[12]:3585[34]", "10\.0\.0\.[12]:3585[34]", "10\.0\.0\.[12]:3585[34]"\)$`)
	if got := out.Nodes["agentA"]; !re.MatchString(got.Sink) {
		t.Errorf("agentA sink %q is not a chain of the three web collectors", got.Sink)
	}
}

func TestUnmappedCollectorFailsAndIsNoChainMember(t *testing.T) {
	in := input()
	delete(in.Physical, "c1")
	delete(in.Physical, "c2")
	delete(in.Hosts, "h2") // c3 is mapped, but its physical node never reported its host
	out := Translate(in)
	if got := out.Nodes["c1"].Source; got != `fail("logical node not mapped to physical node yet")` {
		t.Fatalf("unmapped collector source = %s", got)
	}
	if got := out.Nodes["c3"].Source; got != `fail("physical node h2 has not reported its host yet")` {
		t.Fatalf("collector on a silent physical node = %s", got)
	}
	if got := out.Nodes["agentA"].Sink; got != `fail("no collectors")` {
		t.Fatalf("agent with no mapped collector: %s", got)
	}
}

func TestCollectorPortsAreKept(t *testing.T) {
	in := input()
	first := Translate(in)
	// A new collector on h1 whose name sorts first must not take c1's or c2's port.
	in.Configs["a0"] = Config{Flow: "web", Source: "autoCollectorSource", Sink: "null"}
	in.Physical["a0"] = "h1"
	in.Ports = first.Ports
	second := Translate(in)
	for _, name := range []string{"c1", "c2", "c3", "dbcol", "named"} {
		if second.Ports[name] != first.Ports[name] {
			t.Errorf("%s moved from port %d to %d", name, first.Ports[name], second.Ports[name])
		}
	}
	if second.Ports["a0"] != 35855 {
		t.Errorf("new collector on h1 got port %d, want the lowest free one, 35855", second.Ports["a0"])
	}
}

func TestTranslationIsDeterministic(t *testing.T) {
	a, b := Translate(input()), Translate(input())
	if !maps.Equal(a.Nodes, b.Nodes) || !maps.Equal(a.Ports, b.Ports) {
		t.Fatal("two translations of the same input differ")
	}
}

// TestChainsSpreadAndMoveLittle checks the two reasons for consistent hashing: primaries spread
// over the collectors, and removing a collector changes only the chains that contained it.
func TestChainsSpreadAndMoveLittle(t *testing.T) {
	r := &ring{}
	for i := range 5 {
		r.add(fmt.Sprintf("col%d", i))
	}
	primaries := map[string]int{}
	before := map[string][]string{}
	for i := range 1000 {
		agent := fmt.Sprintf("agent%d", i)
		before[agent] = r.pick(agent, 3)
		primaries[before[agent][0]]++
	}
	for col, n := range primaries {
		if n < 120 || n > 280 {
			t.Errorf("%s is the primary of %d of 1000 agents; want about 200", col, n)
		}
	}
	smaller := &ring{}
	for i := range 5 {
		if i != 2 {
			smaller.add(fmt.Sprintf("col%d", i))
		}
	}
	moved := 0
	for agent, chain := range before {
		after := smaller.pick(agent, 3)
		hadRemoved := false
		for _, c := range chain {
			hadRemoved = hadRemoved || c == "col2"
		}
		if !hadRemoved && fmt.Sprint(after) != fmt.Sprint(chain) {
			t.Fatalf("%s's chain %v changed to %v although it did not use the removed collector", agent, chain, after)
		}
		if hadRemoved {
			moved++
			if after[0] != chain[0] && chain[0] != "col2" {
				t.Fatalf("%s lost its primary %s although only a backup was removed", agent, chain[0])
			}
		}
	}
	if moved == 0 || moved > 800 {
		t.Fatalf("%d chains changed", moved)
	}
}

// TestCacheGivesTheSameTranslation changes configurations, mappings and hosts at random, one
// at a time, and translates after each change with a cache kept across them and without one:
// the results must be the same, ports included.
func TestCacheGivesTheSameTranslation(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	sources := []string{"logicalSource", "autoCollectorSource", `tail("/var/log/x")`, "null", "bad(("}
	sinks := []string{"autoE2EChain", "autoBEChain", `{ value("a", "b") => autoDFOChain }`, "console",
		`logicalSink("n1")`, `logicalSink("n7")`, "[null, autoE2EChain]", "((bad"}
	names := make([]string, 12)
	for i := range names {
		names[i] = fmt.Sprintf("n%d", i)
	}
	cached := Input{Configs: map[string]Config{}, Physical: map[string]string{}, Hosts: map[string]string{}, Cache: NewCache()}
	fresh := Input{Configs: cached.Configs, Physical: cached.Physical, Hosts: cached.Hosts}
	reused, partial := 0, 0
	var last map[string]Node
	for step := range 3000 {
		name := names[rng.IntN(len(names))]
		// Every other step says which configurations changed, as the masters do.
		cached.Changed = nil
		if step%2 == 1 {
			cached.Changed = map[string]struct{}{}
		}
		switch rng.IntN(6) {
		case 0, 1:
			cached.Configs[name] = Config{Flow: []string{"a", "b"}[rng.IntN(2)],
				Source: sources[rng.IntN(len(sources))], Sink: sinks[rng.IntN(len(sinks))]}
			if cached.Changed != nil {
				cached.Changed[name] = struct{}{}
			}
		case 2:
			delete(cached.Configs, name)
			if cached.Changed != nil {
				cached.Changed[name] = struct{}{}
			}
		case 3:
			cached.Physical[name] = fmt.Sprintf("p%d", rng.IntN(4))
		case 4:
			delete(cached.Physical, name)
		case 5:
			p := fmt.Sprintf("p%d", rng.IntN(4))
			if rng.IntN(3) == 0 {
				delete(cached.Hosts, p)
			} else {
				cached.Hosts[p] = fmt.Sprintf("10.0.0.%d", rng.IntN(3))
			}
		}
		before := maps.Clone(cached.Cache.cols)
		a, b := Translate(cached), Translate(fresh)
		if maps.Equal(before, cached.Cache.cols) {
			reused++
		}
		if a.Partial {
			partial++
			// The nodes left out translate as they did the last time.
			for n, node := range last {
				if _, ok := a.Nodes[n]; !ok {
					if _, changed := cached.Changed[n]; !changed {
						a.Nodes[n] = node
					}
				}
			}
		}
		if !maps.Equal(a.Nodes, b.Nodes) || !maps.Equal(a.Ports, b.Ports) {
			t.Fatalf("step %d: with the cache %v %v, without %v %v", step, a.Nodes, a.Ports, b.Nodes, b.Ports)
		}
		last = a.Nodes
		cached.Ports, fresh.Ports = a.Ports, b.Ports
	}
	if partial < 300 {
		t.Fatalf("only %d partial translations", partial)
	}
	if reused < 500 {
		t.Fatalf("the collectors stayed the same in only %d of 3000 steps: the cache was hardly used", reused)
	}
}

// BenchmarkTranslateOneChange translates 4,000 configurations after a change to one of them,
// as every config command does.
func BenchmarkTranslateOneChange(b *testing.B) {
	for _, withCache := range []bool{false, true} {
		b.Run(fmt.Sprintf("cache=%v", withCache), func(b *testing.B) {
			in := Input{Configs: map[string]Config{}, Physical: map[string]string{}, Hosts: map[string]string{"h": "10.0.0.1"}}
			for i := range 4000 {
				src, sink := `tail("/var/log/app.log")`, "autoE2EChain"
				if i%100 == 0 {
					src, sink = "autoCollectorSource", `collectorSink("/data/", "c-")`
					in.Physical[fmt.Sprintf("n%d", i)] = "h"
				}
				in.Configs[fmt.Sprintf("n%d", i)] = Config{Flow: "f", Source: src, Sink: sink}
			}
			if withCache {
				in.Cache = NewCache()
			}
			in.Ports = Translate(in).Ports
			if withCache {
				in.Changed = map[string]struct{}{"n1": {}}
			}
			b.ResetTimer()
			for i := range b.N {
				in.Configs["n1"] = Config{Flow: "f", Source: fmt.Sprintf(`tail("/var/log/%d.log")`, i), Sink: "autoE2EChain"}
				in.Ports = Translate(in).Ports
			}
		})
	}
}
