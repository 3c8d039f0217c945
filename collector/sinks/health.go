package sinks

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
)

// Health remembers whether a sink's storage takes writes, for the node's status: a collector
// whose disk is full keeps running and answers RETRY, and its status says why. It is safe for
// concurrent use.
type Health struct {
	mu  sync.Mutex
	err error
}

// Set records the outcome of a write: nil once the storage takes writes again.
func (h *Health) Set(err error) {
	h.mu.Lock()
	h.err = err
	h.mu.Unlock()
}

// Note returns a status note when the last write failed, empty otherwise.
func (h *Health) Note() string {
	h.mu.Lock()
	err := h.err
	h.mu.Unlock()
	if err == nil {
		return ""
	}
	why := clip(err.Error(), 200)
	var errno syscall.Errno
	if errors.As(err, &errno) {
		why = errno.Error()
	}
	return fmt.Sprintf("writes fail: %s (%s); batches are answered RETRY until the storage takes them",
		storageTrouble(err), why)
}

// storageTrouble names what keeps a storage from taking writes, in the user's words.
func storageTrouble(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return "disk full"
	case errors.Is(err, syscall.EDQUOT):
		return "disk quota exceeded"
	case errors.Is(err, syscall.EROFS):
		return "file system is read-only"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return "permission denied"
	case errors.Is(err, syscall.EIO):
		return "I/O error"
	}
	return "the storage fails"
}
