package spooldir

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/flumego/flume/node/plugin/plugintest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newEnv returns an env whose registry holds the spooldir source.
func newEnv(props map[string]string) *plugintest.Env {
	return plugintest.NewEnv(props, Register)
}

// build builds spooldir on dir with the keyword arguments kw ("" for none).
func build(t testing.TB, env *plugintest.Env, dir, kw string) *Source {
	t.Helper()
	text := fmt.Sprintf("spooldir(%q)", dir)
	if kw != "" {
		text = fmt.Sprintf("spooldir(%q, %s)", dir, kw)
	}
	s, err := env.BuildSource(t, text)
	if err != nil {
		t.Fatalf("build %s: %v", text, err)
	}
	return s.(*Source)
}

// open builds spooldir on dir and opens it; it is closed when the test ends.
func open(t testing.TB, env *plugintest.Env, dir, kw string) *Source {
	t.Helper()
	s := build(t, env, dir, kw)
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// numbered returns n lines called prefix-000001 and on.
func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%06d", prefix, i+1)
	}
	return out
}

// writeFile writes content to dir/name with modification time mtime (none if zero).
func writeFile(t testing.TB, dir, name, content string, mtime time.Time) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// writeLines writes lines, each ended by '\n', to dir/name with modification time mtime.
func writeLines(t testing.TB, dir, name string, lines []string, mtime time.Time) string {
	t.Helper()
	return writeFile(t, dir, name, strings.Join(lines, "\n")+"\n", mtime)
}

// names returns the names in dir, sorted.
func names(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}

// base is a modification time in the past, from which test files get increasing ones.
var base = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// at returns base plus k seconds.
func at(k int) time.Time { return base.Add(time.Duration(k) * time.Second) }

// reader reads a source as the flow driver does: Next, then Ack and Position once the batch
// is delivered. It keeps copies of the bodies delivered and the last position saved.
type reader struct {
	s     *Source
	got   []string
	files []string // the spoolSrcFile of each line
	pos   []byte
}

// step reads one batch with a deadline of d and delivers it. It returns Next's error.
func (r *reader) step(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	batch, err := r.s.Next(ctx)
	if err != nil {
		return err
	}
	for _, e := range batch {
		r.got = append(r.got, string(e.Body))
		v, _ := e.Attr(AttrSpoolSrcFile)
		r.files = append(r.files, string(v))
	}
	if err := r.s.Ack(ctx); err != nil {
		return err
	}
	r.pos = r.s.Position()
	return nil
}

// readN delivers batches until n lines in all were delivered, failing the test on an error
// or if that takes more than 20 s.
func (r *reader) readN(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(r.got) < n {
		if err := r.step(time.Until(deadline)); err != nil {
			t.Fatalf("after %d of %d lines: %v", len(r.got), n, err)
		}
	}
	if len(r.got) > n {
		t.Fatalf("delivered %d lines, want %d: %q", len(r.got), n, plugintest.Short(r.got))
	}
}

// settle lets the source mark done the file it finished, then wait for more: a Next that
// must end at its short deadline with nothing.
func (r *reader) settle(t testing.TB) {
	t.Helper()
	if err := r.step(200 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on a spent directory = %v, want it to wait (context.DeadlineExceeded)", err)
	}
}
