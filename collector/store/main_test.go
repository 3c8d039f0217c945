package store

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/zlib"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"go.uber.org/goleak"

	"github.com/flumego/flume/internal/hadoop/codec"
	"github.com/flumego/flume/node/event"
)

// TestMain fails the package's tests if a goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is the clock of the tests' Writers, and the time of most events.
var t0 = time.Date(2026, 11, 26, 10, 39, 15, 123456789, time.UTC)

// ev returns an event with body at ts, from host web1, with attributes given as key, value
// pairs.
func ev(body string, ts time.Time, kv ...string) *event.Event {
	e := &event.Event{Body: []byte(body), Timestamp: ts.UnixNano(), Priority: event.INFO, Host: "web1"}
	for i := 0; i+1 < len(kv); i += 2 {
		_ = e.SetAttr(kv[i], []byte(kv[i+1]))
	}
	return e
}

// batch returns n events "<prefix>-<i>" at ts.
func batch(prefix string, n int, ts time.Time) []*event.Event {
	out := make([]*event.Event, n)
	for i := range out {
		out[i] = ev(prefix+"-"+itoa(i), ts)
	}
	return out
}

func itoa(i int) string { return string(appendPadded(nil, uint64(i), 1)) }

// lines returns the raw-format bytes of events.
func lines(evs ...[]*event.Event) string {
	var b strings.Builder
	for _, es := range evs {
		for _, e := range es {
			b.Write(e.Body)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// testOptions returns options for a Writer under dir with a fixed clock and zone.
func testOptions(dir, tpl string) Options {
	return Options{Path: dir + "/" + tpl, Location: time.UTC, Now: func() time.Time { return t0 }}
}

// openWriter opens a Writer and closes it when the test ends.
func openWriter(t testing.TB, o Options) *Writer {
	t.Helper()
	w, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _, _ = w.Close() })
	return w
}

func mustWrite(t testing.TB, w *Writer, evs []*event.Event) []Span {
	t.Helper()
	spans, err := w.Write(evs)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return spans
}

// tree returns every file under dir, by slash-separated path relative to dir, with its
// content.
func tree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return out
}

// names returns the sorted keys of a tree.
func names(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// decompress returns the content of a file written with compression c.
func decompress(t testing.TB, c string, data []byte) string {
	t.Helper()
	var r io.Reader
	switch c {
	case CompressNone:
		return string(data)
	case CompressGzip:
		gz, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		defer gz.Close()
		r = gz
	case CompressZstd:
		zr, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1))
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		defer zr.Close()
		r = zr
	case "DefaultCodec":
		// zlib streams one after another, read with the standard library's reader.
		br := bufio.NewReader(bytes.NewReader(data))
		var out []byte
		for {
			if _, err := br.Peek(1); err == io.EOF {
				return string(out)
			}
			zr, err := zlib.NewReader(br)
			if err != nil {
				t.Fatalf("zlib: %v", err)
			}
			b, err := io.ReadAll(zr)
			if err != nil {
				t.Fatalf("zlib: %v", err)
			}
			out = append(out, b...)
		}
	case "BZip2Codec":
		r = bzip2.NewReader(bytes.NewReader(data)) // the standard library's reader
	default:
		cr, err := lookupCodec(c).NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		defer cr.Close()
		r = cr
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decompress %s: %v", c, err)
	}
	return string(out)
}

// crash closes w's files without finalizing anything, as a killed process would leave them.
func crash(t testing.TB, w *Writer) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for b := w.lruHead; b != nil; b = b.next {
		if b.f != nil {
			_ = b.f.Close()
			b.f = nil
		}
		removeLive(b.liveID) // the process that held it is gone
	}
	w.closed = true
}

// lookupCodec returns the codec of a name known to be valid.
func lookupCodec(name string) codec.Codec {
	c, err := codec.Lookup(name)
	if err != nil || c == nil {
		panic("no codec " + name)
	}
	return c
}
