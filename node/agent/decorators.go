package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flumego/flume/conf"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/spec"
)

// The ackedWriteAhead and diskFailover decorators (REFERENCE.md §3.3, §5.1, §5.2) keep events
// in a log of their own, a node/agent/wal under the logical node's data directory, on their
// way to the sink they wrap. They are the agent sinks' engine (chunker, outbox, the end-to-end
// strategy) with the next sink for a collector:
//
//   - ackedWriteAhead writes every event to its log first. A goroutine of its own appends the
//     log's chunks to the next sink, in order, and releases a chunk once that Append returned
//     nil; a chunk whose Append failed is appended again after a backoff. What the log still
//     holds at Open, left by an earlier run, goes to the next sink first.
//   - diskFailover appends to the next sink directly. When that fails, the batch goes to its
//     log (the spool) instead and Append returns nil; until a chunk of the spool is delivered
//     again, later batches go to the spool too, so a sink that is down costs one failure, not
//     one per batch. The spool drains in the background, with backoff; batches appended
//     directly meanwhile may overtake spooled ones.
//
// Events wait in memory at most maxMillis (flume.agent.logdir.maxage) before they are sealed
// into a chunk of the log, and are written at once when the chunk is full (decoChunkEvents or
// decoChunkBytes) or the decorator closes. At the log's cap (flume.agent.logdir.maxbytes)
// Append waits, within its ctx, until delivered chunks free room, and refuses its batch,
// taking nothing of it, when its ctx ends first: nothing is overwritten. Close waits for the log
// to drain while chunks keep being delivered, and leaves the rest in the log for the next run.

// Defaults and bounds of the decorators' logs.
const (
	// DefaultLogMaxAge is how long events wait at most before they are sealed into a chunk
	// of a decorator's log (flume.agent.logdir.maxage).
	DefaultLogMaxAge = 10 * time.Second
	// decoChunkEvents and decoChunkBytes seal a chunk early: a chunk is delivered to the next
	// sink as one batch, so they bound that batch too.
	decoChunkEvents = 1000
	decoChunkBytes  = 1 << 20
	// decoDrainStall is how long Close waits for a drain that delivers nothing: classic Flume
	// gave up after ten checks 500 ms apart.
	decoDrainStall = 5 * time.Second
)

// Errors of the decorators.
var (
	// errNoLogDir: the decorator has nowhere to keep its log.
	errNoLogDir = errors.New("no directory for the log: the node has no data directory and flume.agent.logdir is not set")
	// errDecoClosed: Append after Close.
	errDecoClosed = errors.New("decorator closed")
	// errDecoNotOpen: Append before Open.
	errDecoNotOpen = errors.New("decorator not open")
)

// registerDecorators adds ackedWriteAhead and diskFailover to r.
func registerDecorators(r *plugin.Registry) {
	params := []spec.Param{{Name: "maxMillis", Kind: spec.ParamDuration, Default: "10000"}}
	r.RegisterDecorator(spec.Signature{Name: "ackedWriteAhead", Params: params},
		"writes events to a write-ahead log first, then to its sink; what the sink did not take is appended again, after a restart too",
		func(bc *plugin.BuildContext, a *spec.Args, next plugin.Sink) (plugin.Sink, error) {
			return newLogDeco(bc, a, "ackedWriteAhead", "wal", next, false)
		})
	r.RegisterDecorator(spec.Signature{Name: "diskFailover", Params: params},
		"appends to its sink; spools to disk what the sink does not take and appends it again later",
		func(bc *plugin.BuildContext, a *spec.Args, next plugin.Sink) (plugin.Sink, error) {
			return newLogDeco(bc, a, "diskFailover", "dfo", next, true)
		})
}

// decoLogDir is where decorator logs of kind sub live: under the logical node's data
// directory, else under flume.agent.logdir; "" when neither is known.
func decoLogDir(bc *plugin.BuildContext, sub string) string {
	if bc.DataDir != "" {
		return filepath.Join(bc.DataDir, sub)
	}
	if d := bc.Prop(conf.AgentLogDir, ""); d != "" && bc.LogicalNode != "" {
		return filepath.Join(d, bc.LogicalNode, sub)
	}
	return ""
}

// logDeco is the ackedWriteAhead decorator, and with failover set the diskFailover one. Open,
// Append and Close come from the flow's goroutine; the log's sender appends to the next sink
// from its own, never at the same time as Append (nextSink).
type logDeco struct {
	log      *chunkLog
	failover bool
	// down is set when an Append to the next sink failed, and cleared when the sender
	// delivered a chunk of the spool: while it is set, diskFailover spools every batch.
	down                                            atomic.Bool
	eventsIn, eventsDirect, eventsSpooled, failures *metrics.Counter
	opened, closed                                  bool
}

func newLogDeco(bc *plugin.BuildContext, a *spec.Args, name, sub string, next plugin.Sink, failover bool) (plugin.Sink, error) {
	c, err := newChunkLog(bc, a, name, sub, next)
	if err != nil {
		return nil, err
	}
	d := &logDeco{log: c, failover: failover, eventsIn: c.counters.Counter("events_in")}
	if failover {
		d.eventsDirect, d.eventsSpooled = c.counters.Counter("events_direct"), c.counters.Counter("events_spooled")
		d.failures = c.counters.Counter("batches_failed")
		c.onDelivered = func() { d.down.Store(false) }
	}
	return d, nil
}

// Open opens the next sink and the log, and starts the log's sender. A next sink that does
// not open is opened again before each delivery, and the log takes the events meanwhile; only
// a permanent failure fails Open.
func (d *logDeco) Open(ctx context.Context) error {
	if d.opened {
		return nil
	}
	if err := d.log.next.open(ctx); err != nil {
		if plugin.IsPermanent(err) {
			return fmt.Errorf("%s: %w", d.log.name, err)
		}
		d.log.bc.Log().Warn("next sink did not open; the log keeps the events until it does",
			"deco", d.log.name, "err", err)
		d.down.Store(true)
	}
	if err := d.log.open(); err != nil {
		_ = d.log.next.close(ctx)
		return err
	}
	d.opened = true
	return nil
}

// Append adds the events to the log (ackedWriteAhead); they reach the next sink once their
// chunk is sealed. diskFailover appends them to the next sink instead, and spools them when
// that fails or failed before; a permanent failure is returned, as sending again cannot help.
func (d *logDeco) Append(ctx context.Context, batch []*event.Event) error {
	if !d.opened {
		return fmt.Errorf("%s: %w", d.log.name, errDecoNotOpen)
	}
	d.eventsIn.Add(int64(len(batch)))
	if d.failover && !d.down.Load() {
		err := d.log.next.append(ctx, batch)
		if err == nil {
			d.eventsDirect.Add(int64(len(batch)))
			return nil
		}
		if plugin.IsPermanent(err) {
			return fmt.Errorf("%s: %w", d.log.name, err)
		}
		d.failures.Inc()
		d.down.Store(true)
		d.log.bc.Log().Warn("next sink failed; spooling to disk", "deco", d.log.name, "err", err)
	}
	if err := d.log.add(ctx, batch); err != nil {
		return err
	}
	if d.failover {
		d.eventsSpooled.Add(int64(len(batch)))
	}
	return nil
}

// Close seals what the log holds, waits for the drain while it progresses (within ctx), and
// closes the log and the next sink. What is not delivered stays in the log for the next run.
func (d *logDeco) Close(ctx context.Context) error {
	if d.closed {
		return nil
	}
	d.closed = true
	var err error
	if d.opened {
		err = d.log.close(ctx)
	}
	return errors.Join(err, d.log.next.close(ctx))
}

// Condition says why the flow is held up: the log is full, or the next sink fails.
func (d *logDeco) Condition() string { return d.log.condition() }

// nextSink is the sink a decorator wraps. Its methods hold a mutex, so the flow's Append and
// the log's sender never use the sink at once, as the plugin contract asks. A sink that did
// not open is opened again by the next append.
type nextSink struct {
	mu     sync.Mutex
	sink   plugin.Sink
	opened bool
	closed bool // closed since it last opened: a second close does nothing
}

func (n *nextSink) open(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.openLocked(ctx)
}

func (n *nextSink) openLocked(ctx context.Context) error {
	if !n.opened {
		if err := n.sink.Open(ctx); err != nil {
			return fmt.Errorf("open next sink: %w", err)
		}
		n.opened, n.closed = true, false
	}
	return nil
}

func (n *nextSink) append(ctx context.Context, batch []*event.Event) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.openLocked(ctx); err != nil {
		return err
	}
	return n.sink.Append(ctx, batch)
}

func (n *nextSink) close(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.opened, n.closed = false, true
	return n.sink.Close(ctx)
}
