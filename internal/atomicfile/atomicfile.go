// Package atomicfile replaces small files so that a crash leaves the old content or the new,
// never a mix: the agents' logs keep their meta data, positions and snapshots this way, and
// the collectors sync the directories of the files they finish with it.
package atomicfile

import (
	"fmt"
	"os"
)

// Write replaces path with data: it writes path+".tmp", syncs it, and renames it over path.
// The rename is durable once the directory is synced (SyncDir); callers that need that after
// a power loss, not only after a crash of the process, call it.
func Write(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// SyncDir makes the entries of dir (creations, renames, removals) durable.
func SyncDir(dir string) error {
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
