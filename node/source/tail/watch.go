package tail

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// maxDrain bounds the notifications taken in one pass, so that a storm of them does not
// keep Next from reading.
const maxDrain = 4096

// watcher watches directories for changes to the names in them, with inotify where the system
// has it. A nil *watcher (no notifications: polling only) is valid and watches nothing.
type watcher struct {
	w    *fsnotify.Watcher
	dirs map[string]bool
	log  *slog.Logger
	// missed is set when a directory could not be watched (it does not exist, or the
	// system's limit of watches is reached): its names must be polled.
	missed bool
}

// newWatcher returns a watcher, or nil when the system gives none (then names are polled).
func newWatcher(log *slog.Logger) *watcher {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		log.Info("tail: no file notifications; polling", "err", err)
		return nil
	}
	return &watcher{w: w, dirs: make(map[string]bool), log: log}
}

// complete reports whether notifications come for every directory added.
func (w *watcher) complete() bool { return w != nil && !w.missed }

// add watches dir, once. A directory that cannot be watched (it does not exist yet) is
// polled, and tried again at the next scan.
func (w *watcher) add(dir string) {
	if w == nil || w.dirs[dir] {
		return
	}
	if err := w.w.Add(dir); err != nil {
		w.missed = true
		return
	}
	w.dirs[dir] = true
}

// retry forgets the directories that could not be watched: the next adds try them again.
func (w *watcher) retry() {
	if w != nil {
		w.missed = false
	}
}

// forget notes that dir is no longer watched (it was removed): it is watched again if it
// comes back.
func (w *watcher) forget(dir string) {
	if w != nil {
		delete(w.dirs, dir)
	}
}

func (w *watcher) events() chan fsnotify.Event {
	if w == nil {
		return nil
	}
	return w.w.Events
}

func (w *watcher) errors() chan error {
	if w == nil {
		return nil
	}
	return w.w.Errors
}

// close stops the watcher and waits for its goroutine.
func (w *watcher) close() {
	if w != nil {
		if err := w.w.Close(); err != nil {
			w.log.Warn("tail: close file notifications", "err", err)
		}
	}
}

// watchDirs watches the directories of the configured names.
func (s *Source) watchDirs() {
	for _, t := range s.fixed {
		s.w.add(filepath.Dir(t.path))
	}
}

// notify takes a notification: the name it is about is looked at before the next read.
func (s *Source) notify(ev fsnotify.Event) {
	name := filepath.Clean(ev.Name)
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		s.w.forget(name)
	}
	s.dirty[name] = struct{}{}
}

// notified takes a notification error: lost notifications mean a look at everything.
func (s *Source) notified(err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		s.rescan = true
		return
	}
	s.log.Warn(s.cfg.name+": file notifications", "err", err)
	s.rescan = true
}

// housekeep takes the notifications that came, handles the names they are about, and looks at
// every name when it is time.
func (s *Source) housekeep(now time.Time) {
	evs, errs := s.w.events(), s.w.errors()
drain:
	for range maxDrain {
		select {
		case ev := <-evs:
			s.notify(ev)
		case err := <-errs:
			s.notified(err)
		default:
			break drain
		}
	}
	if len(s.dirty) > 0 {
		s.handleDirty()
	}
	if s.rescan || !now.Before(s.due) {
		s.tick(now)
		s.watchDirs()
		s.due = now.Add(s.wake)
		s.wake = min(2*s.wake, s.cfg.poll)
	}
}

// active notes that records were found: names are looked at sooner for a while, since more
// is likely to come.
func (s *Source) active(now time.Time) {
	s.wake = max(s.cfg.poll/16, time.Millisecond)
	if due := now.Add(s.wake); due.Before(s.due) {
		s.due = due
	}
}

// wait sleeps until the next look at the names, a notification, the end of ctx or Close.
func (s *Source) wait(ctx context.Context) error {
	d := max(time.Until(s.due), 0)
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		s.timer.Reset(d)
	}
	defer s.timer.Stop()
	select {
	case <-s.timer.C:
	case ev := <-s.w.events():
		s.notify(ev)
	case err := <-s.w.errors():
		s.notified(err)
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
	}
	return nil
}
