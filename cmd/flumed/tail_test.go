package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flumego/flume/node/plugin/plugintest"
)

// The tail scenarios (FAULTS.md rows 13-15): a writer appends numbered lines to logs at 20,000
// lines/s while they are rotated, and while the agent that tails them end to end is killed;
// every line written is found exactly once at the collector, save the lines a rotation destroyed
// before any reader could read them: those the writer knows of, and the agent counts.

const (
	tailRate  = 20000 // lines written per second
	tailEvery = 8000  // lines written between two faults
	tailBurst = 50    // lines copytruncate writes between the copy and the truncation
)

// span is a run of line numbers, [from, to).
type span struct{ from, to int }

// logWriter appends numbered lines to a log and rotates it on demand. It keeps the spans of
// lines a rotation may have destroyed before a reader could read them.
type logWriter struct {
	t     *testing.T
	path  string
	mu    sync.Mutex
	f     *os.File
	buf   []byte
	next  int // the number of the next line
	first int // the number of the first line in the file as it is now
	halt  func()
	extra int // rotations

	mayLose     []span
	inodeReused int // recreations whose new file got the old one's inode
}

func newLogWriter(t *testing.T, path string) *logWriter {
	lw := &logWriter{t: t, path: path}
	lw.open()
	lw.halt = every10ms(func() {
		lw.mu.Lock()
		defer lw.mu.Unlock()
		lw.write(tailRate / 100)
	})
	t.Cleanup(lw.finish)
	return lw
}

// every10ms calls step every 10 ms on a goroutine of its own; the function it returns stops
// it, and returns once step has returned for the last time.
func every10ms(step func()) (halt func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				step()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit) })
		<-done
	}
}

func (lw *logWriter) open() {
	f, err := os.OpenFile(lw.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		lw.t.Error(err)
		return
	}
	lw.f = f
}

// write appends n lines in one write; lw.mu is held.
func (lw *logWriter) write(n int) {
	lw.buf = lw.buf[:0]
	for range n {
		lw.buf = numberedLine(lw.buf, lw.next)
		lw.next++
	}
	if _, err := lw.f.Write(lw.buf); err != nil {
		lw.t.Error(err)
	}
}

var linePad = strings.Repeat("y", 120)

func numberedLine(b []byte, n int) []byte { return appendLine(b, n, linePad) }

// finish stops writing and closes the file.
func (lw *logWriter) finish() {
	lw.halt()
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.f != nil {
		_ = lw.f.Close()
		lw.f = nil
	}
}

func (lw *logWriter) written() int {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.next
}

// rotate rotates the log: "rename" (rename and create), "copytruncate" (with tailBurst lines
// written between the copy and the truncation: they are in no copy), "truncate" (in place:
// what was not read is lost), "recreate" (delete and create again). unread says no reader holds
// the file: a deleted file's unread lines are lost then.
func (lw *logWriter) rotate(how string, unread bool) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.extra++
	switch how {
	case "rename":
		_ = lw.f.Close()
		if err := os.Rename(lw.path, fmt.Sprintf("%s.%d", lw.path, lw.extra)); err != nil {
			lw.t.Error(err)
		}
		lw.open()
	case "copytruncate":
		lw.copyTo(fmt.Sprintf("%s.%d", lw.path, lw.extra))
		lw.mayLose = append(lw.mayLose, span{lw.next, lw.next + tailBurst})
		lw.write(tailBurst)
		lw.truncate()
	case "truncate":
		lw.mayLose = append(lw.mayLose, span{lw.first, lw.next})
		lw.truncate()
	case "recreate":
		before := inodeOf(lw.path)
		_ = lw.f.Close()
		if err := os.Remove(lw.path); err != nil {
			lw.t.Error(err)
		}
		lw.open()
		if unread {
			lw.mayLose = append(lw.mayLose, span{lw.first, lw.next})
		}
		if before != 0 && inodeOf(lw.path) == before {
			lw.inodeReused++
		}
	default:
		lw.t.Fatalf("no rotation %q", how)
	}
	lw.first = lw.next
}

func (lw *logWriter) copyTo(path string) {
	src, err := os.Open(lw.path)
	if err != nil {
		lw.t.Error(err)
		return
	}
	defer src.Close()
	dst, err := os.Create(path)
	if err != nil {
		lw.t.Error(err)
		return
	}
	if _, err := io.Copy(dst, src); err != nil {
		lw.t.Error(err)
	}
	if err := dst.Close(); err != nil {
		lw.t.Error(err)
	}
}

func (lw *logWriter) truncate() {
	if err := lw.f.Truncate(0); err != nil {
		lw.t.Error(err)
	}
}

func inodeOf(path string) uint64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// checkLosses fails the test unless every lost line lies in a span that may be lost, and the
// lost lines of each span are its last ones: a reader reads a file in order, so it cannot have
// skipped a line and read a later one of the same file. It returns how many lines were lost.
func checkLosses(t *testing.T, ta tally, mayLose []span) int {
	t.Helper()
	inSpan := make([]bool, len(ta.counts))
	for _, sp := range mayLose {
		seenLost := false
		for n := sp.from; n < min(sp.to, len(ta.counts)); n++ {
			inSpan[n] = true
			if ta.counts[n] == 0 {
				seenLost = true
			} else if seenLost {
				t.Errorf("line %d was delivered after earlier lines of its file were lost (span %d-%d)", n, sp.from, sp.to-1)
			}
		}
	}
	for n, c := range ta.counts {
		if c == 0 && !inSpan[n] {
			t.Errorf("line %d was lost, and no rotation destroyed it", n)
			break
		}
	}
	return ta.lost()
}

// newTailPlane starts a master and a collector, and makes the directory of the logs. It skips
// the test in short mode, and runs it in parallel with the other tests.
func newTailPlane(t *testing.T) (*dataplane, string) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	t.Parallel()
	d := newDataplaneWith(t, 1, 1, 0)
	// A directory of its own: a new directory goes to a quiet part of an ext4 file system,
	// where a deleted file's inode is the next one given out.
	logDir := filepath.Join(d.dir, "logs")
	if err := os.Mkdir(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return d, logDir
}

// tailScenario ships a log end to end while it is rotated rotations times by how ("" rotates
// not), and checks conservation. With down "agent" or "collector", that process is SIGKILLed
// before every other rotation and started again after it.
func tailScenario(t *testing.T, how string, rotations int, down string) {
	d, logDir := newTailPlane(t)
	logPath := filepath.Join(logDir, "app.log")
	d.startAgentWith(fmt.Sprintf("tail(%q)", logPath), d.chain("E2E"))
	lw := newLogWriter(t, logPath)
	plugintest.Eventually(t, 20*time.Second, throttle(filePoll, func() bool { return d.written() > 0 }),
		func() string { return "nothing reached the collector\n" + d.logs() })
	downs := 0
	for i := range rotations {
		at := lw.written()
		plugintest.Eventually(t, 10*time.Second, func() bool { return lw.written() >= at+tailEvery }, nil)
		var killed *proc
		if i%2 == 0 {
			switch down {
			case "agent":
				killed = d.agent
			case "collector":
				killed = d.cols[0]
			}
		}
		if killed != nil {
			killed.kill()
			downs++
		}
		if how != "" {
			lw.rotate(how, killed == d.agent)
		}
		if killed != nil {
			// The writer goes on while the process is down.
			at := lw.written()
			plugintest.Eventually(t, 10*time.Second, func() bool { return lw.written() >= at+tailEvery/2 }, nil)
			killed.start()
		}
	}
	at := lw.written()
	plugintest.Eventually(t, 10*time.Second, func() bool { return lw.written() >= at+tailEvery }, nil)
	lw.finish()
	d.lines = lw.written()
	ta := d.waitTail(120 * time.Second)
	lost := checkLosses(t, ta, lw.mayLose)
	t.Logf("tail %s: written=%d delivered=%d lost=%d duplicates=%d rotations=%d killed=%q kills=%d inode_reused=%d truncations=%d bytes_lost_truncated=%d files_gone=%d gaps=[%s]",
		how, d.lines, ta.distinct(), lost, ta.dups, rotations, down, downs, lw.inodeReused,
		d.agentMetric("truncations"), d.agentMetric("bytes_lost_truncated"), d.agentMetric("files_gone"), ta.gaps())
	if ta.dups != 0 || ta.foreign != 0 {
		t.Fatalf("tail %s: %d duplicates, %d foreign lines\n%s", how, ta.dups, ta.foreign, d.logs())
	}
	if t.Failed() {
		am, _ := d.e.ctl(0, "metrics", "agent1")
		cm, _ := d.e.ctl(0, "metrics", "col1")
		t.Fatalf("tail %s: lines lost\n%s\n%s\n%s", how, am, cm, d.logs())
	}
	if lost == 0 {
		return
	}
	// What was lost must have been reported by the agent that lost it: as a truncation, or
	// as a file of its position gone when it restarted.
	if how == "copytruncate" || how == "truncate" || how == "recreate" {
		if d.agentMetric("truncations")+d.agentMetric("files_gone") <= 0 {
			t.Fatalf("tail %s: %d lines lost and neither a truncation nor a gone file counted", how, lost)
		}
	}
}

func TestTailRenameRotation(t *testing.T)         { tailScenario(t, "rename", 4, "") }
func TestTailCopytruncateRotation(t *testing.T)   { tailScenario(t, "copytruncate", 4, "") }
func TestTailTruncateInPlace(t *testing.T)        { tailScenario(t, "truncate", 3, "") }
func TestTailDeleteAndRecreate(t *testing.T)      { tailScenario(t, "recreate", 4, "") }
func TestTailRotationWhileAgentDown(t *testing.T) { tailScenario(t, "rename", 4, "agent") }
func TestTailAgentKilledMidFile(t *testing.T)     { tailScenario(t, "", 4, "agent") }

// TestTailRecreateWhileAgentDown deletes the log and creates it again while the agent is down,
// so that the new file may get the old one's inode: the restarted agent must not take it for
// the old file and skip its start. The lines of the old file it had not read when it was killed
// are lost with the file, and the file is counted as gone. Whether the inode is reused is up to
// the file system (ext4 gives out the lowest free one): the test reports it.
func TestTailRecreateWhileAgentDown(t *testing.T) { tailScenario(t, "recreate", 4, "agent") }

// TestTailTruncateWhileAgentDown truncates the log in place while the agent is down, and the
// writer fills it again: the same inode holds other lines when the agent comes back, as when
// a deleted file's inode is reused, on every file system.
func TestTailTruncateWhileAgentDown(t *testing.T) { tailScenario(t, "truncate", 4, "agent") }

// TestTailRecreateWhileCollectorDown deletes and recreates the log while the collector is
// down: the agent has read the old file into its log, so nothing is lost.
func TestTailRecreateWhileCollectorDown(t *testing.T) { tailScenario(t, "recreate", 4, "collector") }

// dirWriter appends numbered lines to the files of a directory, a few lines at a time to each
// file in turn, adds files as it goes, and writes noise to files tailDir must leave out.
type dirWriter struct {
	t     *testing.T
	dir   string
	mu    sync.Mutex
	files []*os.File
	noise *os.File
	max   int // files at most
	next  int
	at    int // the next file to write to
	ticks int
	buf   []byte
	halt  func()
}

func newDirWriter(t *testing.T, dir string, files, max int) *dirWriter {
	w := &dirWriter{t: t, dir: dir, max: max}
	for range files {
		w.add()
	}
	noise, err := os.Create(filepath.Join(dir, "noise.txt"))
	if err != nil {
		t.Fatal(err)
	}
	w.noise = noise
	w.halt = every10ms(w.step)
	t.Cleanup(w.finish)
	return w
}

func (w *dirWriter) add() {
	f, err := os.OpenFile(filepath.Join(w.dir, fmt.Sprintf("f%05d.log", len(w.files))), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		w.t.Error(err)
		return
	}
	w.files = append(w.files, f)
}

// step writes a 100th of tailRate lines, 5 to each of 40 files, and adds a file every other
// step.
func (w *dirWriter) step() {
	const perFile = 5
	w.mu.Lock()
	defer w.mu.Unlock()
	for range tailRate / 100 / perFile {
		w.buf = w.buf[:0]
		for range perFile {
			w.buf = numberedLine(w.buf, w.next)
			w.next++
		}
		if _, err := w.files[w.at].Write(w.buf); err != nil {
			w.t.Error(err)
		}
		w.at = (w.at + 1) % len(w.files)
	}
	if _, err := w.noise.WriteString("noise, not a log\n"); err != nil {
		w.t.Error(err)
	}
	if w.ticks++; w.ticks%2 == 0 && len(w.files) < w.max {
		w.add()
	}
}

func (w *dirWriter) written() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next
}

func (w *dirWriter) finish() {
	w.halt()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.files {
		_ = f.Close()
	}
	w.files = nil
	if w.noise != nil {
		_ = w.noise.Close()
		w.noise = nil
	}
}

// TestTailDirManyFiles follows 1,000 files, and more that appear, while they are written at
// 20,000 lines/s, with the agent killed twice: every line arrives exactly once, and the
// agent never holds more files open than its limit.
func TestTailDirManyFiles(t *testing.T) {
	d, logDir := newTailPlane(t)
	w := newDirWriter(t, logDir, 1000, 1500)
	d.startAgentWith(fmt.Sprintf(`tailDir(%q, "^f.*\\.log$")`, logDir), d.chain("E2E"))
	plugintest.Eventually(t, 20*time.Second, throttle(filePoll, func() bool { return d.written() > 0 }),
		func() string { return "nothing reached the collector\n" + d.logs() })
	maxOpen := int64(0)
	for range 2 {
		at := w.written()
		plugintest.Eventually(t, 10*time.Second, func() bool { return w.written() >= at+tailEvery }, nil)
		// The metrics come with the heartbeats: wait for a report of this run.
		plugintest.Eventually(t, 10*time.Second, throttle(ctlPoll, func() bool { return d.agentMetric("files_followed") >= 1000 }), nil)
		maxOpen = max(maxOpen, d.agentMetric("files_open"))
		d.agent.kill()
		at = w.written()
		plugintest.Eventually(t, 10*time.Second, func() bool { return w.written() >= at+tailEvery/2 }, nil)
		d.agent.start()
	}
	at := w.written()
	plugintest.Eventually(t, 20*time.Second, func() bool { return w.written() >= at+2*tailEvery }, nil)
	maxOpen = max(maxOpen, d.agentMetric("files_open"))
	w.finish()
	d.lines = w.written()
	ta := d.waitTail(120 * time.Second)
	files := len(mustGlob(t, filepath.Join(logDir, "f*.log")))
	var followed int64
	plugintest.Eventually(t, 10*time.Second, throttle(ctlPoll, func() bool {
		followed = d.agentMetric("files_followed")
		return followed >= int64(files)
	}), func() string { return fmt.Sprintf("the agent follows %d files, want %d", followed, files) })
	t.Logf("tailDir: files=%d written=%d delivered=%d lost=%d duplicates=%d foreign=%d files_open=%d (sampled) files_followed=%d gaps=[%s]",
		files, d.lines, ta.distinct(), ta.lost(), ta.dups, ta.foreign, maxOpen, followed, ta.gaps())
	if ta.lost() != 0 || ta.dups != 0 || ta.foreign != 0 {
		t.Fatalf("tailDir: %d lost, %d duplicates, %d foreign lines\n%s", ta.lost(), ta.dups, ta.foreign, d.logs())
	}
	if maxOpen > 256 {
		t.Errorf("the agent held %d files open, over its limit of 256", maxOpen)
	}
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
