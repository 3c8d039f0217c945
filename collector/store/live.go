package store

import (
	"path/filepath"
	"sync"
)

// liveFiles are the .tmp files open in a Writer of this process. Recover leaves them alone:
// a sink reopened by a roll, or another sink of the flow writing under the same root, must
// not have its files finalized under it. Keys are absolute paths for the local file system
// and paths as given for other backends.
var liveFiles = struct {
	mu sync.Mutex
	m  map[string]struct{}
}{m: make(map[string]struct{})}

func liveKey(fsys FS, name string) string {
	if _, ok := fsys.(LocalFS); ok {
		if abs, err := filepath.Abs(name); err == nil {
			return abs
		}
	}
	return name
}

func addLive(key string) {
	liveFiles.mu.Lock()
	liveFiles.m[key] = struct{}{}
	liveFiles.mu.Unlock()
}

func removeLive(key string) {
	liveFiles.mu.Lock()
	delete(liveFiles.m, key)
	liveFiles.mu.Unlock()
}

func isLive(key string) bool {
	liveFiles.mu.Lock()
	defer liveFiles.mu.Unlock()
	_, ok := liveFiles.m[key]
	return ok
}
