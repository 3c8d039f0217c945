package store

import (
	"context"
	"errors"
	"os"
	"path"
	"reflect"
	"strings"
	"testing"

	"github.com/flumego/flume/node/event"
)

// leftovers writes two batches into the buckets of tags a and b, then crashes, leaving two
// .tmp files, and unrelated .tmp files beside them. It returns the spans of each batch.
func leftovers(t *testing.T, dir string, o Options) (first, second []Span) {
	t.Helper()
	w := openWriter(t, o)
	first = mustWrite(t, w, []*event.Event{ev("a1", t0, "tag", "a"), ev("b1", t0, "tag", "b")})
	second = mustWrite(t, w, []*event.Event{ev("a2", t0, "tag", "a"), ev("b2", t0, "tag", "b")})
	crash(t, w)
	for _, other := range []string{"a/other.tmp", "a/web-notatag.tmp", "README.tmp", "a/web-keep"} {
		if err := os.WriteFile(path.Join(dir, other), []byte("not ours"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return first, second
}

func TestRecover(t *testing.T) {
	tests := []struct {
		name  string
		keepA func(first, second Span) int64 // for a's file; b's keeps all
		wantA string                         // a's final content; "" = removed
		want  RecoverStats
	}{
		{"keep all", func(_, _ Span) int64 { return KeepAll }, "a1\na2\n",
			RecoverStats{Files: 2, Finalized: 2}},
		{"keep committed", func(f, _ Span) int64 { return f.To }, "a1\n",
			RecoverStats{Files: 2, Truncated: 1, Finalized: 2, BytesDropped: 3}},
		{"keep nothing", func(_, _ Span) int64 { return 0 }, "",
			RecoverStats{Files: 2, Removed: 1, Finalized: 1, BytesDropped: 6}},
		{"skip", func(_, _ Span) int64 { return KeepSkip }, "tmp",
			RecoverStats{Files: 2, Skipped: 1, Finalized: 1}},
		{"owner vouches for more", func(_, s Span) int64 { return s.To + 10 }, "a1\na2\n",
			RecoverStats{Files: 2, Short: 1, Finalized: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := testOptions(dir, "%{tag}/web-")
			first, second := leftovers(t, dir, o)
			aFile, bFile := first[0].File, first[1].File
			st, err := Recover(context.Background(), o, func(file string) int64 {
				switch file {
				case aFile:
					return tc.keepA(first[0], second[0])
				case bFile:
					return KeepAll
				}
				t.Errorf("keep asked about %q", file)
				return KeepSkip
			})
			if err != nil {
				t.Fatalf("Recover: %v", err)
			}
			done := st.Done
			st.Done = nil
			if !reflect.DeepEqual(st, tc.want) {
				t.Errorf("stats %+v, want %+v", st, tc.want)
			}
			if len(done) != st.Finalized+st.Removed {
				t.Errorf("done %q, want the %d files finalized or removed", done, st.Finalized+st.Removed)
			}
			got := tree(t, dir)
			switch tc.wantA {
			case "":
				if _, ok := got[aFile]; ok {
					t.Errorf("a's file finalized: %q", got[aFile])
				}
				if _, ok := got[aFile+".tmp"]; ok {
					t.Error("a's .tmp file left")
				}
			case "tmp":
				if got[aFile+".tmp"] != "a1\na2\n" {
					t.Errorf("skipped file holds %q", got[aFile+".tmp"])
				}
			default:
				if got[aFile] != tc.wantA {
					t.Errorf("a's file holds %q, want %q", got[aFile], tc.wantA)
				}
			}
			if got[bFile] != "b1\nb2\n" {
				t.Errorf("b's file holds %q", got[bFile])
			}
			for _, other := range []string{"a/other.tmp", "a/web-notatag.tmp", "README.tmp", "a/web-keep"} {
				if got[other] != "not ours" {
					t.Errorf("Recover touched %s", other)
				}
			}
		})
	}
}

func TestRecoverNoRootAndNilKeep(t *testing.T) {
	o := testOptions(path.Join(t.TempDir(), "missing"), "%Y/web-")
	if st, err := Recover(context.Background(), o, nil); err != nil || !reflect.DeepEqual(st, RecoverStats{}) {
		t.Errorf("Recover of a missing root = %+v, %v", st, err)
	}
	dir := t.TempDir()
	o = testOptions(dir, "%{tag}/web-")
	first, _ := leftovers(t, dir, o)
	st, err := Recover(context.Background(), o, nil)
	if err != nil || st.Finalized != 2 {
		t.Fatalf("Recover = %+v, %v", st, err)
	}
	if got := tree(t, dir)[first[0].File]; got != "a1\na2\n" {
		t.Errorf("file holds %q", got)
	}
}

// In exact mode a leftover takes its name, or the next free one if a file has it.
func TestRecoverExact(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir, "out.txt")
	o.Exact = true
	for name, content := range map[string]string{"out.txt": "old\n", "out.txt.tmp": "new\n", "out.txt.3.tmp": "three\n"} {
		if err := os.WriteFile(path.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := Recover(context.Background(), o, nil)
	if err != nil || st.Finalized != 2 {
		t.Fatalf("Recover = %+v, %v", st, err)
	}
	want := map[string]string{"out.txt": "old\n", "out.txt.1": "new\n", "out.txt.3": "three\n"}
	if got := tree(t, dir); !equalMaps(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
}

func TestRecoverStopsOnDoneContext(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir, "%{tag}/web-")
	leftovers(t, dir, o)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Recover(ctx, o, nil); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("Recover with a done ctx = %v", err)
	}
}

// Files open in a Writer of this process are never recovered under it, even by a template
// whose pattern matches them (a sink reopened by a roll beside another writing there).
func TestRecoverLeavesLiveFilesAlone(t *testing.T) {
	dir := t.TempDir()
	w := openWriter(t, testOptions(dir, "web-"))
	s := mustWrite(t, w, batch("a", 1, t0))
	o := testOptions(dir, "%{host}")
	o.Exact = true
	// "%{host}" in exact mode matches any name ending in .tmp, web-<tag>.tmp included.
	st, err := Recover(context.Background(), o, nil)
	if err != nil || st.Skipped != 1 || st.Finalized != 0 {
		t.Fatalf("Recover = %+v, %v; want the live file skipped", st, err)
	}
	mustWrite(t, w, batch("b", 1, t0))
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dir)[s[0].File]; got != "a-0\nb-0\n" {
		t.Errorf("file holds %q", got)
	}
}

// sharedFS is the local file system posing as storage that several collectors write to.
type sharedFS struct{ LocalFS }

func (sharedFS) Settle(context.Context, string) error { return nil }

// On storage several collectors write to, a file its owner has no record of is removed only
// if its name carries the owner's mark; another collector's file is left alone.
func TestRecoverKnowsItsOwnFiles(t *testing.T) {
	dir := t.TempDir()
	leave := func(owner string) Span {
		o := testOptions(dir, "web-")
		o.FS, o.Owner, o.ManualSettle = sharedFS{}, owner, true
		w := openWriter(t, o)
		spans := mustWrite(t, w, batch(owner, 1, t0))
		if _, err := w.Close(); !errors.Is(err, ErrUnsettled) {
			t.Fatalf("Close = %v, want the unsettled file left", err)
		}
		return spans[0]
	}
	mine, theirs := leave("c1"), leave("c2")
	o := testOptions(dir, "web-")
	o.FS, o.Owner = sharedFS{}, "c1"
	st, err := Recover(context.Background(), o, func(string) int64 { return KeepUnknown })
	if err != nil {
		t.Fatal(err)
	}
	if st.Removed != 1 || st.Skipped != 1 {
		t.Errorf("stats %+v, want c1's file removed and c2's skipped", st)
	}
	got := tree(t, dir)
	if _, ok := got[mine.File+".tmp"]; ok {
		t.Errorf("c1's unknown file is still there: %q", names(got))
	}
	if _, ok := got[theirs.File+".tmp"]; !ok {
		t.Errorf("c2's file is gone: %q", names(got))
	}
}
