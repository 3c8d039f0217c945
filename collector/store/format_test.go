package store

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/format"
	"github.com/flumego/flume/node/plugin"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/spec"
)

// buildFormat builds the output format named by call text, such as avrodata("deflate").
func buildFormat(t testing.TB, text string) plugin.Format {
	t.Helper()
	env := plugintest.NewEnv(nil, format.Register)
	c, err := spec.ParseSink("x(" + text + ")")
	if err != nil {
		t.Fatal(err)
	}
	call := c.(*spec.SinkCall).Call.Args[0]
	if call.Kind == spec.KindString {
		call.Func = &spec.Call{Name: call.Str}
	}
	f, err := env.Registry.BuildFormat(env.BuildContext, call.Func)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// ocfHeader is a container file header (the Avro specification's org.apache.avro.file.Header).
type ocfHeader struct {
	Magic [4]byte           `avro:"magic"`
	Meta  map[string][]byte `avro:"meta"`
	Sync  [16]byte          `avro:"sync"`
}

var headerSchema = avro.MustParse(`{"type":"record","name":"org.apache.avro.file.Header","fields":[
	{"name":"magic","type":{"type":"fixed","name":"Magic","size":4}},
	{"name":"meta","type":{"type":"map","values":"bytes"}},
	{"name":"sync","type":{"type":"fixed","name":"Sync","size":16}}]}`)

// avroBodies reads a container file with hamba/avro and decoders of its own, and returns the
// bodies of its records. Anything unreadable, a torn block included, fails the test.
func avroBodies(t testing.TB, data []byte) []string {
	t.Helper()
	r := avro.NewReader(bytes.NewReader(data), 512)
	var h ocfHeader
	r.ReadVal(headerSchema, &h)
	if r.Error != nil || h.Magic != [4]byte{'O', 'b', 'j', 1} {
		t.Fatalf("read header: %v (magic %q)", r.Error, h.Magic[:])
	}
	schema := avro.MustParse(format.AvroSchema)
	var out []string
	for {
		count := r.ReadLong()
		if errors.Is(r.Error, io.EOF) {
			return out
		}
		raw := make([]byte, r.ReadLong())
		r.Read(raw)
		var sync [16]byte
		r.Read(sync[:])
		if r.Error != nil || sync != h.Sync {
			t.Fatalf("block after %d records: %v (sync %x, want %x)", len(out), r.Error, sync, h.Sync)
		}
		br := avro.NewReader(bytes.NewReader(inflate(t, string(h.Meta["avro.codec"]), raw)), 512)
		for range count {
			var rec struct {
				Body []byte `avro:"body"`
			}
			br.ReadVal(schema, &rec)
			if br.Error != nil {
				t.Fatalf("record %d: %v", len(out), br.Error)
			}
			out = append(out, string(rec.Body))
		}
	}
}

func inflate(t testing.TB, codec string, b []byte) []byte {
	t.Helper()
	var out []byte
	var err error
	switch codec {
	case "null":
		return b
	case "deflate":
		out, err = io.ReadAll(flate.NewReader(bytes.NewReader(b)))
	case "snappy":
		out, err = snappy.Decode(nil, b[:len(b)-4]) // a CRC-32 of the block follows
	case "zstandard":
		var d *zstd.Decoder
		if d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1)); err == nil {
			out, err = d.DecodeAll(b, nil)
			d.Close()
		}
	default:
		err = fmt.Errorf("unknown codec %q", codec)
	}
	if err != nil {
		t.Fatalf("decompress %s block: %v", codec, err)
	}
	return out
}

func bodies(evs ...[]*event.Event) []string {
	var out []string
	for _, es := range evs {
		for _, e := range es {
			out = append(out, string(e.Body))
		}
	}
	return out
}

// Every output format of node/format writes through the Writer the bytes its encoder writes,
// across several Writes and a Rollback.
func TestEveryFormat(t *testing.T) {
	tests := []struct {
		format    string
		container bool
	}{
		{"raw", false}, {"default", false}, {"debug", false}, {"json", false}, {"log4j", false},
		{"syslog", false}, {"avrojson", false},
		{"avrodata", true}, {`avrodata("deflate")`, true}, {`avrodata("zstandard")`, true},
		{`avrodata("snappy")`, true}, {"avro", true},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			dir := t.TempDir()
			f := buildFormat(t, tc.format)
			o := testOptions(dir, "web-")
			o.Format = f
			w := openWriter(t, o)
			b1 := batch("one", 5, t0)
			b1[0] = ev("with attrs", t0, "service", "sshd", "k", "v")
			b2, b3 := batch("two", 5, t0), batch("three", 5, t0)
			mustWrite(t, w, b1)
			s2 := mustWrite(t, w, b2)
			if err := w.Rollback(s2); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, w, b3)
			if _, err := w.Close(); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path.Join(dir, s2[0].File))
			if err != nil {
				t.Fatal(err)
			}
			if tc.container {
				if got, want := avroBodies(t, data), bodies(b1, b3); !slices.Equal(got, want) {
					t.Errorf("records %q, want %q", got, want)
				}
				return
			}
			want := plugintest.Encode(t, f, slices.Concat(b1, b3)...)
			if !bytes.Equal(data, want) {
				t.Errorf("file holds\n%s\nwant\n%s", data, want)
			}
		})
	}
}

// A container file rolled back to nothing starts again with a header; one that failed a
// write mid-file takes no more events, and the next go to a new, valid file.
func TestContainerRestarts(t *testing.T) {
	dir := t.TempDir()
	fsys := &faultFS{}
	o := testOptions(dir, "web-")
	o.Format = buildFormat(t, "avrodata")
	o.FS = fsys
	w := openWriter(t, o)

	s1 := mustWrite(t, w, batch("gone", 3, t0))
	if err := w.Rollback(s1); err != nil {
		t.Fatal(err)
	}
	b2 := batch("two", 3, t0)
	s2 := mustWrite(t, w, b2)
	if s2[0].File != s1[0].File || s2[0].From != 0 {
		t.Fatalf("span %+v, want the same file from 0", s2[0])
	}
	fsys.failWrites(errDiskFull, 10)
	if _, err := w.Write(batch("fails", 3, t0)); !errors.Is(err, errDiskFull) {
		t.Fatalf("Write = %v, want %v", err, errDiskFull)
	}
	fsys.failWrites(nil, 0)
	b4 := batch("four", 3, t0)
	s4 := mustWrite(t, w, b4)
	if s4[0].File == s2[0].File {
		t.Fatalf("a container that failed mid-file took more events: %+v", s4)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string][]string{s2[0].File: bodies(b2), s4[0].File: bodies(b4)} {
		data, err := os.ReadFile(path.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if got := avroBodies(t, data); !slices.Equal(got, want) {
			t.Errorf("%s: records %q, want %q", file, got, want)
		}
	}
}

// Recover removes a container file holding its header alone, compressed or not.
func TestRecoverRemovesHeaderOnly(t *testing.T) {
	for _, c := range []string{CompressNone, CompressGzip, CompressZstd} {
		t.Run("compress="+c, func(t *testing.T) {
			dir := t.TempDir()
			o := testOptions(dir, "web-")
			o.Format = buildFormat(t, "avrodata")
			o.Compress = c
			w := openWriter(t, o)
			s := mustWrite(t, w, batch("x", 3, t0))
			tmp := path.Join(dir, s[0].File+".tmp")
			crash(t, w)
			// Replace the leftover by the header alone, as a writer would have left it.
			var hdr bytes.Buffer
			enc, err := o.Format.NewEncoder(&hdr)
			if err != nil {
				t.Fatal(err)
			}
			if err := errors.Join(enc.Flush(), enc.Close()); err != nil {
				t.Fatal(err)
			}
			l, err := o.parse()
			if err != nil {
				t.Fatal(err)
			}
			w2 := &Writer{o: o, l: l}
			data, err := w2.compress(hdr.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(tmp, data, 0o644); err != nil {
				t.Fatal(err)
			}
			st, err := Recover(context.Background(), o, nil)
			if err != nil || st.Removed != 1 || st.Finalized != 0 {
				t.Fatalf("Recover = %+v, %v; want the header-only file removed", st, err)
			}
			if got := tree(t, dir); len(got) != 0 {
				t.Errorf("files left: %q", names(got))
			}
		})
	}
}

func TestProbeHeader(t *testing.T) {
	for _, tc := range []struct {
		format string
		header bool
	}{{"raw", false}, {"json", false}, {"avrodata", true}, {"avro", true}} {
		has, n, err := probeHeader(buildFormat(t, tc.format))
		if err != nil || has != tc.header || (has && n < 16) {
			t.Errorf("%s: header %v (%d bytes), %v; want %v", tc.format, has, n, err, tc.header)
		}
	}
	if has, _, _ := probeHeader(rawFormat{}); has {
		t.Error("raw has a header")
	}
	if !strings.Contains(string(plugintest.Encode(t, rawFormat{}, ev("x", t0))), "x\n") {
		t.Error("raw does not write body and newline")
	}
}
