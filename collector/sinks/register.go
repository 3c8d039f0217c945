// Package sinks holds the collector-tier sinks of classic Flume, all on a store.Writer:
//
//	collectorSink("fsdir", "fileprefix"[, rollmillis[, format]])
//	                     bucket files under fsdir named fileprefix + a roll tag, finalized
//	                     every rollmillis (flume.collector.roll.millis, 30000 by default)
//	dfs("path"[, format])
//	                     the file path, escapes expanded (one file per expansion)
//	customdfs("path"[, format]), alias formatDfs
//	                     the file path as written, escapes not expanded
//	escapedCustomDfs("path"[, "file"[, format]]), alias escapedFormatDfs
//	                     the file path/file, escapes expanded in both
//
// The format defaults to flume.collector.output.format (avrojson); files are compressed per
// flume.collector.dfs.compress.codec (None, GzipCodec, ZStandardCodec), which adds ".gz" or
// ".zst" to their names. Files are written as "<name>.tmp" and renamed when finalized: every
// rollmillis for collectorSink, at Close for all (and when more than store.DefaultMaxOpen
// are open, the least recently written). Open first recovers the .tmp files an earlier run
// left, keeping them whole, since these sinks keep no commit records.
//
// An event whose file the storage refuses by its name (store.ErrNameRefused), however often it
// is sent, is set aside in the sink's dead-letter file (DeadLetter) and the rest of its batch
// is written; the sink counts it (events_dead_lettered) and says so in its condition
// (plugin.Conditioner), as it says why its writes fail when they do (a full disk).
//
// Differences from classic, on purpose: a dfs sink never replaces an existing file (a taken
// name gets ".1", ".2", ...); dfs writes the collector's output format, since this build has
// no Hadoop SequenceFile format; open files are bounded (classic kept one writer per distinct
// path, without limit).
//
// # The end-to-end seam
//
// An end-to-end layer (the commit protocol of DESIGN.md §6.1) takes over how batches reach
// the Writer by registering these sinks with RegisterWith and a NewCommitter. Each built sink
// then asks its Committer for the length of a leftover file to keep (Recover), calls its
// BeforeFinalize before any file is finalized, and hands it every batch with the Writer:
// Committer.Append writes the chunk (Writer.WriteOrSkip, and the dead letters), makes it
// durable (Writer.Sync), records the commit through the master, and takes a refused duplicate
// back (Writer.Rollback).
package sinks

import (
	"context"
	"errors"

	"github.com/flumego/flume/collector/store"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin"
)

var (
	// ErrNotOpen is returned by Append on a sink that is not open.
	ErrNotOpen = errors.New("sink not open")
	// ErrRegistry is returned by a builder given no registry to build its format with.
	ErrRegistry = errors.New("no registry to build the output format")
)

// Committer is how an end-to-end layer drives a sink's Writer. The sink calls Open when it
// opens (before it recovers leftover files), Start once its Writer is open, Append for each
// batch (one at a time), Roll on its roll timer and Close when it closes. BeforeFinalize runs
// as store.Options.BeforeFinalize does, with the Writer's lock held: it must not call the
// Writer. Files are named relative to the sink's root, the dead-letter files included
// ("dead-letter/<name>", DeadLetter).
type Committer interface {
	// Identity returns the name the sink commits under; its dead-letter files are named after
	// it. It does no I/O.
	Identity() string
	// Open returns how much of each file a crash left under root (file as in store.Span.File)
	// is committed: a length, store.KeepAll, store.KeepSkip or store.KeepUnknown.
	Open(ctx context.Context, root string) (keep func(file string) int64, err error)
	// Start is called once the Writer is open, with the sink's dead letters.
	Start(w *store.Writer, dead *DeadLetter)
	// BeforeFinalize fails, keeping the files open, when anything written to them is not
	// committed yet.
	BeforeFinalize(files []string) error
	// AfterFinalize is told, as store.Options.AfterFinalize is, which files were finalized.
	AfterFinalize(files []string)
	// Halt makes commits in progress give up, before Close: the sink is closing, and must
	// not wait for a commit point that does not answer.
	Halt()
	// Append delivers one batch through w (Writer.WriteOrSkip), and sets the events the
	// storage refuses aside in the dead letters, as part of the batch. A nil error means the
	// batch is written; it is committed (and its agent acked) later, or was committed already.
	Append(ctx context.Context, w *store.Writer, batch []*event.Event) error
	// Roll commits what was written and finalizes every open file, dead letters included.
	Roll(w *store.Writer) error
	// Close commits what was written, closes w and the dead letters, and stops.
	Close(ctx context.Context, w *store.Writer) error
	// Condition says why the sink holds its batches back (its storage fails), empty when
	// nothing does (plugin.Conditioner).
	Condition() string
}

// NewCommitter returns the Committer of a sink being built; sink is the component's name. It
// may return nil for a sink that keeps the plain behaviour. It must do no I/O.
type NewCommitter func(bc *plugin.BuildContext, sink string) Committer

// StoreSink is implemented by every sink of this package.
type StoreSink interface {
	plugin.Sink
	// Writer returns the sink's Writer between Open and Close, nil otherwise.
	Writer() *store.Writer
}

// Register adds every sink of this package to r, writing batches straight to their Writer.
func Register(r *plugin.Registry) { RegisterWith(r, nil) }

// RegisterWith adds every sink of this package to r; each sink built gets the Committer nc
// returns for it (none if nc is nil).
func RegisterWith(r *plugin.Registry, nc NewCommitter) {
	b := builders{nc: nc}
	r.RegisterSink(collectorSig, "writes bucket files named prefix+roll tag under a directory template, "+
		"finalized every rollmillis", b.collector)
	r.RegisterSink(dfsSig, "writes the file path (escapes expanded) in a format", b.dfs)
	for _, sig := range customSigs {
		r.RegisterSink(sig, "writes the file path as written, escapes not expanded, in a format", b.custom)
	}
	for _, sig := range escapedSigs {
		r.RegisterSink(sig, "writes the file path/file, escapes expanded in both, in a format", b.escaped)
	}
}
