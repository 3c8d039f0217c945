package master

import (
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/flumego/flume/master/state"
	flumev1 "github.com/flumego/flume/proto/flume/v1"
)

// fsm adapts the replicated state to raft: raft calls Apply with each committed log entry, in
// order, on one goroutine; the master's services read the state concurrently under the read
// lock.
type fsm struct {
	mu      sync.RWMutex
	st      *state.State
	changed chan struct{} // closed and replaced by every Apply and Restore
}

func newFSM() *fsm {
	return &fsm{st: state.New(), changed: make(chan struct{})}
}

// changes returns a channel closed at the next change of the state. A reader takes the channel
// before it reads the state, so that no change between the two goes unnoticed.
func (f *fsm) changes() <-chan struct{} {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.changed
}

// notify wakes the readers waiting for a change; f.mu is held.
func (f *fsm) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// Apply applies one log entry and returns its command record (nil for a skipped ignorable
// command). An entry that does not decode means the log is corrupt or written by a newer
// master: carrying on would diverge from the other masters, so it panics.
func (f *fsm) Apply(l *raft.Log) any {
	var c flumev1.Command
	if err := proto.Unmarshal(l.Data, &c); err != nil {
		panic(fmt.Sprintf("master: log entry %d does not decode: %v", l.Index, err))
	}
	f.mu.Lock()
	rec := f.st.Apply(&c)
	if !state.IsDataOp(&c) {
		// Commits change no configuration: waking every session for them would cost the
		// leader a pass over every node per commit.
		f.notify()
	}
	f.mu.Unlock()
	return rec
}

// Snapshot captures the state's encoding; raft writes it out on another goroutine.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, err := f.st.Marshal()
	if err != nil {
		return nil, err
	}
	return snapshot(b), nil
}

// Restore replaces the state with a snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("read master snapshot: %w", err)
	}
	st, err := state.Unmarshal(b)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.st = st
	f.notify()
	f.mu.Unlock()
	return nil
}

// read calls fn with the state under the read lock; fn must not keep it.
func (f *fsm) read(fn func(st *state.State)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(f.st)
}

// snapshot is a state encoding ready to be written.
type snapshot []byte

// Persist writes the encoding to the snapshot sink.
func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("write master snapshot: %w", err)
	}
	return sink.Close()
}

// Release does nothing: the encoding is plain memory.
func (snapshot) Release() {}
