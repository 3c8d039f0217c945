package store

import (
	"context"
	"errors"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/metrics"
)

// Events of two hours go to two directories, by their own timestamps, late ones included.
func TestBucketsByEventTime(t *testing.T) {
	dir := t.TempDir()
	w := openWriter(t, testOptions(dir, "%Y-%m-%d/%H00/web-"))
	h10 := time.Date(2026, 11, 26, 10, 59, 59, 0, time.UTC)
	h11 := h10.Add(time.Second)
	evs := []*event.Event{ev("a", h10), ev("b", h11), ev("late", h10.Add(-time.Hour+time.Second)), ev("c", h11)}
	spans := mustWrite(t, w, evs)
	if len(spans) != 2 {
		t.Fatalf("spans %+v, want 2 (one per hour)", spans)
	}
	if _, err := w.Roll(); err != nil {
		t.Fatal(err)
	}
	got := tree(t, dir)
	want := map[string]string{
		"2026-11-26/1000/": "a\nlate\n",
		"2026-11-26/1100/": "b\nc\n",
	}
	if len(got) != 2 {
		t.Fatalf("files %v, want 2", names(got))
	}
	for name, content := range got {
		if want[path.Dir(name)+"/"] != content {
			t.Errorf("file %s holds %q", name, content)
		}
	}
}

// Each Write returns the span it appended to each file, in first-touched order, and spans of
// consecutive Writes follow each other.
func TestSpans(t *testing.T) {
	dir := t.TempDir()
	w := openWriter(t, testOptions(dir, "%{tag}/f-"))
	first := mustWrite(t, w, []*event.Event{ev("b1", t0, "tag", "b"), ev("a1", t0, "tag", "a"), ev("b2", t0, "tag", "b")})
	if len(first) != 2 || !strings.HasPrefix(first[0].File, "b/") || !strings.HasPrefix(first[1].File, "a/") {
		t.Fatalf("spans %+v, want b then a", first)
	}
	if first[0].From != 0 || first[0].To != 6 || first[1].From != 0 || first[1].To != 3 {
		t.Errorf("spans %+v", first)
	}
	second := mustWrite(t, w, []*event.Event{ev("a2", t0, "tag", "a")})
	if len(second) != 1 || second[0] != (Span{File: first[1].File, From: 3, To: 6}) {
		t.Errorf("second spans %+v, want %s [3, 6)", second, first[1].File)
	}
	data, err := os.ReadFile(path.Join(dir, first[1].File+".tmp"))
	if err != nil || string(data) != "a1\na2\n" {
		t.Errorf("file holds %q, %v", data, err)
	}
}

func TestRollFinalizes(t *testing.T) {
	dir := t.TempDir()
	reg := metrics.NewRegistry()
	o := testOptions(dir, "%{tag}/f-")
	o.Metrics = reg
	w := openWriter(t, o)
	spans := mustWrite(t, w, []*event.Event{ev("x", t0, "tag", "a"), ev("y", t0, "tag", "b")})
	finished, err := w.Roll()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(finished)
	want := []string{spans[0].File, spans[1].File}
	slices.Sort(want)
	if !slices.Equal(finished, want) {
		t.Errorf("Roll finished %q, want %q", finished, want)
	}
	if got := names(tree(t, dir)); !slices.Equal(got, want) {
		t.Errorf("files %q, want %q (no .tmp)", got, want)
	}
	if len(w.Open()) != 0 {
		t.Errorf("Open() = %q after Roll", w.Open())
	}
	for name, want := range map[string]int64{"files_opened": 2, "files_finalized": 2, "buckets_open": 0, "events_written": 2, "bytes_written": 4} {
		if got, _ := reg.Get(name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	// The next event of a key opens a new file.
	again := mustWrite(t, w, []*event.Event{ev("z", t0, "tag", "a")})
	if again[0].File == spans[0].File || again[0].From != 0 {
		t.Errorf("after Roll span %+v, want a new file", again[0])
	}
}

// With ManualSettle, a file is finalized only once everything written to it is settled; until
// then it stays open and takes more events, and Rollback may not cut what is settled.
func TestUnsettledFilesStayOpen(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir, "f-")
	o.ManualSettle = true
	w := openWriter(t, o)
	spans := mustWrite(t, w, batch("a", 2, t0))
	finished, err := w.Roll()
	if !errors.Is(err, ErrUnsettled) || len(finished) != 0 || !strings.Contains(err.Error(), spans[0].File) {
		t.Fatalf("Roll = %q, %v, want nothing finished and ErrUnsettled naming %s", finished, err, spans[0].File)
	}
	if got := w.Open(); len(got) != 1 || got[0] != spans[0].File+".tmp" {
		t.Fatalf("Open() = %q, want the file still open", got)
	}
	more := mustWrite(t, w, batch("b", 1, t0))
	if more[0].File != spans[0].File || more[0].From != spans[0].To {
		t.Errorf("span %+v, want %s from %d", more[0], spans[0].File, spans[0].To)
	}
	w.Settle(spans)
	if err := w.Rollback(spans); !errors.Is(err, ErrNotTail) {
		t.Errorf("Rollback of a span that is not the tail = %v", err)
	}
	if err := w.Rollback(more); err != nil {
		t.Fatalf("Rollback of the unsettled tail: %v", err)
	}
	if err := w.Rollback(spans); !errors.Is(err, ErrSettled) {
		t.Errorf("Rollback of a settled span = %v, want ErrSettled", err)
	}
	more = mustWrite(t, w, batch("c", 1, t0))
	if _, err := w.Roll(); !errors.Is(err, ErrUnsettled) {
		t.Fatalf("Roll with c unsettled = %v", err)
	}
	w.Settle(more)
	finished, err = w.Roll()
	if err != nil || !slices.Equal(finished, []string{spans[0].File}) {
		t.Fatalf("Roll = %q, %v", finished, err)
	}
	if got := tree(t, dir)[spans[0].File]; got != "a-0\na-1\nc-0\n" {
		t.Errorf("file holds %q", got)
	}
}

func TestRollback(t *testing.T) {
	dir := t.TempDir()
	reg := metrics.NewRegistry()
	o := testOptions(dir, "%{tag}/f-")
	o.Metrics = reg
	w := openWriter(t, o)
	a := mustWrite(t, w, []*event.Event{ev("a", t0, "tag", "x"), ev("a", t0, "tag", "y")})
	b := mustWrite(t, w, []*event.Event{ev("b", t0, "tag", "x"), ev("b", t0, "tag", "y")})

	// a is not a tail any more.
	if err := w.Rollback(a); !errors.Is(err, ErrNotTail) {
		t.Fatalf("Rollback of a non-tail = %v, want ErrNotTail", err)
	}
	if err := w.Rollback(b); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	mustWrite(t, w, []*event.Event{ev("c", t0, "tag", "x")})
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := tree(t, dir)
	if got[a[0].File] != "a\nc\n" || got[a[1].File] != "a\n" {
		t.Errorf("files %v", got)
	}
	if n, _ := reg.Get("files_truncated"); n != 2 {
		t.Errorf("files_truncated = %d, want 2", n)
	}
	if err := w.Rollback(a); !errors.Is(err, ErrClosed) {
		t.Errorf("Rollback after Close = %v, want ErrClosed", err)
	}
}

// Spans of several Writes roll back together, last first; a file rolled back to nothing is
// removed at Roll instead of being finalized empty.
func TestRollbackSeveralAndEmpty(t *testing.T) {
	dir := t.TempDir()
	w := openWriter(t, testOptions(dir, "f-"))
	s1 := mustWrite(t, w, batch("a", 1, t0))
	s2 := mustWrite(t, w, batch("b", 1, t0))
	if err := w.Rollback(append(s1, s2...)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Roll(); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dir); len(got) != 0 {
		t.Errorf("files %v, want none", got)
	}
	if err := w.Rollback(s1); !errors.Is(err, ErrNotOpen) {
		t.Errorf("Rollback of a finalized file = %v, want ErrNotOpen", err)
	}
}

// At most MaxOpen files are open: opening one more finalizes the least recently written; a
// Write never evicts a file it has itself written to, nor a file holding unsettled data.
func TestMaxOpenEvictsLeastRecentlyWritten(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir, "%{tag}-")
	o.MaxOpen = 2
	w := openWriter(t, o)
	sa := mustWrite(t, w, []*event.Event{ev("1", t0, "tag", "a")})
	mustWrite(t, w, []*event.Event{ev("1", t0, "tag", "b")})
	mustWrite(t, w, []*event.Event{ev("2", t0, "tag", "a")}) // a is now more recent than b
	sc := mustWrite(t, w, []*event.Event{ev("1", t0, "tag", "c")})
	finalized := finals(t, dir)
	if len(finalized) != 1 || !strings.HasPrefix(finalized[0], "b-") {
		t.Fatalf("finalized %q, want b's file", finalized)
	}
	if got := w.Open(); len(got) != 2 || !slices.Contains(got, sa[0].File+".tmp") || !slices.Contains(got, sc[0].File+".tmp") {
		t.Errorf("Open() = %q, want a and c", got)
	}

	// One Write touching more files than the bound opens them all and evicts none of them.
	spans := mustWrite(t, w, []*event.Event{ev("3", t0, "tag", "a"), ev("2", t0, "tag", "c"), ev("1", t0, "tag", "d")})
	if len(spans) != 3 || len(finals(t, dir)) != 1 || len(w.Open()) != 3 {
		t.Fatalf("spans %d, finalized %q, open %q", len(spans), finals(t, dir), w.Open())
	}
	// The next Write that opens a file brings the count back down.
	mustWrite(t, w, []*event.Event{ev("1", t0, "tag", "e")})
	if got := finals(t, dir); len(got) != 2 || len(w.Open()) != 3 {
		t.Errorf("finalized %q, open %q", got, w.Open())
	}
	// Roll reports the files evictions finished since the last report too.
	finished, err := w.Roll()
	if err != nil || len(finished) != 5 {
		t.Errorf("Roll finished %q, %v, want all 5 files", finished, err)
	}
}

// A Writer whose owner settles by hand evicts only settled files; with none, opening one more
// fails with ErrUnsettled and nothing of the Write stays.
func TestEvictionWaitsForSettle(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir, "%{tag}-")
	o.MaxOpen, o.ManualSettle = 1, true
	w := openWriter(t, o)
	sa := mustWrite(t, w, []*event.Event{ev("1", t0, "tag", "a")})
	if _, err := w.Write([]*event.Event{ev("1", t0, "tag", "b")}); !errors.Is(err, ErrUnsettled) {
		t.Fatalf("Write opening a second file = %v, want ErrUnsettled", err)
	}
	if got := w.Open(); len(got) != 1 || got[0] != sa[0].File+".tmp" {
		t.Fatalf("Open() = %q, want a's file alone", got)
	}
	w.Settle(sa)
	sb := mustWrite(t, w, []*event.Event{ev("1", t0, "tag", "b")})
	if got := finals(t, dir); !slices.Equal(got, []string{sa[0].File}) {
		t.Errorf("finalized %q, want a's file", got)
	}
	w.Settle(sb)
	finished, err := w.Close()
	if err != nil || !slices.Equal(finished, []string{sa[0].File, sb[0].File}) {
		t.Errorf("Close finished %q, %v", finished, err)
	}
}

func TestCloseIdle(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir, "%{tag}-")
	o.IdleAfter = time.Minute
	now := t0
	o.Now = func() time.Time { return now }
	w := openWriter(t, o)
	mustWrite(t, w, []*event.Event{ev("1", t0, "tag", "a")})
	now = t0.Add(2 * time.Minute)
	sb := mustWrite(t, w, []*event.Event{ev("1", t0, "tag", "b")})
	if _, err := w.CloseIdle(now.Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := w.Open(); len(got) != 1 || got[0] != sb[0].File+".tmp" {
		t.Errorf("Open() = %q, want only b's file", got)
	}
	if got := names(tree(t, dir)); len(got) != 2 {
		t.Errorf("files %q", got)
	}
}

func TestClosedWriter(t *testing.T) {
	w := openWriter(t, testOptions(t.TempDir(), "f-"))
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := w.Write(batch("a", 1, t0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v", err)
	}
	roll := func() error { _, err := w.Roll(); return err }
	for name, f := range map[string]func() error{"Sync": w.Sync, "Roll": roll} {
		if err := f(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v", name, err)
		}
	}
}

func TestSyncAndEmptyWrite(t *testing.T) {
	dir := t.TempDir()
	w := openWriter(t, testOptions(dir, "a/b/c/f-"))
	if spans, err := w.Write(nil); err != nil || spans != nil {
		t.Fatalf("Write(nil) = %v, %v", spans, err)
	}
	mustWrite(t, w, batch("a", 3, t0))
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesBadOptions(t *testing.T) {
	_, err := Open(context.Background(), Options{Path: "hdfs://nn/x/"})
	if !errors.Is(err, ErrHDFS) {
		t.Errorf("Open(hdfs) = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, testOptions(t.TempDir(), "f-")); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a done ctx = %v", err)
	}
}

// finals returns the finalized files under dir (no .tmp), sorted.
func finals(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, n := range names(tree(t, dir)) {
		if !strings.HasSuffix(n, tmpExt) {
			out = append(out, n)
		}
	}
	return out
}

// With RollBytes, the Write that fills a file seals it: the bucket's next event opens a new
// file, and Tidy finalizes the full one once it is settled, as it does idle files.
func TestRollBySizeAndTidy(t *testing.T) {
	dir := t.TempDir()
	reg := metrics.NewRegistry()
	o := testOptions(dir, "%{tag}-")
	o.RollBytes, o.ManualSettle, o.IdleAfter, o.Metrics = 8, true, time.Minute, reg
	now := t0
	o.Now = func() time.Time { return now }
	w := openWriter(t, o)
	first := mustWrite(t, w, []*event.Event{ev("aaaa", t0, "tag", "a"), ev("bbbb", t0, "tag", "a")}) // 10 bytes: full
	second := mustWrite(t, w, []*event.Event{ev("cc", t0, "tag", "a"), ev("x", t0, "tag", "b")})
	if second[0].File == first[0].File || second[0].From != 0 {
		t.Fatalf("span after a full file %+v, want a new file", second[0])
	}
	if n, _ := reg.Get("files_rolled_by_size"); n != 1 {
		t.Errorf("files_rolled_by_size = %d, want 1", n)
	}
	// Nothing is settled yet: Tidy leaves every file open.
	if done, err := w.Tidy(now); err != nil || len(done) != 0 {
		t.Fatalf("Tidy before Settle = %q, %v", done, err)
	}
	w.Settle(first)
	w.Settle(second)
	done, err := w.Tidy(now)
	if err != nil || !slices.Equal(done, []string{first[0].File}) {
		t.Fatalf("Tidy = %q, %v, want the full file alone", done, err)
	}
	// An hour later both others are idle.
	now = now.Add(time.Hour)
	done, err = w.Tidy(now)
	slices.Sort(done)
	want := []string{second[0].File, second[1].File}
	slices.Sort(want)
	if err != nil || !slices.Equal(done, want) {
		t.Fatalf("Tidy of idle files = %q, %v, want %q", done, err, want)
	}
	got := tree(t, dir)
	if got[first[0].File] != "aaaa\nbbbb\n" || got[second[0].File] != "cc\n" || len(w.Open()) != 0 {
		t.Errorf("files %q, open %q", got, w.Open())
	}
}
