// Package agent is the agent tier: the sinks that ship a flow's events to collectors with one
// of three promises (DESIGN.md §6.1).
//
//   - End to end (agentE2ESink, agentE2EChain, agentSink): every chunk is written to the
//     agent's write-ahead log (node/agent/wal, group commit with fsync) before it is sent, and
//     stays there until a collector acks it, which it does only once the masters hold the chunk
//     as committed. Chunks not acked are sent again, to the next collector of the chain when
//     the current one fails; a restart sends what the log still holds.
//   - Disk failover (agentDFOSink, agentDFOChain): chunks are sent from memory; while no
//     collector takes them they are spooled to the disk log and sent once one is back. Acked per
//     hop.
//   - Best effort (agentBESink, agentBEChain, rpcSink): chunks are sent; what no collector
//     takes is dropped and counted.
//
// A chain is a list of collectors tried in order: the agent sends to the first one that works
// and goes back to an earlier one after a backoff that grows from
// flume.agent.failover.backoff.initial to .max (1 s to 60 s).
package agent

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/flumego/flume/collector/wire"
	"github.com/flumego/flume/node/agent/wal"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/position"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
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
	// memCache is how many sealed chunks an end-to-end sink keeps in memory besides its log;
	// older ones are read back from the log when they are sent.
	memCache = 8
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

// Sink is an agent sink. Append and Close are called from one goroutine (the flow's); the
// sink's sender runs on its own.
type Sink struct {
	opts    Options
	bc      *plugin.BuildContext
	log     *walLog // end to end: the write-ahead log; disk failover: the spool; nil for best effort
	agent   string
	epoch   uint64
	enc     *wire.Encoder
	metrics agentMetrics

	mu    sync.Mutex
	raw   []byte // the chunk being filled, in event binary encoding
	count int
	pos   []byte // the source position after the events of the chunk being filled

	spoolMu  sync.Mutex
	spoolSeq uint64 // the last number given to a spooled chunk

	positional bool // the source hands positions (SavePosition): chunks end at batch ends
	sealedBare bool // a chunk was sealed without a position since the last SavePosition

	positions   *position.Store // nil: no positions are kept
	sealedPos   []byte          // the position of the last chunk sealed with one
	sealedOrder uint64          // that chunk's order

	posMu   sync.Mutex
	lastPos []byte // the source position of the last chunk kept (acked, or in the log)
	posSeq  uint64 // the chunk that position came with
	fileAt  uint64 // the chunk of the position in the position file
	timer   *time.Timer
	nextSeq uint64
	failed  error // a write-ahead log failure: the sink takes nothing more

	snd    *sender
	opened bool
	closed bool
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
	return &Sink{opts: opts, bc: bc, agent: bc.LogicalNode, nextSeq: 1,
		metrics: newMetrics(bc.Counters().Sub("agent"))}
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
	if s.opts.Mode != BestEffort {
		if err := s.openLog(ctx); err != nil {
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
	s.nextSeq = max(s.nextSeq, s.fileAt+1, s.posSeq+1)
	s.snd = newSender(s)
	s.snd.start()
	s.opened = true
	return nil
}

// openLog opens the write-ahead log or spool and, for a log without an epoch, gets one.
func (s *Sink) openLog(ctx context.Context) error {
	if s.opts.LogDir == "" {
		return plugin.Permanent(fmt.Errorf("%s needs a directory for its log: set flume.agent.logdir or give the node a data directory", s.opts.Mode))
	}
	sub := "e2e"
	if s.opts.Mode == DiskFailover {
		sub = "dfo"
	}
	l, err := wal.Open(wal.Options{Dir: filepath.Join(s.opts.LogDir, sub), MaxBytes: s.opts.LogMaxBytes,
		MinFreeBytes: s.opts.LogMinFree, MaxQueueBytes: walQueueBytes,
		Logger: s.bc.Log(), Metrics: s.bc.Counters().Sub("wal")})
	if err != nil {
		return err
	}
	s.log = &walLog{Log: l}
	s.nextSeq = max(l.NextSeq(), 1)
	if s.opts.Mode != EndToEnd {
		return nil
	}
	m := l.Meta()
	if m.Epoch == 0 || m.Agent != s.agent {
		if s.bc.Commits == nil {
			_ = l.Close()
			return errNoCommitLog
		}
		ep, err := s.bc.Commits.NewEpoch(ctx, s.agent)
		if err != nil {
			_ = l.Close()
			return fmt.Errorf("agent %s: new epoch: %w", s.agent, err)
		}
		if len(l.Unreleased()) > 0 && m.Epoch != 0 {
			s.bc.Log().Warn("write-ahead log belongs to another agent; its chunks are sent under the new epoch", "log_agent", m.Agent)
		}
		if err := l.SetMeta(wal.Meta{Agent: s.agent, Epoch: ep}); err != nil {
			_ = l.Close()
			return err
		}
		m = l.Meta()
	}
	s.epoch = m.Epoch
	return nil
}

// Append adds the events to the chunk being filled, sealing it when it is full.
func (s *Sink) Append(ctx context.Context, batch []*event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return s.failed
	}
	if s.closed {
		return wire.ErrClosed
	}
	for _, e := range batch {
		// A full chunk is sealed before the next event, not after the last one of the
		// batch: the chunk that ends a batch waits for the source's position (SavePosition).
		if s.count >= s.opts.BatchCount || len(s.raw) >= s.opts.BatchBytes {
			if err := s.sealLocked(ctx); err != nil {
				return err
			}
		}
		s.raw = event.AppendBinary(s.raw, e)
		s.count++
	}
	s.metrics.eventsIn.Add(int64(len(batch)))
	if s.count > 0 && s.timer == nil && !s.positional {
		// A flow whose source hands positions seals its chunks at batch ends (SavePosition,
		// right after this Append); a timer sealing them in between would part a position
		// from the chunk it belongs to.
		s.timer = time.AfterFunc(s.opts.BatchWait, s.flushTimer)
	}
	return nil
}

// flushTimer seals a chunk that waited BatchWait.
func (s *Sink) flushTimer() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timer = nil
	if s.count > 0 && !s.closed && s.failed == nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.Retransmit)
		defer cancel()
		if err := s.sealLocked(ctx); err != nil {
			s.bc.Log().Error("seal chunk", "err", err)
		}
	}
}

// sealLocked turns the events gathered into a chunk and hands it on; s.mu is held.
func (s *Sink) sealLocked(ctx context.Context) error {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	req := &flumev1.AppendRequest{Seq: s.nextSeq, Created: time.Now().UnixNano()}
	if err := s.enc.EncodeRaw(req, s.raw, s.count); err != nil {
		return err
	}
	it := &item{seq: req.Seq, order: req.Seq, count: s.count, req: req, pos: s.pos}
	s.sealedBare = s.pos == nil
	if s.pos != nil {
		s.sealedPos, s.sealedOrder = s.pos, req.Seq
	}
	if s.opts.Mode == EndToEnd {
		it.logSeq = req.Seq
	}
	s.raw, s.count, s.pos = s.raw[:0], 0, nil
	s.nextSeq++
	s.metrics.batchesSealed.Add(1)
	if s.opts.Mode == EndToEnd {
		p, err := s.logChunk(ctx, req, it.pos)
		if err != nil {
			s.failed = fmt.Errorf("write-ahead log: %w", err)
			return s.failed
		}
		it.pending = p
	}
	return s.snd.enqueue(ctx, it)
}

// logChunk appends a request to the log under its own number, with the source position after
// its events.
func (s *Sink) logChunk(ctx context.Context, req *flumev1.AppendRequest, pos []byte) (wal.Pending, error) {
	return s.logChunkAt(ctx, req.Seq, req, pos)
}

// nextSpoolSeq returns the next number of the disk-failover spool.
func (s *Sink) nextSpoolSeq() uint64 {
	s.spoolMu.Lock()
	defer s.spoolMu.Unlock()
	s.spoolSeq = max(s.spoolSeq+1, s.log.NextSeq())
	return s.spoolSeq
}

// logChunkAt appends a request to the log as chunk seq.
func (s *Sink) logChunkAt(ctx context.Context, seq uint64, req *flumev1.AppendRequest, pos []byte) (wal.Pending, error) {
	data := binary.AppendUvarint(make([]byte, 0, 10+len(pos)+proto.Size(req)), uint64(len(pos)))
	data = append(data, pos...)
	data, err := proto.MarshalOptions{}.MarshalAppend(data, req)
	if err != nil {
		return nil, err
	}
	return s.log.Append(ctx, wal.Chunk{Seq: seq, Count: req.Count, Created: req.Created, Data: data})
}

// Close seals the last chunk and waits, within ctx, until every chunk is acknowledged: an
// end-to-end sink leaves what is not in its log for the next flow of the logical node, a
// disk-failover sink spools it, a best-effort sink drops it (counted).
func (s *Sink) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	var err error
	if s.opened && s.count > 0 && s.failed == nil {
		err = s.sealLocked(ctx)
	}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.closed = true
	s.mu.Unlock()
	if !s.opened {
		return err
	}
	if e := s.snd.stop(ctx); err == nil {
		err = e
	}
	s.mu.Lock()
	failed, pos, order := s.failed, s.sealedPos, s.sealedOrder
	s.mu.Unlock()
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
	if s.enc != nil {
		s.enc.Close()
	}
	return err
}

// walLog is the log with a decoder of its chunks.
type walLog struct {
	*wal.Log
}

// request reads a chunk back as the request it was, with the source position it carries.
func (l *walLog) request(seq uint64) (*flumev1.AppendRequest, []byte, error) {
	c, err := l.Read(seq)
	if err != nil {
		return nil, nil, err
	}
	n, k := binary.Uvarint(c.Data)
	if k <= 0 || uint64(len(c.Data)-k) < n {
		return nil, nil, fmt.Errorf("chunk %d of the log does not decode: bad position length", seq)
	}
	pos := slices.Clone(c.Data[k : k+int(n)]) // not a slice of the chunk: it outlives it
	req := &flumev1.AppendRequest{}
	if err := proto.Unmarshal(c.Data[k+int(n):], req); err != nil {
		return nil, nil, fmt.Errorf("chunk %d of the log does not decode: %w", seq, err)
	}
	if n == 0 {
		pos = nil
	}
	return req, pos, nil
}
