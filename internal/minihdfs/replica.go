package minihdfs

// A DataNode keeps each replica as two files, laid out as a real DataNode does:
//
//	<dn>/rbw/blk_<id>                 data of a replica being written
//	<dn>/rbw/blk_<id>_<gs>.meta       header, then the CRC32C of each 512-byte chunk
//	<dn>/finalized/...                the same, once the writer sent the last packet
//
// The meta header is the version (u16 = 1), the checksum type (u8, 2 = CRC32C) and the bytes
// per checksum (u32 = 512). Writes go through the page cache without fsync: a DataNode Kill
// loses nothing the process wrote, which is what a process crash does too.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

const (
	chunkSize     = 512
	metaHeaderLen = 7
	dirRBW        = "rbw"
	dirFinalized  = "finalized"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// replica is what a DataNode knows of one block. Fields are guarded by replicaStore.mu.
type replica struct {
	id        uint64
	gs        uint64
	length    int64
	finalized bool
	writer    *writeSession // the write that has the replica open, if any
}

// replicaInfo is a copy of a replica's state.
type replicaInfo struct {
	GS        uint64
	Length    int64
	Finalized bool
}

// writeSession is one writer's hold on a replica: its open files and a way to end it.
type writeSession struct {
	data, meta *os.File
	abort      func()        // ends the write (closes its connections)
	done       chan struct{} // closed once the write has let go of the replica
}

type replicaStore struct {
	dir  string
	mu   sync.Mutex
	reps map[uint64]*replica
}

// openReplicaStore scans dir for replicas.
func openReplicaStore(dir string) (*replicaStore, error) {
	s := &replicaStore{dir: dir, reps: map[uint64]*replica{}}
	for _, sub := range []string{dirRBW, dirFinalized} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("create replica directory: %w", err)
		}
	}
	for _, sub := range []string{dirRBW, dirFinalized} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			return nil, fmt.Errorf("scan replicas: %w", err)
		}
		for _, e := range ents {
			id, gs, ok := parseMetaName(e.Name())
			if !ok {
				continue
			}
			st, err := os.Stat(filepath.Join(dir, sub, "blk_"+strconv.FormatUint(id, 10)))
			if err != nil {
				continue // meta without data: an interrupted create
			}
			s.reps[id] = &replica{id: id, gs: gs, length: st.Size(), finalized: sub == dirFinalized}
		}
	}
	return s, nil
}

func parseMetaName(name string) (id, gs uint64, ok bool) {
	rest, found := strings.CutPrefix(name, "blk_")
	if !found {
		return 0, 0, false
	}
	rest, found = strings.CutSuffix(rest, ".meta")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(rest, "_")
	if !found {
		return 0, 0, false
	}
	id, err1 := strconv.ParseUint(a, 10, 64)
	gs, err2 := strconv.ParseUint(b, 10, 64)
	return id, gs, err1 == nil && err2 == nil
}

func (s *replicaStore) paths(r *replica) (data, meta string) {
	sub := dirRBW
	if r.finalized {
		sub = dirFinalized
	}
	base := filepath.Join(s.dir, sub, "blk_"+strconv.FormatUint(r.id, 10))
	return base, base + "_" + strconv.FormatUint(r.gs, 10) + ".meta"
}

func (s *replicaStore) info(id uint64) (replicaInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reps[id]
	if r == nil {
		return replicaInfo{}, false
	}
	return replicaInfo{GS: r.gs, Length: r.length, Finalized: r.finalized}, true
}

func (s *replicaStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reps)
}

// create starts a new replica in rbw and opens it for ws.
func (s *replicaStore) create(id, gs uint64, ws *writeSession) (*replica, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.reps[id]; old != nil {
		return nil, fmt.Errorf("block %d already exists (generation stamp %d, %d bytes) and cannot be created", id, old.gs, old.length)
	}
	r := &replica{id: id, gs: gs}
	if err := s.open(r, ws, true); err != nil {
		return nil, err
	}
	s.reps[id] = r
	return r, nil
}

// reopen opens an existing replica for ws to write more to it (append, or a pipeline set up
// again): a finalized replica moves back to rbw and takes generation stamp gs.
func (s *replicaStore) reopen(id, gs uint64, wantLen int64, ws *writeSession) (*replica, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reps[id]
	switch {
	case r == nil:
		return nil, fmt.Errorf("block %d does not exist on this datanode", id)
	case r.writer != nil:
		return nil, fmt.Errorf("block %d is being written by another pipeline", id)
	case gs < r.gs:
		return nil, fmt.Errorf("block %d: generation stamp %d is older than the replica's %d", id, gs, r.gs)
	case wantLen >= 0 && r.length != wantLen:
		return nil, fmt.Errorf("block %d holds %d bytes, the append expects %d", id, r.length, wantLen)
	}
	if err := s.move(r, false, gs); err != nil {
		return nil, err
	}
	if err := s.open(r, ws, false); err != nil {
		return nil, err
	}
	return r, nil
}

// open opens r's files for ws; the caller holds s.mu.
func (s *replicaStore) open(r *replica, ws *writeSession, fresh bool) error {
	dataPath, metaPath := s.paths(r)
	flag := os.O_RDWR | os.O_CREATE
	if fresh {
		flag |= os.O_EXCL
	}
	data, err := os.OpenFile(dataPath, flag, 0o644)
	if err != nil {
		return fmt.Errorf("open block data: %w", err)
	}
	meta, err := os.OpenFile(metaPath, flag, 0o644)
	if err != nil {
		_ = data.Close()
		return fmt.Errorf("open block meta: %w", err)
	}
	if fresh {
		hdr := make([]byte, metaHeaderLen)
		binary.BigEndian.PutUint16(hdr, 1)
		hdr[2] = 2 // CRC32C
		binary.BigEndian.PutUint32(hdr[3:], chunkSize)
		if _, err := meta.WriteAt(hdr, 0); err != nil {
			_ = data.Close()
			_ = meta.Close()
			return fmt.Errorf("write block meta header: %w", err)
		}
	}
	ws.data, ws.meta = data, meta
	r.writer = ws
	return nil
}

// move renames r's files into the finalized or rbw directory with generation stamp gs.
func (s *replicaStore) move(r *replica, finalized bool, gs uint64) error {
	oldData, oldMeta := s.paths(r)
	nr := *r
	nr.finalized, nr.gs = finalized, gs
	newData, newMeta := s.paths(&nr)
	if oldMeta != newMeta {
		if err := os.Rename(oldMeta, newMeta); err != nil {
			return fmt.Errorf("move block meta: %w", err)
		}
	}
	if oldData != newData {
		if err := os.Rename(oldData, newData); err != nil {
			return fmt.Errorf("move block data: %w", err)
		}
	}
	r.finalized, r.gs = finalized, gs
	return nil
}

// write stores data at off, which must be the replica's length, with the checksums of every
// chunk it touches (a partial last chunk is summed again with what it already held).
func (s *replicaStore) write(r *replica, off int64, data []byte) error {
	ws := r.writer
	if _, err := ws.data.WriteAt(data, off); err != nil {
		return fmt.Errorf("write block data: %w", err)
	}
	first := off / chunkSize * chunkSize
	buf := data
	if first < off {
		buf = make([]byte, off-first, int(off-first)+len(data))
		if _, err := ws.data.ReadAt(buf, first); err != nil {
			return fmt.Errorf("read back partial chunk: %w", err)
		}
		buf = append(buf, data...)
	}
	if _, err := ws.meta.WriteAt(chunkSums(buf), metaHeaderLen+first/chunkSize*4); err != nil {
		return fmt.Errorf("write block checksums: %w", err)
	}
	s.mu.Lock()
	r.length = off + int64(len(data))
	s.mu.Unlock()
	return nil
}

// release ends ws's hold on r, finalizing the replica when the writer sent the last packet.
func (s *replicaStore) release(r *replica, ws *writeSession, finalize bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = ws.data.Close()
	_ = ws.meta.Close()
	if r.writer == ws {
		r.writer = nil
	}
	if finalize && s.reps[r.id] == r {
		return s.move(r, true, r.gs)
	}
	return nil
}

// stopWriter ends any write on replica id and waits until it let go.
func (s *replicaStore) stopWriter(id uint64) {
	s.mu.Lock()
	var ws *writeSession
	if r := s.reps[id]; r != nil {
		ws = r.writer
	}
	s.mu.Unlock()
	if ws != nil {
		ws.abort()
		<-ws.done
	}
}

// recoverTo cuts replica id to length bytes, gives it generation stamp gs and finalizes it:
// the DataNode's part of lease recovery.
func (s *replicaStore) recoverTo(id, gs uint64, length int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reps[id]
	if r == nil {
		return fmt.Errorf("block %d does not exist on this datanode", id)
	}
	if r.writer != nil {
		return fmt.Errorf("block %d is being written", id)
	}
	if length > r.length {
		return fmt.Errorf("block %d holds %d bytes, fewer than the %d to keep", id, r.length, length)
	}
	dataPath, metaPath := s.paths(r)
	if err := os.Truncate(dataPath, length); err != nil {
		return fmt.Errorf("truncate block data: %w", err)
	}
	nChunks := (length + chunkSize - 1) / chunkSize
	if err := os.Truncate(metaPath, metaHeaderLen+nChunks*4); err != nil {
		return fmt.Errorf("truncate block meta: %w", err)
	}
	if tail := length % chunkSize; tail != 0 {
		if err := resumLastChunk(dataPath, metaPath, length-tail, tail); err != nil {
			return err
		}
	}
	r.length = length
	return s.move(r, true, gs)
}

func resumLastChunk(dataPath, metaPath string, off, n int64) error {
	b := make([]byte, n)
	f, err := os.Open(dataPath)
	if err != nil {
		return fmt.Errorf("open block data: %w", err)
	}
	_, err = f.ReadAt(b, off)
	_ = f.Close()
	if err != nil {
		return fmt.Errorf("read last chunk: %w", err)
	}
	m, err := os.OpenFile(metaPath, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open block meta: %w", err)
	}
	_, err = m.WriteAt(chunkSums(b), metaHeaderLen+off/chunkSize*4)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return err
}

// remove deletes replica id (stopping a write on it first).
func (s *replicaStore) remove(id uint64) {
	s.stopWriter(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reps[id]
	if r == nil {
		return
	}
	dataPath, metaPath := s.paths(r)
	_ = os.Remove(dataPath)
	_ = os.Remove(metaPath)
	delete(s.reps, id)
}

// openRead opens replica id for reading: its files and the length readable now.
func (s *replicaStore) openRead(id uint64) (data, meta *os.File, info replicaInfo, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reps[id]
	if r == nil {
		return nil, nil, replicaInfo{}, errReplicaNotFound
	}
	dataPath, metaPath := s.paths(r)
	if data, err = os.Open(dataPath); err != nil {
		return nil, nil, replicaInfo{}, fmt.Errorf("open block data: %w", err)
	}
	if meta, err = os.Open(metaPath); err != nil {
		_ = data.Close()
		return nil, nil, replicaInfo{}, fmt.Errorf("open block meta: %w", err)
	}
	return data, meta, replicaInfo{GS: r.gs, Length: r.length, Finalized: r.finalized}, nil
}

var errReplicaNotFound = errors.New("replica not found")

// chunkSums is the big-endian CRC32C of each chunkSize piece of b.
func chunkSums(b []byte) []byte {
	out := make([]byte, 0, (len(b)+chunkSize-1)/chunkSize*4)
	for i := 0; i < len(b); i += chunkSize {
		out = binary.BigEndian.AppendUint32(out, crc32.Checksum(b[i:min(i+chunkSize, len(b))], castagnoli))
	}
	return out
}
