// Package translate turns the configurations users submit into the ones nodes run, as classic
// Flume's master did (REFERENCE.md §5.5), from replicated inputs only, so that every master
// computes the same result:
//
//   - logicalSource and autoCollectorSource become collectorSource(port), with a port chosen per
//     host from flume.collector.event.port up, kept once chosen;
//   - logicalSink("L") becomes rpcSink("host", port) of L's collector source;
//   - autoE2EChain, autoDFOChain and autoBEChain become agentE2EChain, agentDFOChain and
//     agentBEChain over up to three collectors of the agent's flow, chosen by consistent
//     hashing of the agent's name, so load spreads and losing a collector moves only its agents.
//
// Unlike classic Flume, which turned translations off with more than one master, this works
// with any number of masters: every input is replicated.
package translate

import (
	"cmp"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"

	"github.com/flumego/flume/node/spec"
)

// DefaultBasePort is the first port given to collector sources (flume.collector.event.port).
const DefaultBasePort = 35853

// ChainLength is the number of collectors in an automatic chain.
const ChainLength = 3

// Config is a logical node's configuration as submitted.
type Config struct {
	Flow, Source, Sink string
}

// Input is everything translations depend on.
type Input struct {
	Configs  map[string]Config // by logical node
	Physical map[string]string // logical node -> physical node
	Hosts    map[string]string // physical node -> host
	// Ports are the ports given to collector sources before; they are kept while valid.
	Ports    map[string]int
	BasePort int
	// Cache, if not nil, carries work over from the last translation made with it: a
	// translation gives the same result with it or without it.
	Cache *Cache
	// Changed, with a Cache, names the nodes whose configuration may differ from the last
	// translation made with the Cache (set, changed or removed); the others must have the
	// configuration they had then. Mappings and hosts may differ anywhere. Nil: any node
	// may have changed.
	Changed map[string]struct{}
}

// Cache keeps what one translation can reuse from the last: what kind of source each source
// text is, and each node's translation with the collectors it was made with. A node whose
// configuration did not change is translated again only when the collectors changed (one was
// configured, mapped, moved, or its host or port changed), so a command costs in proportion to
// what it changed, not to the number of configurations. A Cache is not safe for concurrent use.
type Cache struct {
	kinds map[string]sourceKind // source text -> its kind
	cols  map[string]collector  // the collectors of the last translation
	rings map[string]*ring      // their rings, by flow
	nodes map[string]cachedNode // the last translation of each node
	// cands are the nodes whose source places a collector, as of the last translation.
	cands map[string]struct{}
}

type cachedNode struct {
	cfg  Config
	node Node
}

// sourceKind says whether a source text places a collector.
type sourceKind uint8

const (
	plainSource sourceKind = iota + 1 // any other source, or one that does not parse
	logicalSource
	autoSource
)

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{kinds: map[string]sourceKind{}, nodes: map[string]cachedNode{}, cands: map[string]struct{}{}}
}

// kindOf returns the kind of a source text, parsing it only the first time it is seen.
func (c *Cache) kindOf(text string) sourceKind {
	if c != nil {
		if k, ok := c.kinds[text]; ok {
			return k
		}
	}
	k := plainSource
	if src, err := spec.ParseSource(text); err == nil {
		switch src.Name {
		case "logicalSource":
			k = logicalSource
		case "autoCollectorSource":
			k = autoSource
		}
	}
	if c != nil {
		c.kinds[text] = k
	}
	return k
}

// Node is a translated configuration.
type Node struct {
	Source, Sink string
}

// Output is the translation of every configured logical node, and the collector ports in force.
type Output struct {
	Nodes map[string]Node
	Ports map[string]int
	// Partial says that Nodes holds only the nodes of Input.Changed that are configured:
	// the others translate as they did the last time.
	Partial bool
}

// collector is a logical node whose source the master places: it has an address once mapped
// onto a physical node whose host is known.
type collector struct {
	name, flow, host string
	physical         string // the physical node it is mapped onto, "" if none
	port             int
	auto             bool // autoCollectorSource: it joins the automatic chains of its flow
}

// unplaced says why a collector has no address yet.
func (c collector) unplaced() string {
	if c.physical == "" {
		return "logical node not mapped to physical node yet"
	}
	return fmt.Sprintf("physical node %s has not reported its host yet", c.physical)
}

func (c collector) addr() string { return net.JoinHostPort(c.host, strconv.Itoa(c.port)) }

// Translate computes the translated configuration of every logical node of in.
func Translate(in Input) Output {
	base := cmp.Or(in.BasePort, DefaultBasePort)
	cache := in.Cache
	partial := cache != nil && in.Changed != nil && cache.cols != nil
	if partial {
		cache.candidates(in.Configs, in.Changed)
	} else if cache != nil {
		cache.candidates(in.Configs, nil)
	}
	cols := collectors(in, base)
	reuse := cache != nil && maps.Equal(cols, cache.cols)
	partial = partial && reuse // other collectors: every node may translate otherwise
	var rings map[string]*ring
	if reuse {
		rings = cache.rings
	} else {
		rings = buildRings(cols)
	}
	out := Output{Ports: make(map[string]int), Partial: partial}
	for _, c := range cols {
		if c.host != "" {
			out.Ports[c.name] = c.port
		}
	}
	translate := func(name string, cfg Config) {
		if c, ok := cache.node(name); reuse && ok && c.cfg == cfg {
			out.Nodes[name] = c.node
			return
		}
		t := &translator{cols: cols, ring: rings[cfg.Flow], agent: name}
		out.Nodes[name] = Node{Source: t.source(cfg.Source), Sink: t.sink(cfg.Sink)}
	}
	if partial {
		out.Nodes = make(map[string]Node, len(in.Changed))
		for name := range in.Changed {
			if cfg, ok := in.Configs[name]; ok {
				translate(name, cfg)
			} else {
				delete(cache.nodes, name)
			}
		}
		for name, n := range out.Nodes {
			cache.nodes[name] = cachedNode{cfg: in.Configs[name], node: n}
		}
		cache.pruneKinds(in.Configs)
		return out
	}
	out.Nodes = make(map[string]Node, len(in.Configs))
	for name, cfg := range in.Configs { // each node is translated alone: the order is free
		translate(name, cfg)
	}
	if cache != nil {
		cache.keep(in.Configs, cols, out.Nodes)
		cache.rings = rings
	}
	return out
}

// candidates brings the set of nodes whose source places a collector up to date: for the
// changed nodes, or for every node when changed is nil.
func (c *Cache) candidates(configs map[string]Config, changed map[string]struct{}) {
	note := func(name string) {
		cfg, ok := configs[name]
		if ok && c.kindOf(cfg.Source) != plainSource {
			c.cands[name] = struct{}{}
		} else {
			delete(c.cands, name)
		}
	}
	if changed != nil {
		for name := range changed {
			note(name)
		}
		return
	}
	clear(c.cands)
	for name := range configs {
		note(name)
	}
}

// buildRings makes the ring of each flow's placed automatic collectors.
func buildRings(cols map[string]collector) map[string]*ring {
	rings := map[string]*ring{}
	for _, c := range cols {
		if c.auto && c.host != "" {
			if rings[c.flow] == nil {
				rings[c.flow] = &ring{}
			}
			rings[c.flow].add(c.name)
		}
	}
	return rings
}

func (c *Cache) node(name string) (cachedNode, bool) {
	if c == nil {
		return cachedNode{}, false
	}
	n, ok := c.nodes[name]
	return n, ok
}

// keep records a translation, and forgets the nodes and source texts no longer configured.
func (c *Cache) keep(configs map[string]Config, cols map[string]collector, nodes map[string]Node) {
	c.cols = cols
	for name, n := range nodes {
		if old, ok := c.nodes[name]; !ok || old.cfg != configs[name] || old.node != n {
			c.nodes[name] = cachedNode{cfg: configs[name], node: n}
		}
	}
	if len(c.nodes) > len(nodes) {
		maps.DeleteFunc(c.nodes, func(name string, _ cachedNode) bool { _, ok := nodes[name]; return !ok })
	}
	c.pruneKinds(configs)
}

// pruneKinds forgets the source texts no longer configured, once they outnumber the others.
func (c *Cache) pruneKinds(configs map[string]Config) {
	if len(c.kinds) <= 2*len(configs)+64 {
		return
	}
	used := make(map[string]bool, len(configs))
	for _, cfg := range configs {
		used[cfg.Source] = true
	}
	maps.DeleteFunc(c.kinds, func(text string, _ sourceKind) bool { return !used[text] })
}

// collectors finds the logical nodes with a master-placed source and gives each mapped one a
// port: the port it had if it is still free on its host, else the lowest free one from base.
// Nodes are handled in name order, those keeping a port first, so the result is deterministic.
func collectors(in Input, base int) map[string]collector {
	cols := map[string]collector{}
	add := func(name string, cfg Config) {
		kind := in.Cache.kindOf(cfg.Source)
		if kind == plainSource {
			return
		}
		c := collector{name: name, flow: cfg.Flow, auto: kind == autoSource}
		if phys, ok := in.Physical[name]; ok {
			c.physical, c.host = phys, in.Hosts[phys]
		}
		cols[name] = c
	}
	if in.Cache != nil {
		for name := range in.Cache.cands { // kept up to date by the caller
			add(name, in.Configs[name])
		}
	} else {
		for name, cfg := range in.Configs {
			add(name, cfg)
		}
	}
	names := slices.Sorted(maps.Keys(cols))
	used := map[string]map[int]bool{} // host -> ports taken
	take := func(c *collector, port int) {
		if used[c.host] == nil {
			used[c.host] = map[int]bool{}
		}
		used[c.host][port] = true
		c.port = port
	}
	for _, name := range names { // keep the ports already given
		c, ok := cols[name]
		if !ok || c.host == "" {
			continue
		}
		if p, had := in.Ports[name]; had && !used[c.host][p] {
			take(&c, p)
			cols[name] = c
		}
	}
	for _, name := range names { // then give the others the lowest free port
		c, ok := cols[name]
		if !ok || c.host == "" || c.port != 0 {
			continue
		}
		p := base
		for used[c.host][p] {
			p++
		}
		take(&c, p)
		cols[name] = c
	}
	return cols
}

// translator rewrites the specs of one logical node.
type translator struct {
	cols  map[string]collector
	ring  *ring
	agent string
}

func str(s string) spec.Value { return spec.Value{Kind: spec.KindString, Str: s} }

func failCall(msg string) *spec.Call {
	return &spec.Call{Name: "fail", Args: []spec.Value{str(msg)}}
}

func (t *translator) source(text string) string {
	src, err := spec.ParseSource(text)
	if err != nil {
		return spec.FormatCall(failCall("source does not parse: " + err.Error()))
	}
	if src.Name != "logicalSource" && src.Name != "autoCollectorSource" {
		return spec.FormatCall(src)
	}
	c := t.cols[t.agent]
	if c.host == "" {
		return spec.FormatCall(failCall(c.unplaced()))
	}
	return spec.FormatCall(&spec.Call{Name: "collectorSource", Args: []spec.Value{{Kind: spec.KindInt, Int: int64(c.port)}}})
}

func (t *translator) sink(text string) string {
	s, err := spec.ParseSink(text)
	if err != nil {
		return spec.FormatSink(&spec.SinkCall{Call: failCall("sink does not parse: " + err.Error())})
	}
	return spec.FormatSink(t.rewrite(s))
}

var autoChains = map[string]string{
	"autoE2EChain": "agentE2EChain",
	"autoDFOChain": "agentDFOChain",
	"autoBEChain":  "agentBEChain",
}

// rewrite replaces the translated sinks anywhere in the sink expression.
func (t *translator) rewrite(s spec.Sink) spec.Sink {
	switch s := s.(type) {
	case *spec.SinkCall:
		return &spec.SinkCall{Call: t.call(s.Call)}
	case *spec.Decorated:
		return &spec.Decorated{Pos: s.Pos, Deco: s.Deco, Sink: t.rewrite(s.Sink)}
	case *spec.FanOut:
		return &spec.FanOut{Pos: s.Pos, Sinks: t.rewriteAll(s.Sinks)}
	case *spec.Failover:
		return &spec.Failover{Pos: s.Pos, Sinks: t.rewriteAll(s.Sinks)}
	case *spec.Roll:
		return &spec.Roll{Pos: s.Pos, Args: s.Args, Sink: t.rewrite(s.Sink)}
	case *spec.Collector:
		return &spec.Collector{Pos: s.Pos, Args: s.Args, Sink: t.rewrite(s.Sink)}
	}
	return s
}

func (t *translator) rewriteAll(sinks []spec.Sink) []spec.Sink {
	out := make([]spec.Sink, len(sinks))
	for i, s := range sinks {
		out[i] = t.rewrite(s)
	}
	return out
}

func (t *translator) call(c *spec.Call) *spec.Call {
	if agent, ok := autoChains[c.Name]; ok {
		var addrs []spec.Value
		if t.ring != nil {
			for _, name := range t.ring.pick(t.agent, ChainLength) {
				addrs = append(addrs, str(t.cols[name].addr()))
			}
		}
		if len(addrs) == 0 {
			return failCall("no collectors")
		}
		return &spec.Call{Pos: c.Pos, Name: agent, Args: addrs, Kwargs: c.Kwargs}
	}
	if c.Name == "logicalSink" && len(c.Args) == 1 && c.Args[0].Kind == spec.KindString {
		target, ok := t.cols[c.Args[0].Str]
		if !ok {
			return failCall(fmt.Sprintf("logicalSink(%q): no logical node of that name has a logicalSource or autoCollectorSource", c.Args[0].Str))
		}
		if target.host == "" {
			return failCall(fmt.Sprintf("logicalSink(%q): %s", c.Args[0].Str, target.unplaced()))
		}
		return &spec.Call{Pos: c.Pos, Name: "rpcSink", Args: []spec.Value{str(target.host), {Kind: spec.KindInt, Int: int64(target.port)}}}
	}
	return c
}

// ring is a consistent hash ring over collector names, 150 points per collector, as classic
// ConsistentHashFailoverChainManager had.
type ring struct {
	points []point
	sorted bool
}

type point struct {
	hash uint64
	name string
}

const replicas = 150

func hash64(s string) uint64 {
	sum := md5.Sum([]byte(s))
	return binary.BigEndian.Uint64(sum[:8])
}

func (r *ring) add(name string) {
	for i := range replicas {
		r.points = append(r.points, point{hash64(name + "-" + strconv.Itoa(i)), name})
	}
	r.sorted = false
}

// pick returns up to n distinct collectors for key, primary first: those at the first points
// clockwise from the key's hash.
func (r *ring) pick(key string, n int) []string {
	if !r.sorted {
		slices.SortFunc(r.points, func(a, b point) int {
			return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.name, b.name))
		})
		r.sorted = true
	}
	h := hash64(key)
	start, _ := slices.BinarySearchFunc(r.points, h, func(p point, h uint64) int { return cmp.Compare(p.hash, h) })
	var out []string
	for i := 0; i < len(r.points) && len(out) < n; i++ {
		p := r.points[(start+i)%len(r.points)]
		if !slices.Contains(out, p.name) {
			out = append(out, p.name)
		}
	}
	return out
}
