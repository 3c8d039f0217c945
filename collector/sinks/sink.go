package sinks

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/flumego/flume/collector/store"
	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
	"github.com/flumego/flume/node/plugin"
)

// storeSink is every sink of this package: a store.Writer opened in Open, written in Append
// through its files (plain, or committed when the node has a commit point), and closed (every
// file finalized) in Close. With every set, a timer goroutine finalizes all open files every
// period; what it fails at is logged and shown in the sink's condition, and tried again.
type storeSink struct {
	name     string
	opts     store.Options
	every    time.Duration // roll period; 0: files are finalized at Close (and by eviction)
	tidy     bool          // files fill up (roll bytes) or go idle: finalize them as they do
	delivery delivery      // plain, or the commit protocol on a node with a commit point
	dead     *DeadLetter   // where events the storage refuses are set aside
	log      *slog.Logger

	events, bytes *metrics.Counter

	w       *store.Writer
	files   files         // between Open and Close
	release func()        // lets go of a shared backend client (HDFS) held while open
	stop    chan struct{} // closed to stop the timer
	done    chan struct{} // closed by the timer when it exits

	mu        sync.Mutex
	rollErr   error     // the last timed roll or tidy failed so: shown in the condition
	rollNoted time.Time // when a failed roll was last logged
}

var (
	_ StoreSink          = (*storeSink)(nil)
	_ plugin.Conditioner = (*storeSink)(nil)
)

// Writer returns the sink's Writer between Open and Close.
func (s *storeSink) Writer() *store.Writer { return s.w }

// Open recovers the files an earlier run left under the sink's root (kept whole, or cut to
// what is committed), opens the Writer and starts the roll timer. A closed sink can be opened
// again.
func (s *storeSink) Open(ctx context.Context) error {
	if s.w != nil {
		return nil
	}
	var keep func(string) int64
	o := s.opts
	if h, ok := o.FS.(interface{ Hold() func() }); ok {
		s.release = h.Hold()
		defer func() {
			if s.w == nil {
				s.letGo()
			}
		}()
	}
	root, err := o.Root()
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	if keep, err = s.delivery.open(ctx, root); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	deadSt, err := s.dead.recoverFiles(ctx, keep)
	if err != nil {
		return fmt.Errorf("%s: recover dead letters: %w", s.name, err)
	}
	if deadSt.Files > 0 {
		s.log.Info("recovered dead-letter files left by an earlier run", "files", deadSt.Files,
			"finalized", deadSt.Finalized, "truncated", deadSt.Truncated, "removed", deadSt.Removed,
			"bytes_dropped", deadSt.BytesDropped)
	}
	st, err := store.Recover(ctx, o, keep)
	if err != nil {
		return fmt.Errorf("%s: recover: %w", s.name, err)
	}
	if st.Files > 0 {
		s.log.Info("recovered files left by an earlier run", "files", st.Files,
			"finalized", st.Finalized, "truncated", st.Truncated, "removed", st.Removed,
			"skipped", st.Skipped, "bytes_dropped", st.BytesDropped)
	}
	recovered := append(prefixed(deadSt.Done), st.Done...)
	w, err := store.Open(ctx, o)
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	s.w = w
	s.files = s.delivery.start(w, s.dead, recovered)
	s.rolled(nil)
	if s.every > 0 || s.tidy {
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		go s.timer(s.files, s.stop, s.done)
	}
	return nil
}

// tidyEvery is how often a sink finalizes its full and idle files.
const tidyEvery = time.Second

// timer finalizes every open file each period (every), and full and idle files each second,
// until stop is closed.
func (s *storeSink) timer(f files, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := tidyEvery
	if s.every > 0 {
		tick = min(tick, s.every)
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	lastRoll := time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			var err error
			if s.every > 0 && now.Sub(lastRoll) >= s.every {
				lastRoll = now
				err = f.Roll()
			} else if s.tidy {
				err = f.Tidy()
			}
			s.rolled(err)
		}
	}
}

// letGo releases the backend client held since Open.
func (s *storeSink) letGo() {
	if s.release != nil {
		s.release()
		s.release = nil
	}
}

// rolled records the outcome of a timed roll or tidy. A file that cannot be finalized now
// (its storage fails, or a cut waits for a lease) stays open, and the next roll tries again;
// meanwhile batches go on into other files, and the sink's condition says why files stay
// open. The error is logged at most every 10 seconds.
func (s *storeSink) rolled(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rollErr = err
	if err != nil && time.Since(s.rollNoted) >= 10*time.Second {
		s.rollNoted = time.Now()
		s.log.Warn("files could not be finalized; trying again at the next roll", "err", err)
	}
}

// Append writes the batch to the bucket files. A failed Append leaves nothing of the batch in
// the files.
func (s *storeSink) Append(ctx context.Context, batch []*event.Event) error {
	if s.w == nil {
		return fmt.Errorf("%s: %w", s.name, ErrNotOpen)
	}
	if err := s.files.Append(ctx, batch); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	var n int64
	for _, e := range batch {
		n += int64(len(e.Body))
	}
	s.events.Add(int64(len(batch)))
	s.bytes.Add(n)
	return nil
}

// Condition says why the sink's writes fail, if they do, and how many events it set aside.
func (s *storeSink) Condition() string {
	note := s.delivery.Condition()
	s.mu.Lock()
	if s.rollErr != nil && note == "" {
		note = "files cannot be finalized yet: " + clip(s.rollErr.Error(), 200)
	}
	s.mu.Unlock()
	if dead := s.dead.Note(); dead != "" {
		if note != "" {
			return note + "; " + dead
		}
		return dead
	}
	return note
}

// Close stops the roll timer (waiting for a roll in progress) and closes the Writer, which
// finalizes every file: what was appended is durable when Close returns nil. Safe without
// Open and twice.
func (s *storeSink) Close(ctx context.Context) error {
	if s.w == nil {
		return nil
	}
	s.files.Halt() // a roll in progress does not wait for the commit point
	if s.done != nil {
		close(s.stop)
		<-s.done
		s.stop, s.done = nil, nil
	}
	err := s.files.Close(ctx)
	s.w, s.files = nil, nil
	s.letGo()
	if err != nil {
		return fmt.Errorf("%s: close: %w", s.name, err)
	}
	return nil
}
