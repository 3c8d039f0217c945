// Package plugin defines what a source, a sink, a decorator and an output format are, what a
// builder receives, and the registry that maps component names to builders.
//
// Builders do no I/O: they check and keep their arguments. I/O starts in Open. That lets the
// master validate a config by building it, and lets a bad config fail before anything runs.
package plugin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/flumego/flume/commitpoint"
	"github.com/flumego/flume/internal/tlsconf"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/position"
	"github.com/flumego/flume/node/spec"
)

// Source produces events.
//
// The flow driver calls every method from one goroutine, never two at once: Open once, then Next
// repeatedly, then Close. To stop a source it cancels the ctx of the Next in progress, calls
// Close, and then calls Next until it returns an error, delivering what the source still had
// (a partial last line held back). Close may be called without Open, and twice.
type Source interface {
	// Open prepares the source. ctx bounds the open attempt only; goroutines the source starts
	// use a context of their own, cancelled and waited for in Close.
	Open(ctx context.Context) error
	// Next blocks until it has at least one event and returns a batch. It returns io.EOF when
	// the source has ended (a file read to its end), and ctx.Err() promptly once ctx is done,
	// keeping what it has read for a later call. The batch and its events stay valid until the
	// next call to Next or Close: a source may reuse them. After Close, Next returns what the
	// source still holds, then io.EOF (or another error).
	Next(ctx context.Context) ([]*event.Event, error)
	// Close releases the source.
	Close(ctx context.Context) error
}

// Sink consumes events.
//
// Open, Append and Close are called from one goroutine at a time, in that order; Append is never
// called concurrently with itself. Close may be called without Open, and twice.
type Sink interface {
	// Open prepares the sink: opens files, dials peers. ctx bounds the attempt.
	Open(ctx context.Context) error
	// Append delivers a batch. The events are read-only: a decorator that changes an event
	// works on event.Derive(). The sink owns nothing after Append returns; it Clones what it
	// keeps. A nil error means the batch is delivered as far as this sink promises.
	Append(ctx context.Context, batch []*event.Event) error
	// Close flushes and releases the sink; it returns when what was appended is durable or
	// recoverable.
	Close(ctx context.Context) error
}

// Acker is implemented by sources that want to know when a batch is safe downstream, to
// move a checkpoint (a tail offset). The driver calls Ack after Append of the batch last
// returned by Next succeeded, before the next call to Next.
type Acker interface {
	Ack(ctx context.Context) error
}

// Format encodes events into a byte stream: a file, the console.
type Format interface {
	// NewEncoder returns an encoder writing to w. An encoder serves one stream and is used
	// from one goroutine.
	NewEncoder(w io.Writer) (Encoder, error)
}

// Encoder writes events to its stream in one format.
type Encoder interface {
	// Encode writes e. It may buffer.
	Encode(e *event.Event) error
	// Flush writes out what is buffered (and, for container formats, ends the block).
	Flush() error
	// Close writes any trailer and flushes. It does not close the underlying writer.
	Close() error
}

// SourceBuilder builds a source from its bound arguments. It does no I/O.
type SourceBuilder func(bc *BuildContext, args *spec.Args) (Source, error)

// SinkBuilder builds a sink from its bound arguments. It does no I/O.
type SinkBuilder func(bc *BuildContext, args *spec.Args) (Sink, error)

// DecoratorBuilder builds a decorator that passes what it produces to next. It does no I/O.
// The decorator owns next: it opens, appends to and closes it.
type DecoratorBuilder func(bc *BuildContext, args *spec.Args, next Sink) (Sink, error)

// FormatBuilder builds an output format from its bound arguments.
type FormatBuilder func(bc *BuildContext, args *spec.Args) (Format, error)

// BuildContext is what a builder receives besides its arguments. Fields may be zero: a builder
// uses the accessor methods, which supply safe defaults.
type BuildContext struct {
	// Logger is tagged with the logical node and component.
	Logger *slog.Logger
	// LogicalNode and PhysicalNode name where the flow runs.
	LogicalNode  string
	PhysicalNode string
	// Place is where the component sits in its flow ("sink", "sink.fanout1.value"), as its
	// metrics are named; a rebuilt component (a roll's next sub-sink) gets the same place.
	Place string
	// DataDir is the node's data directory (positions, logs).
	DataDir string
	// Metrics is the metrics view of where the component sits in its flow ("agentA.sink");
	// a component registers its counters under its own name: bc.Counters().Sub("tail").
	Metrics *metrics.Registry
	// Props are the node's configuration properties (flume-site.xml names).
	Props map[string]string
	// Registry builds nested components (output formats, sub-sinks).
	Registry *Registry
	// Stdin and Stdout are the process's standard streams (os.Stdin, os.Stdout by default).
	Stdin  io.Reader
	Stdout io.Writer
	// Chokes is the node's choke limiter table; nil means no limits are set.
	Chokes *ChokeTable
	// Commits is the commit point of end-to-end delivery: the masters through the node's
	// session, or the node's own log when it runs without masters. Nil in flows built only
	// to be checked.
	Commits commitpoint.Log
	// Validating is set when a flow is built only to check it, as the master checks a
	// configuration before accepting it: what is built will never be opened.
	Validating bool
	// TLS is the node's certificate material (flume.tls.*): collector sources serve batches
	// over TLS with it, agent sinks dial collectors with it, syslog TCP sources offer it. Nil
	// when TLS is off.
	TLS *tlsconf.Provider
	// ClientAuth says whether the node's servers require client certificates
	// (flume.tls.client.auth); a collector source then takes batches from nodes only.
	ClientAuth tlsconf.ClientAuth
	// Positions is the logical node's position store, kept across the versions of its
	// config; nil when the node keeps no positions (no data directory).
	Positions *position.Store
}

// Log returns the logger, or a discarding one.
func (bc *BuildContext) Log() *slog.Logger {
	if bc == nil || bc.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return bc.Logger
}

// In returns the standard input to use.
func (bc *BuildContext) In() io.Reader {
	if bc == nil || bc.Stdin == nil {
		return os.Stdin
	}
	return bc.Stdin
}

// Out returns the standard output to use.
func (bc *BuildContext) Out() io.Writer {
	if bc == nil || bc.Stdout == nil {
		return os.Stdout
	}
	return bc.Stdout
}

// Prop returns property name, or def if it is not set.
func (bc *BuildContext) Prop(name, def string) string {
	if bc != nil {
		if v, ok := bc.Props[name]; ok {
			return v
		}
	}
	return def
}

// PropInt returns integer property name, or def if it is unset or not an integer. Properties
// are validated when the node starts, so a bad value does not reach here.
func (bc *BuildContext) PropInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(bc.Prop(name, ""), 10, 64); err == nil {
		return v
	}
	return def
}

// PropMillis returns a property holding milliseconds as a duration, or def.
func (bc *BuildContext) PropMillis(name string, def time.Duration) time.Duration {
	if v, err := strconv.ParseInt(bc.Prop(name, ""), 10, 64); err == nil {
		return time.Duration(v) * time.Millisecond
	}
	return def
}

// MaxEventSize returns flume.event.max.size.bytes.
func (bc *BuildContext) MaxEventSize() int {
	n := bc.PropInt("flume.event.max.size.bytes", event.DefaultMaxSize)
	if n <= 0 || n > event.MaxSizeLimit {
		return event.DefaultMaxSize
	}
	return int(n)
}

// Counters returns the metrics registry, never nil.
func (bc *BuildContext) Counters() *metrics.Registry {
	if bc == nil || bc.Metrics == nil {
		return metrics.NewRegistry()
	}
	return bc.Metrics
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as permanent: retrying decorators (insistentOpen, insistentAppend) give
// up at once instead of backing off. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Checkpointer is a source that can resume where it stopped: a file source whose position is
// kept with the events it read, so that a restart neither reads a line twice nor skips one.
type Checkpointer interface {
	// Position returns the position after every event Next has returned so far, as opaque
	// bytes.
	Position() []byte
	// Resume makes the source start from pos, a Position of an earlier run, instead of its
	// beginning. It is called before Open; a pos that no longer fits (the file was replaced)
	// is ignored, with a log line.
	Resume(pos []byte) error
}

// PositionStore keeps a flow's source positions: an agent sink, which keeps each position with
// the data it ends (in its log, or once its collector acked it), or the logical node's position
// file for sinks that cannot. Every keeper writes the logical node's one store
// (BuildContext.Positions), so a new config version finds the position whatever the shape of
// its sink. With a Checkpointer source, the driver claims the positions for its source, resumes
// the source from the last position, and saves a position after each batch it delivered.
type PositionStore interface {
	// ClaimPositions makes the kept positions those of source, the canonical spec of the
	// flow's source. A position kept for another source is dropped (with a log line): the new
	// source starts as configured. It is called after Open, before LastPosition.
	ClaimPositions(source string) error
	// SavePosition records pos as the position after every event appended so far: it is
	// kept once those events are as safe as the sink promises.
	SavePosition(ctx context.Context, pos []byte) error
	// LastPosition returns the last position whose events were kept, after Open; nil if none.
	LastPosition() []byte
}

// Forwarder is a decorator that hands every batch to the sink it feeds within Append and keeps
// no events between Appends. A position saved after its Append belongs to what that sink was
// given, so the flow's positions are kept by the sink behind its forwarders: a decorator
// added to or removed from an agent's flow does not move them.
type Forwarder interface {
	// Forwards returns the sink the decorator feeds; nil if this decorator keeps events
	// after all (a sampler that sends on Close).
	Forwards() Sink
}

// ChunkSource is implemented by sources whose batches are agent chunks (collectorSource): the
// driver passes the chunk of the batch Next returned to Append through its context, and tells
// the chunk when Append has returned.
type ChunkSource interface {
	// Chunk returns the chunk of the batch the last Next returned, nil if none.
	Chunk() *commitpoint.Chunk
}

// Conditioner is a component that can say why its flow is held up: a sink paused at its log's
// size cap, a source waiting for a file. The node reports the note with the flow's status.
type Conditioner interface {
	// Condition returns a short note, empty when nothing holds the flow up.
	Condition() string
}
