package minihdfs

// The namespace is durable through two files under <Dir>/name:
//
//   - image.json, a snapshot of every inode and the id counters, replaced atomically
//     (written aside, synced, renamed, directory synced);
//   - edits.log, one JSON line per change, synced before the call that made it answers.
//
// An edit carries whole inodes (put) and removed inode ids (del) plus the counters, so replay
// is idempotent: loading applies the log to the image, writes a new image and only then
// empties the log, and a crash between the two replays the same edits again. A torn last line
// (a crash inside a write) is ignored; a bad line before it is an error.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/flumego/flume/internal/atomicfile"
)

const (
	imageFile       = "image.json"
	editsFile       = "edits.log"
	imageVersion    = 1
	checkpointBytes = 16 << 20 // the log is folded into a new image past this size
)

type image struct {
	Version  int      `json:"version"`
	PoolID   string   `json:"poolId"`
	Counters counters `json:"counters"`
	Inodes   []*inode `json:"inodes"`
}

type edit struct {
	Counters counters `json:"counters"`
	Put      []*inode `json:"put,omitempty"`
	Del      []uint64 `json:"del,omitempty"`
}

// nsStore appends edits and writes images.
type nsStore struct {
	dir  string
	f    *os.File
	size int64
}

// openNamespace loads the namespace kept under dir (a fresh one if there is none), folds the
// log into a new image and opens the log for appending.
func openNamespace(dir, superuser string) (*namespace, *nsStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("create namenode directory: %w", err)
	}
	ns, err := loadNamespace(dir, superuser)
	if err != nil {
		return nil, nil, err
	}
	s := &nsStore{dir: dir}
	if err := s.checkpoint(ns); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, editsFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open edit log: %w", err)
	}
	s.f = f
	return ns, s, nil
}

func loadNamespace(dir, superuser string) (*namespace, error) {
	all := map[uint64]*inode{}
	var ns *namespace
	b, err := os.ReadFile(filepath.Join(dir, imageFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		poolID := fmt.Sprintf("BP-%d-127.0.0.1-%d", rand.Int32(), time.Now().UnixMilli())
		ns = newNamespace(poolID, superuser)
		all[ns.root.ID] = ns.root
	case err != nil:
		return nil, fmt.Errorf("read namespace image: %w", err)
	default:
		var img image
		if err := json.Unmarshal(b, &img); err != nil {
			return nil, fmt.Errorf("decode namespace image %s: %w", filepath.Join(dir, imageFile), err)
		}
		if img.Version != imageVersion {
			return nil, fmt.Errorf("namespace image version %d, want %d", img.Version, imageVersion)
		}
		ns = &namespace{PoolID: img.PoolID, Counters: img.Counters}
		for _, n := range img.Inodes {
			all[n.ID] = n
		}
	}
	if err := replay(filepath.Join(dir, editsFile), ns, all); err != nil {
		return nil, err
	}
	if all[rootInodeID] == nil {
		return nil, fmt.Errorf("namespace under %s has no root directory", dir)
	}
	if orphans := ns.link(all); len(orphans) > 0 {
		return nil, fmt.Errorf("namespace under %s has inodes without a parent directory: %v", dir, orphans)
	}
	return ns, nil
}

func replay(path string, ns *namespace, all map[uint64]*inode) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open edit log: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return nil // a last line without its newline is a torn write
		}
		if err != nil {
			return fmt.Errorf("read edit log: %w", err)
		}
		var e edit
		if err := json.Unmarshal(bytes.TrimSpace(line), &e); err != nil {
			if _, perr := r.Peek(1); errors.Is(perr, io.EOF) {
				return nil
			}
			return fmt.Errorf("edit log %s line %d: %w", path, lineNo, err)
		}
		for _, n := range e.Put {
			all[n.ID] = n
		}
		for _, id := range e.Del {
			delete(all, id)
		}
		ns.Counters.Inode = max(ns.Counters.Inode, e.Counters.Inode)
		ns.Counters.Block = max(ns.Counters.Block, e.Counters.Block)
		ns.Counters.GS = max(ns.Counters.GS, e.Counters.GS)
	}
}

// append logs one edit durably.
func (s *nsStore) append(ns *namespace, puts []*inode, dels []uint64) error {
	if s.f == nil {
		return ErrNameNodeStopped
	}
	b, err := json.Marshal(edit{Counters: ns.Counters, Put: puts, Del: dels})
	if err != nil {
		return fmt.Errorf("encode edit: %w", err)
	}
	b = append(b, '\n')
	if _, err := s.f.Write(b); err != nil {
		return fmt.Errorf("write edit log: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync edit log: %w", err)
	}
	s.size += int64(len(b))
	if s.size > checkpointBytes {
		return s.checkpoint(ns)
	}
	return nil
}

// checkpoint writes a new image of ns and empties the log.
func (s *nsStore) checkpoint(ns *namespace) error {
	b, err := json.Marshal(image{Version: imageVersion, PoolID: ns.PoolID, Counters: ns.Counters, Inodes: ns.all()})
	if err != nil {
		return fmt.Errorf("encode namespace image: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(s.dir, imageFile), b, 0o644); err != nil {
		return fmt.Errorf("write namespace image: %w", err)
	}
	if err := atomicfile.SyncDir(s.dir); err != nil {
		return err
	}
	if s.f != nil {
		if err := s.f.Truncate(0); err != nil {
			return fmt.Errorf("empty edit log: %w", err)
		}
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("sync edit log: %w", err)
		}
	} else if err := os.Truncate(filepath.Join(s.dir, editsFile), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("empty edit log: %w", err)
	}
	s.size = 0
	return nil
}

func (s *nsStore) close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
