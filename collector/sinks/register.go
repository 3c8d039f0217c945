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
// # Plain and committed
//
// A sink's batches reach its Writer (and its dead letters) through one of two implementations
// of one small interface (files): plainly, each write settled at once (plainFiles), or, on a
// node with a commit point, through the commit protocol of DESIGN.md §6.1 (committer): each
// batch is written, made durable with the others of its group, committed through the masters,
// then settled; a file is finalized only once all it holds is settled, and Roll and Close say
// which files they finished, so that the commit point forgets their lengths.
package sinks

import (
	"errors"

	"github.com/flumego/flume/collector/store"
	"github.com/flumego/flume/node/plugin"
)

var (
	// ErrNotOpen is returned by Append on a sink that is not open.
	ErrNotOpen = errors.New("sink not open")
	// ErrRegistry is returned by a builder given no registry to build its format with.
	ErrRegistry = errors.New("no registry to build the output format")
)

// StoreSink is implemented by every sink of this package.
type StoreSink interface {
	plugin.Sink
	// Writer returns the sink's Writer between Open and Close, nil otherwise.
	Writer() *store.Writer
}

// Register adds every sink of this package to r. A sink built on a node with a commit point
// (BuildContext.Commits) commits what it writes; others write plainly.
func Register(r *plugin.Registry) {
	var b builders
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
