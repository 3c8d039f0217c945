package raftstore

import (
	"context"
	"sync"

	"github.com/hashicorp/raft"
)

// LeaderEvent is the leadership as one member sees it.
type LeaderEvent struct {
	// LeaderID and LeaderAddr name the leader; both are empty while none is known.
	LeaderID   string
	LeaderAddr string
	// Self is true when this member is the leader.
	Self bool
}

// WatchLeader returns a channel that receives the current leadership (as last fanned out,
// which trails raft's own state by the moment the fan-out takes) first and then
// every change, in order, none dropped: each watcher has its own queue, so a slow reader
// delays only itself (leadership changes are rare, so the queue stays short). The channel
// is closed when ctx ends or the store closes; stop reading only after that.
//
// raft's own LeaderCh is a single channel that keeps only the latest value, and its
// observer drops values a slow reader misses; this fans one blocking observer out.
func (s *Store) WatchLeader(ctx context.Context) <-chan LeaderEvent {
	w := &watcher{out: make(chan LeaderEvent), wake: make(chan struct{}, 1)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(w.out)
		return w.out
	}
	w.queue = append(w.queue, s.leader)
	s.watch[w] = struct{}{}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		w.run(ctx, s.closing)
		s.mu.Lock()
		delete(s.watch, w)
		s.mu.Unlock()
	}()
	return w.out
}

// watcher is one WatchLeader subscription.
type watcher struct {
	out   chan LeaderEvent
	wake  chan struct{} // one pending signal that the queue grew
	mu    sync.Mutex
	queue []LeaderEvent
}

func (w *watcher) push(ev LeaderEvent) {
	w.mu.Lock()
	w.queue = append(w.queue, ev)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run delivers the queue to out until ctx or closing ends it, then closes out.
func (w *watcher) run(ctx context.Context, closing <-chan struct{}) {
	defer close(w.out)
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.mu.Unlock()
			select {
			case <-w.wake:
				continue
			case <-ctx.Done():
				return
			case <-closing:
				return
			}
		}
		ev := w.queue[0]
		w.mu.Unlock()
		select {
		case w.out <- ev:
			w.mu.Lock()
			w.queue[0] = LeaderEvent{}
			w.queue = w.queue[1:]
			w.mu.Unlock()
		case <-ctx.Done():
			return
		case <-closing:
			return
		}
	}
}

// startObserver registers a blocking observer of leader changes and the goroutine that
// fans them out. The observer blocks raft only while fanOut appends to queues; fanOut runs
// until after raft has shut down, because raft reports its own step-down during Shutdown.
func (s *Store) startObserver() {
	s.obsCh = make(chan raft.Observation, 16)
	s.observer = raft.NewObserver(s.obsCh, true, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	s.raft.RegisterObserver(s.observer)
	// A change between NewRaft and the registration above is caught by reading the state
	// after registering; a later observation of the same state is deduplicated.
	addr, id := s.raft.LeaderWithID()
	s.publish(string(id), string(addr))
	s.bg.Add(1)
	go s.fanOut()
}

func (s *Store) fanOut() {
	defer s.bg.Done()
	for {
		select {
		case o := <-s.obsCh:
			if lo, ok := o.Data.(raft.LeaderObservation); ok {
				s.publish(string(lo.LeaderID), string(lo.LeaderAddr))
			}
		case <-s.stopObs:
			return
		}
	}
}

// publish records the leadership and queues it to every watcher if it changed.
func (s *Store) publish(id, addr string) {
	ev := LeaderEvent{LeaderID: id, LeaderAddr: addr, Self: id != "" && id == s.cfg.ID}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev == s.leader {
		return
	}
	s.leader = ev
	if ev.LeaderID != "" {
		s.log.Info("raft leader changed", "leader", ev.LeaderID, "addr", ev.LeaderAddr, "self", ev.Self)
	} else {
		s.log.Info("raft leader lost")
	}
	for w := range s.watch {
		w.push(ev)
	}
}
