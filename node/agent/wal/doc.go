// Package wal is the agent's write-ahead log: it keeps chunks (batches of encoded events) on the
// agent's disk from the moment the agent takes them until the masters hold them as committed
// (end-to-end mode), and it is the spool of disk-failover mode.
//
// # Guarantees
//
//   - An append whose Pending is done is durable: written and fsynced. It survives a SIGKILL or
//     a power loss, and Unreleased lists it after Open until it is released.
//   - Nothing corrupt is delivered: every record carries a CRC-32C that Open and Read verify.
//   - Released chunks stay released: Release returns once its release record is durable, so a
//     restart does not resend them.
//   - Nothing is overwritten or dropped to make room: at the size cap (Options.MaxBytes) or
//     below the minimum free space (Options.MinFreeBytes) Append waits until Release frees
//     space (backpressure), and State says why.
//
// # Group commit
//
// One goroutine owns the files. Appends and releases queue up; the writer takes everything
// queued, writes it with one positioned vectored write (pwritev(2); more calls only past
// IOV_MAX buffers or after a short write) and makes it durable with one fdatasync(2), then
// completes the whole group. While it syncs, new appends queue behind it, so under load the
// number of fsyncs per second stays bounded by the disk's sync latency, not by the append rate,
// and the caller is never held on the fsync of chunk N when it hands in chunk N+1.
//
// A chunk's Head and Data are written from where the caller handed them in. Only the records'
// headers and fixed fields, the release records and pieces shorter than 64 bytes are packed
// into a small buffer, so the writer's memory does not grow with the size of the chunks.
//
// # On-disk format (version 1)
//
// A log is a directory holding:
//
//	LOCK                     flock(2)ed by the process that has the log open
//	meta                     {"version":1,"agent":"...","epoch":N}; replaced atomically
//	                         (write meta.tmp, fsync, rename, fsync the directory)
//	NNNNNNNNNNNNNNNNNNNN.wal segments, named after their base seq, zero-padded to 20 digits
//
// All integers are little-endian. A segment starts with a 32-byte header:
//
//	0  8  magic "FLUMEWAL"
//	8  4  version, 1
//	12 4  reserved, zero
//	16 8  base seq: no chunk in this segment has a lower seq; equals the number in the name
//	24 4  reserved, zero
//	28 4  CRC-32C (Castagnoli) of bytes 0..28
//
// Records follow back to back, each a 24-byte header and a payload:
//
//	0  4  payload length
//	4  1  type: 1 chunk, 2 release
//	5  3  reserved, zero
//	8  8  seq: the chunk's seq for a chunk record, zero for a release record
//	16 4  header CRC-32C of bytes 0..16
//	20 4  record CRC-32C of bytes 0..16 followed by the payload (type, header and payload)
//
// A chunk payload is count (4 bytes), created (8 bytes, unix nanoseconds) and the chunk's data:
// its Head, then its Data, which Read returns joined.
// A release payload is a list of 16-byte ranges (first seq, last seq), inclusive: every chunk
// in a range is released.
//
// The header CRC lets recovery trust a record's length and seq even when its payload is damaged:
// it skips just that record, and still counts its seq when it computes NextSeq, so a seq that may
// have been sent is never handed out again.
//
// # Recovery
//
// Open scans every segment in order and verifies every CRC. In the last segment, a torn or
// corrupt tail (what a crash leaves after the last fsync) is truncated. In an older segment (fully
// synced before the next one was created), a record whose header is damaged ends that segment:
// what follows is skipped. A record whose payload is damaged is skipped alone. Everything cut
// or skipped is counted (wal_truncated_records, wal_truncated_bytes) and logged at error level.
// A segment with an unknown version makes Open fail: the log never guesses at a format.
//
// # Releases and segment deletion
//
// A release record may live in a later segment than the chunk it releases. A segment is deleted
// once all of its chunks are released; before that, the release records it holds for chunks that
// live on in other segments are written again into the current segment and synced, so deleting
// a segment never brings a released chunk back. Deletions go oldest first, each followed by a
// directory fsync. One unreleased chunk keeps its whole segment on disk: the cap counts it.
package wal
