package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flumego/flume/node/agent/wal"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/localcommit"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
	"github.com/flumego/flume/wire"
)

// chunkID names a chunk as the commit point does.
type chunkID struct {
	agent string
	epoch uint64
	seq   uint64
}

// store is what the test collectors share: it keeps the events of every chunk they take.
// End-to-end chunks are kept once, by agent, epoch and seq, as the masters' commit point
// keeps them; a chunk taken before is answered DUPLICATE. Other chunks are kept as they come,
// as a collector acking per hop does.
type store struct {
	mu       sync.Mutex
	bodies   map[string]int   // times each event body was kept
	arrivals map[chunkID]int  // times each chunk arrived
	counts   map[chunkID]int  // events of each chunk
	kept     map[chunkID]bool // end-to-end chunks kept
	script   func(seq uint64, arrival int) flumev1.AckStatus
}

func newStore() *store {
	return &store{bodies: map[string]int{}, arrivals: map[chunkID]int{}, counts: map[chunkID]int{},
		kept: map[chunkID]bool{}}
}

// take handles one batch and returns its ack.
func (s *store) take(si *wire.StreamInfo, b wire.BatchInfo, events []*event.Event) (flumev1.AckStatus, error) {
	id := chunkID{si.Agent, si.Epoch, b.Seq}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.arrivals[id]++
	s.counts[id] = len(events)
	if s.script != nil {
		if st := s.script(b.Seq, s.arrivals[id]); st != flumev1.AckStatus_ACK_STATUS_OK {
			return st, fmt.Errorf("the test answers %v", st)
		}
	}
	if si.Reliability == flumev1.Reliability_RELIABILITY_END_TO_END {
		if s.kept[id] {
			return flumev1.AckStatus_ACK_STATUS_DUPLICATE, nil
		}
		s.kept[id] = true
	}
	for _, e := range events {
		s.bodies[string(e.Body)]++
	}
	return flumev1.AckStatus_ACK_STATUS_OK, nil
}

// setScript sets the ack the collectors give: script(seq, n) for the n-th arrival of seq.
func (s *store) setScript(f func(seq uint64, arrival int) flumev1.AckStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = f
}

// total returns the number of events kept.
func (s *store) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.bodies {
		n += c
	}
	return n
}

// has reports whether the event with body was kept.
func (s *store) has(body string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies[body] > 0
}

// chunk returns how often chunk seq of any agent arrived, and how many events it held.
func (s *store) chunk(seq uint64) (arrivals, events int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, n := range s.arrivals {
		if id.seq == seq {
			arrivals += n
			events = s.counts[id]
		}
	}
	return arrivals, events
}

// checkOnce fails the test unless every body in want was kept exactly once and nothing else
// was kept.
func (s *store) checkOnce(tb testing.TB, want []string) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	wanted := make(map[string]bool, len(want))
	for _, b := range want {
		wanted[b] = true
		if n := s.bodies[b]; n != 1 {
			tb.Errorf("event %q kept %d times, want once", b, n)
		}
	}
	for b, n := range s.bodies {
		if !wanted[b] {
			tb.Errorf("event %q kept %d times, want never", b, n)
		}
	}
}

// collector is a test collector: a wire server on a loopback port, handing batches to a store.
type collector struct {
	st      *store
	srv     *wire.Server
	addr    string
	done    chan struct{}
	batches atomic.Int64
	once    sync.Once
}

func (c *collector) Batch(_ context.Context, si *wire.StreamInfo, b wire.BatchInfo, events []*event.Event, ack func(flumev1.AckStatus, error)) {
	c.batches.Add(1)
	ack(c.st.take(si, b, events))
}

// startCollector serves a collector for st on addr ("127.0.0.1:0" for any port), stopped
// when the test ends if not before.
func startCollector(tb testing.TB, st *store, addr string) *collector {
	tb.Helper()
	var lis net.Listener
	var err error
	// A port just closed by a stopped collector can be taken again at once (SO_REUSEADDR);
	// a few tries cover a listener not yet fully gone.
	for i := 0; i < 50; i++ {
		if lis, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		tb.Fatal(err)
	}
	c := &collector{st: st, addr: lis.Addr().String(), done: make(chan struct{})}
	c.srv = wire.NewServer(c, wire.ServerOptions{})
	go func() {
		defer close(c.done)
		_ = c.srv.Serve(lis)
	}()
	tb.Cleanup(c.stop)
	return c
}

// stop stops the collector; its streams end, the agents fail over.
func (c *collector) stop() {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.srv.Stop(ctx)
		<-c.done
	})
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	return addr
}

// newBC returns a build context with a data directory, metrics and props of its own.
func newBC(tb testing.TB, props map[string]string) *plugin.BuildContext {
	tb.Helper()
	return &plugin.BuildContext{
		Logger:       slog.New(slog.DiscardHandler),
		LogicalNode:  "agentA",
		PhysicalNode: "host1",
		DataDir:      tb.TempDir(),
		Metrics:      metrics.NewRegistry(),
		Props:        props,
	}
}

// newCommits returns a commit point on a local log, closed when the test ends.
func newCommits(tb testing.TB) *localcommit.Log {
	tb.Helper()
	l, err := localcommit.Open(tb.TempDir(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = l.Close() })
	return l
}

// metric returns the value of counter name of bc's registry.
func metric(bc *plugin.BuildContext, name string) int64 {
	v, _ := bc.Metrics.Get(name)
	return v
}

// bodies returns the bodies "prefix-from" to "prefix-(from+n-1)".
func bodies(prefix string, from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%05d", prefix, from+i)
	}
	return out
}

// batchOf returns events with the given bodies.
func batchOf(bodies []string) []*event.Event {
	out := make([]*event.Event, len(bodies))
	for i, b := range bodies {
		out[i] = event.New([]byte(b))
		out[i].Timestamp = int64(i)
		out[i].Host = "host1"
	}
	return out
}

// appendAll appends bodies to s in batches of size n.
func appendAll(tb testing.TB, s plugin.Sink, all []string, n int) {
	tb.Helper()
	for i := 0; i < len(all); i += n {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := s.Append(ctx, batchOf(all[i:min(i+n, len(all))]))
		cancel()
		if err != nil {
			tb.Fatalf("append: %v", err)
		}
	}
}

// openSink opens s within a second.
func openSink(tb testing.TB, s plugin.Sink) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		tb.Fatalf("open: %v", err)
	}
}

// closeSink closes s within d and returns its error.
func closeSink(s plugin.Sink, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Close(ctx)
}

// unreleased returns the chunks the log in dir still holds.
func unreleased(tb testing.TB, dir string) []wal.ChunkRef {
	tb.Helper()
	l, err := wal.Open(wal.Options{Dir: dir, MinFreeBytes: -1})
	if err != nil {
		tb.Fatalf("open log %s: %v", dir, err)
	}
	defer l.Close()
	return l.Unreleased()
}

// buildSink builds the sink of spec text through a registry holding the agent components.
func buildSink(tb testing.TB, bc *plugin.BuildContext, text string) plugin.Sink {
	tb.Helper()
	s, err := buildSinkErr(bc, text)
	if err != nil {
		tb.Fatalf("build %s: %v", text, err)
	}
	return s
}

func buildSinkErr(bc *plugin.BuildContext, text string) (plugin.Sink, error) {
	r := plugin.NewRegistry()
	Register(r)
	sk, err := spec.ParseSink(text)
	if err != nil {
		return nil, err
	}
	call, ok := sk.(*spec.SinkCall)
	if !ok {
		return nil, fmt.Errorf("%s is not a plain sink", text)
	}
	return r.BuildSink(bc, call.Call)
}

// buildDeco builds decorator text around next through a registry holding the agent components.
func buildDeco(bc *plugin.BuildContext, text string, next plugin.Sink) (plugin.Sink, error) {
	r := plugin.NewRegistry()
	Register(r)
	call, err := spec.ParseSource(text) // a decorator call parses as a call
	if err != nil {
		return nil, err
	}
	return r.BuildDecorator(bc, call, next)
}

// testSink is a next sink for the decorators: it keeps a copy of every event it takes, fails
// its first failN Appends (and every Append while down is set), and reports being used from
// two goroutines at once.
type testSink struct {
	failN     atomic.Int64
	down      atomic.Bool
	permanent bool // failures are plugin.Permanent
	inUse     atomic.Bool
	overlap   atomic.Bool // Append was called while another one ran
	appends   atomic.Int64
	opens     atomic.Int64
	closes    atomic.Int64

	mu     sync.Mutex
	bodies []string
}

var errTestSink = errors.New("test sink down")

func (s *testSink) Open(context.Context) error { s.opens.Add(1); return nil }

func (s *testSink) Append(ctx context.Context, batch []*event.Event) error {
	if !s.inUse.CompareAndSwap(false, true) {
		s.overlap.Store(true)
		return errors.New("concurrent append")
	}
	defer s.inUse.Store(false)
	s.appends.Add(1)
	if s.down.Load() || s.failN.Add(-1) >= 0 {
		if s.permanent {
			return plugin.Permanent(errTestSink)
		}
		return errTestSink
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range batch {
		s.bodies = append(s.bodies, string(e.Clone().Body))
	}
	return nil
}

func (s *testSink) Close(context.Context) error { s.closes.Add(1); return nil }

// got returns the bodies taken, in order.
func (s *testSink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

func (s *testSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bodies)
}

// checkOnce fails the test unless the sink took every body of want exactly once and nothing
// else; with ordered, in that order.
func (s *testSink) checkOnce(tb testing.TB, want []string, ordered bool) {
	tb.Helper()
	got := s.got()
	if ordered {
		if strings.Join(got, ",") != strings.Join(want, ",") {
			tb.Fatalf("next sink took %d events %v..., want %d in order", len(got), head(got), len(want))
		}
		return
	}
	seen := map[string]int{}
	for _, b := range got {
		seen[b]++
	}
	for _, b := range want {
		if seen[b] != 1 {
			tb.Errorf("event %q taken %d times, want once", b, seen[b])
		}
		delete(seen, b)
	}
	for b, n := range seen {
		tb.Errorf("event %q taken %d times, want never", b, n)
	}
}

func head(s []string) []string { return s[:min(len(s), 5)] }

// e2eDir is the write-ahead log of an agent sink built with bc through the registry.
func e2eDir(bc *plugin.BuildContext) string { return filepath.Join(bc.DataDir, "agent", "e2e") }

// dfoDir is the spool of an agent sink built with bc through the registry.
func dfoDir(bc *plugin.BuildContext) string { return filepath.Join(bc.DataDir, "agent", "dfo") }
