package store

import (
	"context"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/flumego/flume/node/event"
)

// A compressed file cut at any span boundary is a valid stream holding exactly the batches
// before the cut: by Recover after a crash, and by Rollback.
func TestCompressedFilesCutAtSpans(t *testing.T) {
	big := batch(strings.Repeat("x", 1000), 600, t0) // > spillSize: several members in one Write
	for _, c := range []string{CompressNone, CompressGzip, CompressZstd, "DefaultCodec", "BZip2Codec", "SnappyCodec"} {
		t.Run("recover/"+c, func(t *testing.T) {
			dir := t.TempDir()
			o := testOptions(dir, "web-")
			o.Compress = c
			w := openWriter(t, o)
			b1, b2, b3 := batch("one", 10, t0), big, batch("three", 10, t0)
			s1 := mustWrite(t, w, b1)
			s2 := mustWrite(t, w, b2)
			s3 := mustWrite(t, w, b3)
			if s2[0].From != s1[0].To || s3[0].From != s2[0].To {
				t.Fatalf("spans %v %v %v do not follow each other", s1, s2, s3)
			}
			// Every prefix ending at a span boundary reads back as the batches before it.
			data, err := os.ReadFile(path.Join(dir, s3[0].File+".tmp"))
			if err != nil {
				t.Fatal(err)
			}
			for i, cut := range []int64{s1[0].To, s2[0].To, s3[0].To} {
				want := lines([][]*event.Event{b1, b2, b3}[:i+1]...)
				if got := decompress(t, c, data[:cut]); got != want {
					t.Errorf("prefix to %d: %d bytes, want %d", cut, len(got), len(want))
				}
			}
			crash(t, w)
			st, err := Recover(context.Background(), o, func(string) int64 { return s2[0].To })
			if err != nil || st.Truncated != 1 || st.Finalized != 1 {
				t.Fatalf("Recover = %+v, %v", st, err)
			}
			final, err := os.ReadFile(path.Join(dir, s1[0].File))
			if err != nil {
				t.Fatal(err)
			}
			if got := decompress(t, c, final); got != lines(b1, b2) {
				t.Errorf("recovered file holds %d bytes, want %d", len(got), len(lines(b1, b2)))
			}
		})
		t.Run("rollback/"+c, func(t *testing.T) {
			dir := t.TempDir()
			o := testOptions(dir, "web-")
			o.Compress = c
			w := openWriter(t, o)
			b1, b3 := batch("one", 10, t0), batch("three", 10, t0)
			mustWrite(t, w, b1)
			s2 := mustWrite(t, w, big)
			if err := w.Rollback(s2); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, w, b3)
			if _, err := w.Close(); err != nil {
				t.Fatal(err)
			}
			final, err := os.ReadFile(path.Join(dir, s2[0].File))
			if err != nil {
				t.Fatal(err)
			}
			if got := decompress(t, c, final); got != lines(b1, b3) {
				t.Errorf("file holds %q..., want the first and third batches", got[:min(len(got), 40)])
			}
		})
	}
}
