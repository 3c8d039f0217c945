// Package localcommit is the commit point of end-to-end delivery for a node that runs without
// masters (`flumed node --oneshot`, a collector on its own): the same replicated state the
// masters keep (master/state), applied from a log in the node's data directory instead of
// through raft. It promises what the masters promise, for the chunks this node sees: a chunk
// commits once, committed file lengths survive a crash. It cannot tell two collectors apart
// that do not share it; the masters do that.
//
// The log is a sequence of records, each a little-endian uint32 length, a uint32 CRC-32C of
// the payload and the payload, a flumev1.Command. Every change is written and fsynced before
// it is applied and answered. A torn or corrupt tail (a crash in the middle of a write) is cut
// off on open: nothing in it was answered. When the log grows past a bound, the state is
// written to a snapshot file (written aside, fsynced and renamed) and the log starts again.
package localcommit

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/flumego/flume/commitpoint"
	"github.com/flumego/flume/internal/atomicfile"
	"github.com/flumego/flume/master/state"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// compactAt is the log size (a variable so tests can lower it) beyond which the state is snapshotted and the log restarted.
var compactAt int64 = 16 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned by calls on a closed Log.
var ErrClosed = errors.New("local commit log closed")

// Log is a node's own commit log. It is safe for concurrent use.
type Log struct {
	dir string
	now func() int64

	mu   sync.Mutex
	st   *state.State
	f    *os.File
	size int64
	cut  int64 // bytes of torn tail cut off when the log was opened
}

var _ commitpoint.Log = (*Log)(nil)

// Open opens (creating) the commit log in dir and replays it. now stamps commands with the
// time (unix nanoseconds); nil means the wall clock.
func Open(dir string, now func() int64) (*Log, error) {
	if now == nil {
		now = wallClock
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("local commit log: %w", err)
	}
	l := &Log{dir: dir, now: now, st: state.New()}
	if b, err := os.ReadFile(l.path("snapshot")); err == nil {
		if l.st, err = state.Unmarshal(b); err != nil {
			return nil, fmt.Errorf("local commit log snapshot %s: %w", l.path("snapshot"), err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("local commit log: %w", err)
	}
	f, err := os.OpenFile(l.path("log"), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("local commit log: %w", err)
	}
	l.f = f
	if err := l.replay(); err != nil {
		_ = f.Close()
		return nil, err
	}
	return l, nil
}

func (l *Log) path(name string) string { return filepath.Join(l.dir, name) }

// replay applies every whole record and cuts off a torn tail.
func (l *Log) replay() error {
	b, err := io.ReadAll(l.f)
	if err != nil {
		return fmt.Errorf("read local commit log %s: %w", l.f.Name(), err)
	}
	off := 0
	for len(b)-off >= 8 {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		sum := binary.LittleEndian.Uint32(b[off+4:])
		if n > len(b)-off-8 || crc32.Checksum(b[off+8:off+8+n], castagnoli) != sum {
			break
		}
		var cmd flumev1.Command
		if err := proto.Unmarshal(b[off+8:off+8+n], &cmd); err != nil {
			break
		}
		l.st.Apply(&cmd)
		off += 8 + n
	}
	l.size, l.cut = int64(off), int64(len(b)-off)
	if l.cut > 0 {
		if err := l.f.Truncate(l.size); err != nil {
			return fmt.Errorf("cut torn tail of %s: %w", l.f.Name(), err)
		}
	}
	_, err = l.f.Seek(l.size, io.SeekStart)
	return err
}

// TornBytes returns how many bytes of torn tail Open cut off.
func (l *Log) TornBytes() int64 { return l.cut }

// apply writes cmd durably, then applies it.
func (l *Log) apply(cmd *flumev1.Command) (*flumev1.CommandRecord, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil, ErrClosed
	}
	cmd.Time = l.now()
	payload, err := proto.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	rec := make([]byte, 8, 8+len(payload))
	binary.LittleEndian.PutUint32(rec, uint32(len(payload)))
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(payload, castagnoli))
	rec = append(rec, payload...)
	if _, err := l.f.Write(rec); err != nil {
		// A partial record would be cut on the next open; cut it now so later ones follow
		// whole records.
		_ = l.f.Truncate(l.size)
		_, _ = l.f.Seek(l.size, io.SeekStart)
		return nil, fmt.Errorf("write local commit log: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return nil, fmt.Errorf("sync local commit log: %w", err)
	}
	l.size += int64(len(rec))
	r := l.st.Apply(cmd)
	if r.GetState() == flumev1.CommandState_COMMAND_STATE_FAILED {
		return nil, errors.New(r.GetMessage())
	}
	if l.size > compactAt {
		if err := l.compact(); err != nil {
			return r, fmt.Errorf("compact local commit log: %w", err)
		}
	}
	return r, nil
}

// compact writes the state as a snapshot and empties the log; l.mu is held.
func (l *Log) compact() error {
	b, err := l.st.Marshal()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(l.path("snapshot"), b, 0o640); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(l.dir); err != nil {
		return err
	}
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	l.size = 0
	_, err = l.f.Seek(0, io.SeekStart)
	return err
}

// Close closes the log.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Commit implements commitpoint.Log.
func (l *Log) Commit(_ context.Context, collector string, chunks []commitpoint.Commit) (commitpoint.Outcome, error) {
	r, err := l.apply(&flumev1.Command{Origin: "local",
		Op: &flumev1.Command_CommitChunks{CommitChunks: CommitRequest(collector, chunks)}})
	if err != nil {
		return commitpoint.Outcome{}, err
	}
	return Outcome(r.GetCommitResult()), nil
}

// CommitRequest is the replicated form of a commit, as a commit point applies it.
func CommitRequest(collector string, chunks []commitpoint.Commit) *flumev1.CommitChunks {
	c := &flumev1.CommitChunks{Collector: collector, Chunks: make([]*flumev1.ChunkCommit, 0, len(chunks))}
	for _, ch := range chunks {
		pc := &flumev1.ChunkCommit{Agent: ch.Agent, Epoch: ch.Epoch, Seq: ch.Seq}
		for _, f := range ch.Files {
			pc.Files = append(pc.Files, &flumev1.FileLength{File: f.File, Length: f.Length})
		}
		c.Chunks = append(c.Chunks, pc)
	}
	return c
}

// Outcome is a commit's result as commitpoint.Log gives it.
func Outcome(r *flumev1.CommitResult) commitpoint.Outcome {
	return commitpoint.Outcome{Committed: int(r.GetCommitted()), Duplicate: r.GetDuplicate(), Stale: r.GetStale()}
}

// FileLengths implements commitpoint.Log.
func (l *Log) FileLengths(_ context.Context, collector string) (map[string]int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int64{}
	for _, f := range l.st.FileLengths(collector) {
		out[f.GetFile()] = f.GetLength()
	}
	return out, nil
}

// FinishFiles implements commitpoint.Log.
func (l *Log) FinishFiles(_ context.Context, collector string, files []string) error {
	_, err := l.apply(&flumev1.Command{Origin: "local",
		Op: &flumev1.Command_FinishFiles{FinishFiles: &flumev1.FinishFiles{Collector: collector, Files: files}}})
	return err
}

// NewEpoch implements commitpoint.Log.
func (l *Log) NewEpoch(_ context.Context, agent string) (uint64, error) {
	r, err := l.apply(&flumev1.Command{Origin: "local",
		Op: &flumev1.Command_NewEpoch{NewEpoch: &flumev1.NewEpoch{Agent: agent}}})
	return r.GetEpoch(), err
}

// Committed implements commitpoint.Log.
func (l *Log) Committed(_ context.Context, agent string, epoch uint64, seqs []uint64) ([]uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.Committed(agent, epoch, seqs), nil
}

// Release implements commitpoint.Log.
func (l *Log) Release(_ context.Context, agent string, epoch, through uint64) error {
	_, err := l.apply(&flumev1.Command{Origin: "local",
		Op: &flumev1.Command_ReleaseChunks{ReleaseChunks: &flumev1.ReleaseChunks{Agent: agent, Epoch: epoch, Through: through}}})
	return err
}

// Lazy is a Log opened on first use, so that a node whose flows never commit anything creates
// no file.
type Lazy struct {
	dir string

	mu  sync.Mutex
	log *Log
	err error
}

var _ commitpoint.Log = (*Lazy)(nil)

// OpenLazy returns a Log in dir that opens on its first call.
func OpenLazy(dir string) *Lazy { return &Lazy{dir: dir} }

func (z *Lazy) get() (*Log, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.log == nil && z.err == nil {
		z.log, z.err = Open(z.dir, nil)
	}
	return z.log, z.err
}

// Close closes the log if it was opened.
func (z *Lazy) Close() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.log == nil {
		return nil
	}
	err := z.log.Close()
	z.log, z.err = nil, ErrClosed
	return err
}

// Commit implements commitpoint.Log.
func (z *Lazy) Commit(ctx context.Context, collector string, chunks []commitpoint.Commit) (commitpoint.Outcome, error) {
	l, err := z.get()
	if err != nil {
		return commitpoint.Outcome{}, err
	}
	return l.Commit(ctx, collector, chunks)
}

// FileLengths implements commitpoint.Log.
func (z *Lazy) FileLengths(ctx context.Context, collector string) (map[string]int64, error) {
	l, err := z.get()
	if err != nil {
		return nil, err
	}
	return l.FileLengths(ctx, collector)
}

// FinishFiles implements commitpoint.Log.
func (z *Lazy) FinishFiles(ctx context.Context, collector string, files []string) error {
	l, err := z.get()
	if err != nil {
		return err
	}
	return l.FinishFiles(ctx, collector, files)
}

// NewEpoch implements commitpoint.Log.
func (z *Lazy) NewEpoch(ctx context.Context, agent string) (uint64, error) {
	l, err := z.get()
	if err != nil {
		return 0, err
	}
	return l.NewEpoch(ctx, agent)
}

// Committed implements commitpoint.Log.
func (z *Lazy) Committed(ctx context.Context, agent string, epoch uint64, seqs []uint64) ([]uint64, error) {
	l, err := z.get()
	if err != nil {
		return nil, err
	}
	return l.Committed(ctx, agent, epoch, seqs)
}

// Release implements commitpoint.Log.
func (z *Lazy) Release(ctx context.Context, agent string, epoch, through uint64) error {
	l, err := z.get()
	if err != nil {
		return err
	}
	return l.Release(ctx, agent, epoch, through)
}
