// Package commitpoint holds what the commit point of end-to-end delivery is (DESIGN.md §6.1)
// and the types its parties share: the delivery promise an agent asked for a chunk, the receipt
// a chunk carries through a collector's flow (Chunk), and the commit log interface (Log) that
// the masters (node.MasterCommits) and a node without masters (node/localcommit) implement.
// It imports nothing of the project's, so that sources, sinks, the node and the masters can
// all depend on it.
package commitpoint

import (
	"context"
	"errors"
	"sync"
)

// Reliability is the delivery promise an agent asked for a chunk (DESIGN.md §6.1).
type Reliability int

// The reliability levels.
const (
	BestEffort Reliability = iota + 1
	DiskFailover
	EndToEnd
)

func (r Reliability) String() string {
	switch r {
	case BestEffort:
		return "best effort"
	case DiskFailover:
		return "disk failover"
	case EndToEnd:
		return "end to end"
	}
	return "unknown"
}

// Result is the outcome of a chunk, as its agent learns it.
type Result int

// The outcomes, from best to worst: a chunk with several outcomes (a fan-out to two sinks)
// gets the worst.
const (
	// OK: the chunk is as safe as its reliability asks.
	OK Result = iota
	// Duplicate: the chunk was committed before; this copy was dropped.
	Duplicate
	// Retry: the chunk was not taken; the agent sends it again.
	Retry
	// Rejected: the chunk cannot be taken, however often it is sent.
	Rejected
)

// Chunk is a batch an agent sent, with its identity, passed to the sinks of a collector's flow
// with the context of Append (ChunkFrom). A sink that makes the chunk safe later than Append
// returns (an end-to-end sink commits it through the masters) calls Hold during Append and
// settles the hold once it knows the outcome. A chunk no sink holds is settled as OK when
// Append returns, so a flow whose sinks know nothing of chunks still acknowledges its agents.
type Chunk struct {
	Agent       string
	Epoch       uint64
	Seq         uint64
	Reliability Reliability

	mu      sync.Mutex
	pending int // the Append in progress plus the holds not yet released
	result  Result
	err     error
	done    func(Result, error)
}

// NewChunk returns a chunk whose outcome goes to done, called once from any goroutine.
func NewChunk(agent string, epoch, seq uint64, r Reliability, done func(Result, error)) *Chunk {
	return &Chunk{Agent: agent, Epoch: epoch, Seq: seq, Reliability: r, done: done, pending: 1}
}

// Hold makes the caller responsible for part of the chunk's outcome: the chunk is settled only
// once every hold is released, with the worst result. Call it during Append only; call the
// returned function exactly once (later calls do nothing).
func (c *Chunk) Hold() func(Result, error) {
	c.mu.Lock()
	c.pending++
	c.mu.Unlock()
	var once sync.Once
	return func(r Result, err error) {
		once.Do(func() { c.release(r, err) })
	}
}

// Appended is called by the source once Append of the chunk's batch returned, with its error.
func (c *Chunk) Appended(err error) {
	r := OK
	if err != nil {
		r = Retry
	}
	c.release(r, err)
}

func (c *Chunk) release(r Result, err error) {
	c.mu.Lock()
	if r > c.result || (r == c.result && c.err == nil) {
		c.result, c.err = r, err
	}
	c.pending--
	fire := c.pending == 0
	res, e := c.result, c.err
	c.mu.Unlock()
	if fire && c.done != nil {
		if res != OK && e == nil {
			e = errors.New("chunk not delivered")
		}
		c.done(res, e)
	}
}

type chunkKey struct{}

// WithChunk returns ctx carrying c, for Append.
func WithChunk(ctx context.Context, c *Chunk) context.Context {
	return context.WithValue(ctx, chunkKey{}, c)
}

// ChunkFrom returns the chunk the batch being appended belongs to, nil when it comes from no
// agent chunk.
func ChunkFrom(ctx context.Context) *Chunk {
	c, _ := ctx.Value(chunkKey{}).(*Chunk)
	return c
}

// FileLength is the length of a collector file that holds only committed chunks.
type FileLength struct {
	File   string
	Length int64
}

// Commit is one chunk a collector asks to commit: its identity (Agent empty for data that
// has none) and the lengths of the files it was written to, once it is in them.
type Commit struct {
	Agent      string
	Epoch, Seq uint64
	Files      []FileLength
}

// Outcome is how far a commit went: Committed chunks from the start were committed; then
// the next one, if any, was a duplicate or stale.
type Outcome struct {
	Committed int
	Duplicate bool
	Stale     bool
}

// Log is the commit point of end-to-end delivery (DESIGN.md §6.1): the masters, or a
// node's own log when it runs without masters.
type Log interface {
	// Commit commits chunks in order and stops at the first one committed already, or from an
	// agent epoch older than the agent's current one.
	Commit(ctx context.Context, collector string, chunks []Commit) (Outcome, error)
	// FileLengths returns the committed lengths of a collector's unfinished files.
	FileLengths(ctx context.Context, collector string) (map[string]int64, error)
	// FinishFiles forgets the lengths of files a collector finished.
	FinishFiles(ctx context.Context, collector string, files []string) error
	// NewEpoch gives an agent its next epoch.
	NewEpoch(ctx context.Context, agent string) (uint64, error)
	// Committed returns which of seqs are committed for an agent epoch.
	Committed(ctx context.Context, agent string, epoch uint64, seqs []uint64) ([]uint64, error)
	// Release says the agent will never send the chunks of epoch up to through again.
	Release(ctx context.Context, agent string, epoch, through uint64) error
}
