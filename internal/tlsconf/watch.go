package tlsconf

import (
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// defaultWatchDebounce is how long Watch waits after the last change before reloading, so
// that a cert and key replaced one after the other are read together.
const defaultWatchDebounce = 250 * time.Millisecond

// Watch reloads the files when they change, until stop is called. It watches the directories
// of the files (and of their symlink targets), not the files, so that an atomic rename over a
// file and a Kubernetes secret update (a swap of the ..data symlink) are both seen. Changes
// are debounced; then the files are reloaded as by Reload and the outcome logged to log (nil
// discards): a success with the new leaf's subject and NotAfter, a failure as an error saying
// the previous certificates stay in use. A reload that finds the same certificates logs
// nothing. If the directories cannot be watched, Watch logs why and the returned stop does
// nothing; Reload still works.
//
// stop ends the watch and returns once its goroutine has exited; it is safe to call twice.
func (p *Provider) Watch(log *slog.Logger) (stop func()) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		log.Error("cannot watch the tls files; they are reloaded only on SIGHUP", "err", err)
		return func() {}
	}
	for _, dir := range p.watchDirs() {
		if err := w.Add(dir); err != nil {
			_ = w.Close()
			log.Error("cannot watch the tls files; they are reloaded only on SIGHUP", "dir", dir, "err", err)
			return func() {}
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer w.Close()
		p.watch(w, log, done)
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

// watchDirs returns the directories of the files and of the files their symlinks resolve to.
func (p *Provider) watchDirs() []string {
	var dirs []string
	seen := make(map[string]bool)
	add := func(dir string) {
		if !seen[dir] {
			seen[dir] = true
			dirs = append(dirs, dir)
		}
	}
	for _, f := range []string{p.files.CA, p.files.Cert, p.files.Key} {
		if f == "" {
			continue // LoadClient without a certificate
		}
		add(filepath.Dir(f))
		if real, err := filepath.EvalSymlinks(f); err == nil {
			add(filepath.Dir(real))
		}
	}
	return dirs
}

// watch is Watch's goroutine: it reloads once no change has been seen for the debounce period.
func (p *Provider) watch(w *fsnotify.Watcher, log *slog.Logger, done <-chan struct{}) {
	timer := time.NewTimer(p.watchDebounce)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-done:
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			timer.Reset(p.watchDebounce)
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			log.Warn("watching the tls files", "err", err)
		case <-timer.C:
			changed, err := p.reloadChanged()
			switch {
			case err != nil:
				log.Error("tls files changed but cannot be loaded; keeping the previous certificates", "err", err)
			case changed && p.Leaf() == nil:
				log.Info("tls CA bundle reloaded", "ca", p.files.CA)
			case changed:
				leaf := p.Leaf()
				log.Info("tls certificates reloaded", "cert", p.files.Cert, "subject", leaf.Subject.CommonName,
					"not_after", leaf.NotAfter)
			}
		}
	}
}
