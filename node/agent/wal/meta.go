package wal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	tmp := filepath.Join(dir, metaTemp)
	if err := writeFileSync(tmp, append(b, '\n')); err != nil {
		return fmt.Errorf("write wal meta: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, metaFile)); err != nil {
		return fmt.Errorf("write wal meta: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write wal meta: %w", err)
	}
	return nil
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes the directory's entries (creations, renames, removals) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	return nil
}
