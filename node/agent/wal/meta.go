package wal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flumego/flume/internal/atomicfile"
)

const (
	metaFile    = "meta"
	metaTemp    = "meta.tmp"
	metaVersion = 1
)

// metaJSON is the meta file's content.
type metaJSON struct {
	Version int    `json:"version"`
	Agent   string `json:"agent"`
	Epoch   uint64 `json:"epoch"`
}

// readMeta reads the meta file of dir; a missing file is the zero Meta.
func readMeta(dir string) (Meta, error) {
	path := filepath.Join(dir, metaFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Meta{}, nil
	}
	if err != nil {
		return Meta{}, fmt.Errorf("open wal: %w", err)
	}
	var m metaJSON
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("open wal: read %s: %w: %v", path, ErrCorrupt, err)
	}
	if m.Version != metaVersion {
		return Meta{}, fmt.Errorf("open wal: read %s: %w: version %d, this build reads version %d",
			path, ErrVersion, m.Version, metaVersion)
	}
	return Meta{Agent: m.Agent, Epoch: m.Epoch}, nil
}

// writeMeta replaces the meta file of dir atomically and durably: a temporary file, synced,
// renamed over the old one, and the directory synced, so a crash leaves the old or the new
// meta, never a mix.
func writeMeta(dir string, m Meta) error {
	b, err := json.Marshal(metaJSON{Version: metaVersion, Agent: m.Agent, Epoch: m.Epoch})
	if err != nil {
		return fmt.Errorf("write wal meta: %w", err)
	}
	// atomicfile writes the temporary file as meta.tmp (metaTemp), which Open removes when
	// a crash left it.
	if err := atomicfile.Write(filepath.Join(dir, metaFile), append(b, '\n'), 0o640); err != nil {
		return fmt.Errorf("write wal meta: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write wal meta: %w", err)
	}
	return nil
}

// syncDir makes the directory's entries (creations, renames, removals) durable.
func syncDir(dir string) error { return atomicfile.SyncDir(dir) }
