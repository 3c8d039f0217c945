package flow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flumego/flume/commitpoint"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
)

// State is the state of a logical node, as classic Flume reported it. The driver moves through
// CONFIGURING, ACTIVE, CLOSING and ends in IDLE or ERROR; the master adds HELLO, LOST and
// DECOMMISSIONED from what it sees of heartbeats.
type State int

// The states, numbered as classic Flume's wire format numbered them.
const (
	StateHello State = iota
	StateIdle
	StateConfiguring
	StateActive
	StateError
	StateLost
	StateDecommissioned
	StateClosing
)

var stateNames = [...]string{"HELLO", "IDLE", "CONFIGURING", "ACTIVE", "ERROR", "LOST", "DECOMMISSIONED", "CLOSING"}

// String returns the classic upper-case name of the state.
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Status is a snapshot of a driver.
type Status struct {
	State State
	// Err is the error that put the driver in ERROR (with a stack if a plugin panicked).
	Err error
	// Events and Batches count what the sink accepted.
	Events, Batches int64
	// Since is when the driver entered State.
	Since time.Time
	// Note says why the flow is held up (plugin.Conditioner), empty when it is not.
	Note string
}

// DriverOptions tune a driver. The zero value is usable.
type DriverOptions struct {
	Logger *slog.Logger
	// CloseTimeout bounds the graceful close of the source and sink when the source ends
	// (flume.node.close.timeout, default 30 s).
	CloseTimeout time.Duration
}

// Driver pumps events from a flow's source into its sink on one goroutine: Next, Append, Ack,
// repeated. A plugin that panics puts the driver in ERROR with the stack; it never takes the
// process down.
type Driver struct {
	flow *Flow
	log  *slog.Logger
	opts DriverOptions

	mu     sync.Mutex
	state  State
	err    error
	since  time.Time
	start  sync.Once
	done   chan struct{}
	events atomic.Int64
	batch  atomic.Int64

	stopping   bool               // Stop was called (guarded by mu)
	ended      bool               // the source reached its end (the driver's goroutine only)
	stopSource context.CancelFunc // interrupts the opens and Next: a graceful stop
	stopAll    context.CancelFunc // also ends Append and Open: a hard stop
	srcCtx     context.Context
	allCtx     context.Context
}

// NewDriver returns a driver for f, in state IDLE, not started.
func NewDriver(f *Flow, opts DriverOptions) *Driver {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CloseTimeout <= 0 {
		opts.CloseTimeout = 30 * time.Second
	}
	d := &Driver{flow: f, log: opts.Logger.With("node", f.Name), opts: opts, done: make(chan struct{}),
		state: StateIdle, since: time.Now()}
	d.allCtx, d.stopAll = context.WithCancel(context.Background())
	d.srcCtx, d.stopSource = context.WithCancel(d.allCtx)
	return d
}

// Start starts the driver's goroutine. It returns at once; Done is closed when the driver has
// stopped. Calling Start again does nothing.
func (d *Driver) Start() {
	d.start.Do(func() { go d.run() })
}

// Done is closed when the driver has finished: the source ended, an error occurred, or Stop.
func (d *Driver) Done() <-chan struct{} { return d.done }

// Stop stops the driver gracefully: the source's Next is interrupted, the source is closed,
// what it still hands out after Close (a held partial line) is delivered, and then the sink is
// closed (flushed). If ctx ends first, the delivery in flight is cancelled too. Stop returns the
// driver's error, if it ended in ERROR. Stop on a driver that was never started returns at once.
func (d *Driver) Stop(ctx context.Context) error {
	started := true
	d.start.Do(func() { // never started: nothing to stop
		started = false
		close(d.done)
	})
	if started {
		d.mu.Lock()
		d.stopping = true
		d.mu.Unlock()
		d.stopSource()
		select {
		case <-d.done:
		case <-ctx.Done():
			d.stopAll()
			select {
			case <-d.done:
			case <-time.After(hardStopGrace):
				// A plugin ignores cancellation. Leave its goroutine behind rather than hang
				// the node: the logical node is reported in ERROR.
				d.setState(StateError, fmt.Errorf("flow did not stop within %v of being cancelled: a component ignores cancellation", hardStopGrace))
			}
		}
	}
	d.stopAll()
	return d.Status().Err
}

// hardStopGrace is how long Stop waits for the driver after cancelling everything.
const hardStopGrace = 5 * time.Second

func (d *Driver) isStopping() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stopping
}

// Run starts the driver and waits for it to finish. When ctx is done it stops gracefully.
func (d *Driver) Run(ctx context.Context) error {
	d.Start()
	select {
	case <-d.done:
	case <-ctx.Done():
		stopCtx, cancel := context.WithTimeout(context.Background(), d.opts.CloseTimeout)
		defer cancel()
		return d.Stop(stopCtx)
	}
	return d.Status().Err
}

// Status returns a snapshot of the driver.
func (d *Driver) Status() Status {
	d.mu.Lock()
	st := Status{State: d.state, Err: d.err, Events: d.events.Load(), Batches: d.batch.Load(), Since: d.since}
	d.mu.Unlock()
	// The conditions take the components' own locks (and may stat a disk): not under d.mu,
	// which the driver's goroutine needs to change state.
	if st.State == StateActive {
		st.Note = conditionOf(d.flow.Sink)
		if cd, ok := d.flow.Source.(plugin.Conditioner); ok && st.Note == "" {
			st.Note = cd.Condition()
		}
	}
	return st
}

// conditionOf returns the first note of a component of the sink tree under snk, depth first:
// a sink's own, then those of the sinks it feeds (through forwarding decorators, the branches
// of a fan-out or failover, the current sub-sink of a roll).
func conditionOf(snk plugin.Sink) string {
	if snk == nil {
		return ""
	}
	if cd, ok := snk.(plugin.Conditioner); ok {
		if note := cd.Condition(); note != "" {
			return note
		}
	}
	switch s := snk.(type) {
	case interface{ parts() []plugin.Sink }:
		for _, p := range s.parts() {
			if note := conditionOf(p); note != "" {
				return note
			}
		}
	case plugin.Forwarder:
		return conditionOf(s.Forwards())
	}
	return ""
}

func (d *Driver) setState(s State, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state != s {
		d.log.Debug("state", "from", d.state, "to", s)
	}
	d.state, d.since = s, time.Now()
	if err != nil {
		d.err = err
	}
}

func (d *Driver) run() {
	defer close(d.done)
	defer d.stopAll()
	d.setState(StateConfiguring, nil)
	err := d.openAndPump()
	d.setState(StateClosing, nil)
	closeErr := d.closeAll()
	// Errors are recorded in the status, not logged: whoever runs the driver reports them.
	switch {
	case err != nil:
		d.setState(StateError, err)
	case closeErr != nil:
		d.setState(StateError, closeErr)
	default:
		d.setState(StateIdle, nil)
	}
}

// openAndPump opens the sink, then the source (downstream first), and pumps until the source
// ends or the driver is stopped. A graceful stop is not an error.
func (d *Driver) openAndPump() error {
	f := d.flow
	if err := guard("sink open", func() error { return f.Sink.Open(d.srcCtx) }); err != nil {
		return stopped(d.srcCtx, fmt.Errorf("open sink: %w", err))
	}
	if err := d.resume(); err != nil {
		return stopped(d.srcCtx, err)
	}
	if err := guard("source open", func() error { return f.Source.Open(d.srcCtx) }); err != nil {
		return stopped(d.srcCtx, fmt.Errorf("open source: %w", err))
	}
	d.setState(StateActive, nil)
	acker, _ := f.Source.(plugin.Acker)
	for {
		if d.srcCtx.Err() != nil && d.isStopping() {
			// Stop was requested: do not keep reading a source that still has data.
			return d.drain(acker)
		}
		var events []*event.Event
		err := guard("source next", func() (err error) {
			events, err = f.Source.Next(d.srcCtx)
			return err
		})
		if errors.Is(err, io.EOF) {
			d.ended = true
			return nil
		}
		if err != nil {
			if d.isStopping() {
				return d.drain(acker)
			}
			return stopped(d.srcCtx, fmt.Errorf("source: %w", err))
		}
		if err := d.deliver(events, acker); err != nil {
			return err
		}
	}
}

// deliver appends one batch and acknowledges it to the source.
func (d *Driver) deliver(events []*event.Event, acker plugin.Acker) error {
	if len(events) == 0 || d.allCtx.Err() != nil {
		return nil // nothing to deliver, or a hard stop: deliver nothing more
	}
	ctx := d.allCtx
	var chunk *commitpoint.Chunk
	if cs, ok := d.flow.Source.(plugin.ChunkSource); ok {
		if chunk = cs.Chunk(); chunk != nil {
			ctx = commitpoint.WithChunk(ctx, chunk)
		}
	}
	err := guard("sink append", func() error { return d.flow.Sink.Append(ctx, events) })
	if chunk != nil {
		chunk.Appended(err)
	}
	if err != nil {
		return stopped(d.allCtx, fmt.Errorf("sink: %w", err))
	}
	d.events.Add(int64(len(events)))
	d.batch.Add(1)
	if acker != nil {
		if err := guard("source ack", func() error { return acker.Ack(d.allCtx) }); err != nil {
			return stopped(d.allCtx, fmt.Errorf("source ack: %w", err))
		}
	}
	return d.savePosition()
}

// positions returns where the source's positions are kept, nil if nowhere.
func (d *Driver) positions() (plugin.Checkpointer, plugin.PositionStore) {
	ps := d.flow.positions
	if ps == nil {
		ps = positionsFor(d.flow.Source, d.flow.Sink, nil, nil)
	}
	cp, _ := d.flow.Source.(plugin.Checkpointer)
	if ps == nil || cp == nil {
		return nil, nil
	}
	return cp, ps
}

// resume claims the positions for the flow's source and starts a Checkpointer source from the
// last one kept.
func (d *Driver) resume() error {
	cp, ps := d.positions()
	if ps == nil {
		return nil
	}
	if err := guard("claim positions", func() error { return ps.ClaimPositions(d.flow.SourceSpec) }); err != nil {
		return fmt.Errorf("source positions: %w", err)
	}
	if pos := ps.LastPosition(); pos != nil {
		if err := guard("source resume", func() error { return cp.Resume(pos) }); err != nil {
			return fmt.Errorf("resume source: %w", err)
		}
	}
	return nil
}

// savePosition hands the source's position after the batch just delivered to the sink, which
// keeps it with that batch's last event, or to the position file.
func (d *Driver) savePosition() error {
	cp, ps := d.positions()
	if ps == nil || d.allCtx.Err() != nil {
		return nil
	}
	if err := guard("save position", func() error { return ps.SavePosition(d.allCtx, cp.Position()) }); err != nil {
		return stopped(d.allCtx, fmt.Errorf("save position: %w", err))
	}
	return nil
}

// maxDrainBatches bounds what a stopping driver takes from a closed source, in case a source
// keeps producing after Close.
const maxDrainBatches = 1000

// drain closes the source of a stopping driver and delivers what the source still hands out
// after Close, such as a partial last line it held, until it reports its end.
func (d *Driver) drain(acker plugin.Acker) error {
	src := d.flow.Source
	if err := guard("source close", func() error { return src.Close(d.allCtx) }); err != nil {
		return fmt.Errorf("close source: %w", err)
	}
	for range maxDrainBatches {
		if d.allCtx.Err() != nil {
			return nil // a hard stop: what the source still held is given up
		}
		var events []*event.Event
		err := guard("source next", func() (err error) {
			events, err = src.Next(d.allCtx)
			return err
		})
		if err != nil {
			// io.EOF, or the closed source's error: it has ended either way.
			return nil
		}
		if err := d.deliver(events, acker); err != nil {
			return err
		}
	}
	d.log.Warn("source kept producing after close; stopped draining it", "batches", maxDrainBatches)
	return nil
}

// stopped returns nil for an error caused by stopping, err otherwise.
func stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		// The stop interrupted the call; its error is a consequence of the stop.
		return nil
	}
	return err
}

// closeAll closes the source, then the sink (upstream first, so decorators flush into sinks
// that are still open), within the close timeout.
func (d *Driver) closeAll() error {
	// Derived from the driver's hard-stop context: a graceful close gets the close timeout, a
	// hard stop gets nothing more.
	ctx, cancel := context.WithTimeout(d.allCtx, d.opts.CloseTimeout)
	defer cancel()
	srcErr := guard("source close", func() error { return d.flow.Source.Close(ctx) })
	sinkErr := guard("sink close", func() error { return d.flow.Sink.Close(ctx) })
	if fp, ok := d.flow.positions.(*filePositions); ok && sinkErr == nil {
		// The sink has flushed what it was given: the last position is exact. A source that
		// reached its end starts over next time, as it did on its first run.
		sinkErr = fp.flush(d.ended)
	}
	if srcErr != nil {
		srcErr = fmt.Errorf("close source: %w", srcErr)
	}
	if sinkErr != nil {
		sinkErr = fmt.Errorf("close sink: %w", sinkErr)
	}
	return errors.Join(srcErr, sinkErr)
}

// PanicError is the error a driver records when a plugin panics.
type PanicError struct {
	Where string // what the driver was calling: "sink append"
	Value any    // the panic value
	Stack []byte
}

// Error includes the stack, so a status shows where the plugin failed.
func (p *PanicError) Error() string {
	return fmt.Sprintf("panic in %s: %v\n%s", p.Where, p.Value, p.Stack)
}

// guard calls fn, turning a panic into a *PanicError.
func guard(where string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Where: where, Value: r, Stack: debug.Stack()}
		}
	}()
	return fn()
}
