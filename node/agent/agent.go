// Package agent is the agent tier: the sinks that ship a flow's events to collectors with one
// of three promises (DESIGN.md §6.1), and the ackedWriteAhead and diskFailover decorators.
//
// It is one delivery engine. A batch travels as one value (item): its events sealed into a
// chunk, the source position they end at, and how far it got. The chunker gathers events and
// seals chunks (by count, bytes or age, and at each position the source hands); the outbox is
// the ordered queue that keeps them until they are safe, backed by a write-ahead log
// (node/agent/wal); a strategy says what each mode does with a chunk:
//
//   - End to end (agentE2ESink, agentE2EChain, agentSink): every chunk is written to the log
//     before it is sent, and stays there until a collector acks it, which it does only once the
//     commit point holds the chunk. Chunks not acked are sent again, to the next collector of
//     the chain when the current one fails; a restart sends what the log still holds.
//   - Disk failover (agentDFOSink, agentDFOChain): chunks are sent from memory; while no
//     collector takes them they are spooled to the log and sent once one is back. Acked per
//     hop.
//   - Best effort (agentBESink, agentBEChain, rpcSink): chunks are sent; what no collector
//     takes is dropped and counted.
//
// The sender moves the outbox's chunks over one stream at a time to the first collector of
// the chain that works, and goes back to an earlier one after a backoff that grows from
// flume.agent.failover.backoff.initial to .max (1 s to 60 s). Whoever makes a chunk safe
// settles it: its position goes to the logical node's position store, then it leaves the log.
// Every mode delivers what it holds before the sink reports closed.
package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/flumego/flume/internal/tlsconf"
	"github.com/flumego/flume/node/agent/wal"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/position"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
	"github.com/flumego/flume/wire"
)

// Mode is an agent sink's delivery promise.
type Mode int

// The modes.
const (
	BestEffort Mode = iota
	DiskFailover
	EndToEnd
)

func (m Mode) String() string {
	return [...]string{"best effort", "disk failover", "end to end"}[m]
}

func (m Mode) wire() flumev1.Reliability {
	return [...]flumev1.Reliability{flumev1.Reliability_RELIABILITY_BEST_EFFORT,
		flumev1.Reliability_RELIABILITY_DISK_FAILOVER, flumev1.Reliability_RELIABILITY_END_TO_END}[m]
}

// Defaults of the options.
const (
	DefaultBatchCount = 1000
	DefaultBatchBytes = 1 << 20
	DefaultBatchWait  = 10 * time.Millisecond
	// walQueueBytes bounds the chunks handed to the log and not yet written: enough to keep
	// the disk busy during an fsync, little enough to keep the agent small.
	walQueueBytes = 2 << 20
)

// Options configure an agent sink.
type Options struct {
	Mode Mode
	// Targets are the collectors, host:port, in the order they are tried.
	Targets []string
	// BatchCount, BatchBytes and BatchWait bound a chunk: it is sealed when it holds
	// BatchCount events or BatchBytes bytes, or BatchWait after its first event.
	BatchCount int
	BatchBytes int
	BatchWait  time.Duration
	// Compression of the batches on the wire.
	Compression flumev1.Compression
	// Retransmit is how long a chunk may wait for its ack before the stream is given up and
	// the chunk sent again (flume.agent.logdir.retransmit).
	Retransmit time.Duration
	// BackoffInitial and BackoffMax bound the wait before a failed collector is tried again.
	BackoffInitial, BackoffMax time.Duration
	// LogDir is the directory of the sink's write-ahead log or spool.
	LogDir string
	// LogMaxBytes caps the log (flume.agent.logdir.maxbytes); 0 is no cap.
	LogMaxBytes int64
	// LogMinFree is the free space below which the log stops growing; 0 is the log's default.
	LogMinFree int64
	// Window is the number of batches in flight per stream; 0 is the wire default.
	Window int
}

// Sink is an agent sink. Append, SavePosition and Close are called from one goroutine (the
// flow's); the sender runs on its own.
type Sink struct {
	opts    Options
	bc      *plugin.BuildContext
	log     *walLog // end to end: the write-ahead log; disk failover: the spool; nil for best effort
	agent   string
	epoch   uint64
	enc     *wire.Encoder
	metrics agentMetrics

	chunks *chunker
	out    *outbox
	snd    *sender
	stopHK chan struct{} // stops housekeeping
	hkDone chan struct{}

	positions *position.Store // nil: no positions are kept
	posMu     sync.Mutex
	lastPos   []byte // the source position of the last chunk kept (acked, or in the log)
	posSeq    uint64 // the chunk that position came with
	fileAt    uint64 // the chunk of the position in the store

	released uint64 // the highest chunk released to the commit point (housekeeping's)
	opened   bool
	closed   bool
}

type agentMetrics struct {
	eventsIn, batchesSealed, bytesOut, batchesSent, batchesAcked, duplicates, retries *metrics.Counter
	rejected, failovers, dropped, droppedBatches, spooled, sendErrors                 *metrics.Counter
	latencyP50, latencyP99, inFlight, backlog                                         *metrics.Gauge
}

func newMetrics(r *metrics.Registry) agentMetrics {
	return agentMetrics{
		eventsIn: r.Counter("events_in"), batchesSealed: r.Counter("batches_sealed"),
		bytesOut: r.Counter("bytes_out"), batchesSent: r.Counter("batches_sent"),
		batchesAcked: r.Counter("batches_acked"), duplicates: r.Counter("duplicates_acked"),
		retries: r.Counter("batches_resent"), rejected: r.Counter("batches_rejected"),
		failovers: r.Counter("failovers"), dropped: r.Counter("events_dropped"),
		droppedBatches: r.Counter("batches_dropped"), spooled: r.Counter("batches_spooled"),
		sendErrors: r.Counter("send_errors"),
		latencyP50: r.Gauge("ack_latency_p50_us"),
		latencyP99: r.Gauge("ack_latency_p99_us"),
		inFlight:   r.Gauge("batches_in_flight"),
		backlog:    r.Gauge("batches_backlog"),
	}
}

// New returns an agent sink; it does no I/O.
func New(bc *plugin.BuildContext, opts Options) *Sink {
	if opts.BatchCount <= 0 {
		opts.BatchCount = DefaultBatchCount
	}
	opts.BatchCount = min(opts.BatchCount, wire.MaxEvents)
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = DefaultBatchBytes
	}
	if opts.BatchWait <= 0 {
		opts.BatchWait = DefaultBatchWait
	}
	if opts.Retransmit <= 0 {
		opts.Retransmit = 60 * time.Second
	}
	if opts.BackoffInitial <= 0 {
		opts.BackoffInitial = time.Second
	}
	if opts.BackoffMax < opts.BackoffInitial {
		opts.BackoffMax = max(60*time.Second, opts.BackoffInitial)
	}
	return &Sink{opts: opts, bc: bc, agent: bc.LogicalNode, metrics: newMetrics(bc.Counters().Sub("agent"))}
}

// errNoCommitLog is the error of an end-to-end sink without a commit point.
var errNoCommitLog = errors.New("end-to-end delivery needs a commit point: run the node with masters, or give it a data directory")

// Open opens the log (end to end, disk failover) and starts the sender. It does not wait for a
// collector: chunks wait in the log, or are spooled or dropped, until one answers.
func (s *Sink) Open(ctx context.Context) error {
	if s.opened {
		return nil
	}
	enc, err := wire.NewEncoder(s.opts.Compression)
	if err != nil {
		return err
	}
	s.enc = enc
	if s.agent == "" {
		s.agent = s.bc.PhysicalNode
	}
	next := uint64(1)
	if s.opts.Mode != BestEffort {
		if next, err = s.openLog(ctx); err != nil {
			enc.Close()
			return err
		}
	}
	s.openPositions()
	if err := s.loadPosition(); err != nil {
		if s.log != nil {
			_ = s.log.Close()
			s.log = nil
		}
		enc.Close()
		return err
	}
	// Chunks are sealed in an order that goes on from the last run's: a position kept by it
	// is ordered before every position of this run (a best-effort or disk-failover sink
	// numbers nothing on disk but its position).
	next = max(next, s.fileAt+1, s.posSeq+1)
	var strat strategy = bestEffort{}
	switch s.opts.Mode {
	case EndToEnd:
		strat = endToEnd{}
	case DiskFailover:
		strat = diskFailover{}
	}
	// The source runs at most a window ahead of the collector: end-to-end chunks beyond the
	// few kept in memory are read back from the log to be sent, and others would wait in
	// memory or the spool.
	ahead := cmp.Or(s.opts.Window, wire.DefaultWindow)
	m := s.metrics
	s.out = newOutbox(strat, s.log, s.keepPosition, s.bc.Log(), outboxMetrics{backlog: m.backlog, inFlight: m.inFlight,
		dropped: m.dropped, droppedBatches: m.droppedBatches, rejected: m.rejected, retries: m.retries,
		spooled: m.spooled}, ahead)
	s.chunks = &chunker{count: s.opts.BatchCount, bytes: s.opts.BatchBytes, wait: s.opts.BatchWait,
		grace: s.opts.Retransmit, enc: enc, log: s.bc.Log(),
		eventsIn: s.metrics.eventsIn, sealed: s.metrics.batchesSealed}
	s.chunks.init(next)
	s.out.onFail = s.chunks.fail
	s.snd = newSender(s.senderConfig(), s.out)
	s.chunks.emit = func(ctx context.Context, it *item) error { return s.out.push(ctx, s.snd.ctx.Done(), it) }
	s.out.recover()
	s.snd.start()
	s.stopHK, s.hkDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.hkDone)
		s.housekeeping(s.stopHK)
	}()
	s.opened = true
	return nil
}

// senderConfig is what the sender needs of the sink.
func (s *Sink) senderConfig() senderConfig {
	// A chunk waits for its ack at most the retransmit time, and never more than maxAckWait:
	// a collector that stopped answering is left quickly, whatever the retransmit time.
	opts := wire.ClientOptions{Window: s.opts.Window, AckTimeout: min(s.opts.Retransmit, maxAckWait)}
	if s.bc.TLS != nil {
		opts.Credentials = s.bc.TLS.ClientCredentials(tlsconf.NodeName)
	}
	return senderConfig{targets: s.opts.Targets, client: opts, log: s.bc.Log(), m: &s.metrics,
		hello: &flumev1.StreamHello{Agent: s.agent, Epoch: s.epoch, Physical: s.bc.PhysicalNode,
			Reliability: s.opts.Mode.wire()},
		backoffInitial: s.opts.BackoffInitial, backoffMax: s.opts.BackoffMax,
		dropPayloads: s.opts.Mode == EndToEnd}
}

// openLog opens the write-ahead log or spool and, for a log without an epoch, gets one. It
// returns the number of the next chunk the log takes.
func (s *Sink) openLog(ctx context.Context) (uint64, error) {
	if s.opts.LogDir == "" {
		return 0, plugin.Permanent(fmt.Errorf("%s needs a directory for its log: set flume.agent.logdir or give the node a data directory", s.opts.Mode))
	}
	sub := "e2e"
	if s.opts.Mode == DiskFailover {
		sub = "dfo"
	}
	l, err := wal.Open(wal.Options{Dir: filepath.Join(s.opts.LogDir, sub), MaxBytes: s.opts.LogMaxBytes,
		MinFreeBytes: s.opts.LogMinFree, MaxQueueBytes: walQueueBytes,
		Logger: s.bc.Log(), Metrics: s.bc.Counters().Sub("wal")})
	if err != nil {
		return 0, err
	}
	s.log = &walLog{Log: l}
	next := max(l.NextSeq(), 1)
	if s.opts.Mode != EndToEnd {
		return next, nil
	}
	m := l.Meta()
	if m.Epoch == 0 || m.Agent != s.agent {
		if s.bc.Commits == nil {
			_ = l.Close()
			return 0, errNoCommitLog
		}
		ep, err := s.bc.Commits.NewEpoch(ctx, s.agent)
		if err != nil {
			_ = l.Close()
			return 0, fmt.Errorf("agent %s: new epoch: %w", s.agent, err)
		}
		if len(l.Unreleased()) > 0 && m.Epoch != 0 {
			s.bc.Log().Warn("write-ahead log belongs to another agent; its chunks are sent under the new epoch", "log_agent", m.Agent)
		}
		if err := l.SetMeta(wal.Meta{Agent: s.agent, Epoch: ep}); err != nil {
			_ = l.Close()
			return 0, err
		}
		m = l.Meta()
	}
	s.epoch = m.Epoch
	return next, nil
}

// Append adds the events to the chunk being filled, sealing it when it is full.
func (s *Sink) Append(ctx context.Context, batch []*event.Event) error {
	if !s.opened || s.closed {
		return wire.ErrClosed
	}
	return s.chunks.add(ctx, batch)
}

// Close seals the last chunk and waits, within ctx, until every chunk is delivered: an
// end-to-end sink leaves what is not acked in its log for the next flow of the logical node, a
// disk-failover sink spools it, a best-effort sink drops it (counted).
func (s *Sink) Close(ctx context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	if !s.opened {
		return nil
	}
	err := s.chunks.close(ctx)
	if e := s.snd.stop(ctx); err == nil {
		err = e
	}
	close(s.stopHK)
	<-s.hkDone
	failed, _, pos, order := s.chunks.state()
	if err == nil && failed == nil && pos != nil && s.opts.Mode != BestEffort {
		// Every chunk sealed is acked, or kept in the log or spool for the next flow of the
		// logical node, which sends it: the next source reads on after the last one. An end-
		// to-end log keeps the position with the chunk too; a spool's is lost if this fails.
		if e := s.keepPosition(order, pos); e != nil {
			s.bc.Log().Warn("cannot store the source position at close; the source may read again what the log or spool holds",
				"mode", s.opts.Mode.String(), "err", e)
		}
	}
	if s.log != nil {
		if e := s.log.Close(); err == nil {
			err = e
		}
	}
	s.enc.Close()
	return err
}
