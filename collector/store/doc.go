// Package store is the collector's bucketed file writer: the storage under every collector
// sink (collectorSink, the dfs sinks).
//
// A Writer expands a path template against each event (escapes on the event's own timestamp,
// %{host}, %{attr}, ...) to pick a bucket, and appends the event, in an output format and
// optionally compressed, to that bucket's file. Files are written as "<name>.tmp" and renamed
// to "<name>" when they are finalized: by Roll, by CloseIdle, by Close, or when opening one
// more bucket than Options.MaxOpen evicts the least recently written one.
//
// The commit protocol (DESIGN.md §6.1) needs three things of its storage, and the Writer
// gives them:
//
//   - Positions. Write returns, for each file it touched, the byte span it appended. Every
//     Write ends at a record boundary in every file (the encoder is flushed; a compressed file
//     ends a gzip member or zstd frame), so a file cut at a span boundary is valid.
//   - Undo. A failed Write takes back what it wrote. Rollback cuts files back to the start of
//     spans the owner gives back (a duplicate chunk the master refused). Recover cuts files a
//     crash left to the length the owner vouches for.
//   - No finishing behind the owner's back. A file is finalized only once everything written
//     to it is settled: with Options.ManualSettle the owner calls Settle with the spans it has
//     made safe (committed); without it every Write settles what it wrote. Roll, CloseIdle and Close finalize the settled files
//     and say which they finished; opening one file too many evicts the least recently written
//     settled file, and fails with ErrUnsettled when there is none.
//
// A typical end-to-end owner calls, per chunk: Write, Sync, commit the chunk's spans through
// the master, then Settle them, or Rollback them if the master says the chunk was committed
// elsewhere.
//
// Names built from event data are sanitized: an expansion of event data may not hold '/',
// '\\', "..", NUL or control characters (each becomes '_'), bytes that are not valid UTF-8
// become U+FFFD, and every file lives under the root, the directory of the template text before
// its first escape. A component of a name may hold at most 255 bytes, the roll tag, suffix and
// ".tmp" included: a longer one has its expansions of event data cut (at a rune boundary) and
// followed by "~" and 16 hex digits of a hash of the whole component, so two long values that
// begin alike still name two files. An event whose name the storage refuses all the same
// (ErrNameRefused) is left out by WriteOrSkip, for its owner to set aside.
//
// A Writer is safe for concurrent use; its methods take a lock. FS is the seam between the
// Writer and its storage: LocalFS here, and HDFS in package collector/hdfs, which has no
// truncation of its own and cuts a file by copying what it keeps (see there).
package store

import "errors"

var (
	// ErrClosed is returned by a Writer used after Close.
	ErrClosed = errors.New("store writer closed")
	// ErrHDFS is returned for an hdfs:// path given without Options.FS (package
	// collector/hdfs makes one).
	ErrHDFS = errors.New("an hdfs:// path needs an HDFS backend (Options.FS)")
	// ErrScheme is returned for a path whose scheme has no backend.
	ErrScheme = errors.New("unsupported scheme")
	// ErrBadPath is returned for a path template that cannot name files under its root.
	ErrBadPath = errors.New("bad path")
	// ErrCompress is returned for an unknown Options.Compress.
	ErrCompress = errors.New("unknown compression")
	// ErrBadOption is returned for an out-of-range option.
	ErrBadOption = errors.New("bad option")
	// ErrNotTail is returned by Rollback for a span that does not end where its file ends.
	ErrNotTail = errors.New("span is not the tail of its file")
	// ErrUnsettled is returned when a file cannot be finalized because data written to it is
	// not settled yet (Settle).
	ErrUnsettled = errors.New("file holds data not settled yet")
	// ErrSettled is returned by Rollback for a span whose data is settled.
	ErrSettled = errors.New("span is settled")
	// ErrNotOpen is returned by Rollback for a span of a file that is no longer open.
	ErrNotOpen = errors.New("file is not open")
	// ErrOutsideRoot is returned if a name would leave the root; sanitizing prevents it, so
	// seeing it means a bug.
	ErrOutsideRoot = errors.New("path outside the root")
	// ErrNameRefused is wrapped by the error of an event whose file cannot be made because of
	// its name: the storage refuses it (too long, not text it takes, a directory where a file
	// is), and would refuse it again. WriteOrSkip leaves such events out.
	ErrNameRefused = errors.New("the storage refuses the file name")
)
