package seqfile_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/flumego/flume/internal/hadoop/codec"
	"github.com/flumego/flume/internal/hadoop/internal/testgen"
	"github.com/flumego/flume/internal/hadoop/seqfile"
)

// kinds are the file kinds every round-trip test writes: uncompressed, and record and block
// compression with every codec.
func kinds(t testing.TB) []seqfile.Config {
	t.Helper()
	out := []seqfile.Config{{Compression: seqfile.None}}
	for _, c := range codec.Codecs() {
		out = append(out,
			seqfile.Config{Compression: seqfile.Record, Codec: c},
			seqfile.Config{Compression: seqfile.Block, Codec: c})
	}
	for i := range out {
		out[i].KeyClass, out[i].ValueClass = "org.apache.hadoop.io.BytesWritable", "org.apache.hadoop.io.BytesWritable"
		out[i].BlockSize = 15_000 // several blocks between flushes
		out[i].Metadata = map[string]string{"b": "2", "a": "1"}
	}
	return out
}

func kindName(c seqfile.Config) string {
	if c.Codec == nil {
		return c.Compression.String()
	}
	return c.Compression.String() + "-" + c.Codec.Name()
}

// testRecords returns n records of varied sizes: empty keys and values among them.
func testRecords(n int) [][2][]byte {
	text := testgen.LogText(n*120, 5)
	recs := make([][2][]byte, n)
	for i := range recs {
		k := fmt.Appendf(nil, "key-%d", i)
		if i%7 == 0 {
			k = nil
		}
		off := (i * 97) % (len(text) - 400)
		v := text[off : off+(i*31)%400]
		recs[i] = [2][]byte{k, v}
	}
	return recs
}

// writes records every Write call of the writer: it checks that each ends where the file is
// valid.
type writes struct {
	buf   bytes.Buffer
	sizes []int
}

func (w *writes) Write(p []byte) (int, error) {
	w.buf.Write(p)
	w.sizes = append(w.sizes, w.buf.Len())
	return len(p), nil
}

func readFile(t testing.TB, file []byte) [][2][]byte {
	t.Helper()
	r, err := seqfile.NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	var got [][2][]byte
	for {
		k, v, err := r.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("after %d records: %v", len(got), err)
		}
		got = append(got, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
	}
}

func equalRecords(a, b [][2][]byte) bool {
	return slices.EqualFunc(a, b, func(x, y [2][]byte) bool {
		return bytes.Equal(x[0], y[0]) && bytes.Equal(x[1], y[1])
	})
}

func TestEveryKindReadsBackAndIsValidAtEveryWrite(t *testing.T) {
	recs := testRecords(600)
	for _, cfg := range kinds(t) {
		t.Run(kindName(cfg), func(t *testing.T) {
			var out writes
			w, err := seqfile.NewWriter(&out, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range recs {
				if err := w.Append(r[0], r[1]); err != nil {
					t.Fatal(err)
				}
				if i%150 == 149 {
					if err := w.Flush(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			file := out.buf.Bytes()
			r, err := seqfile.NewReader(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			if h := r.Header(); h.Compression != cfg.Compression || h.Codec != cfg.Codec ||
				h.Metadata["a"] != "1" || h.Metadata["b"] != "2" || h.Sync != w.Sync() {
				t.Errorf("header %+v", h)
			}
			if got := readFile(t, file); !equalRecords(got, recs) {
				t.Fatalf("read %d records, want the %d written", len(got), len(recs))
			}
			// The file cut after a Write is a valid file of the records so far: checked at
			// the first Write and one in the middle (reading a record-compressed bzip2 file is
			// slow: each value's decoder allocates a whole block).
			for _, size := range []int{out.sizes[0], out.sizes[len(out.sizes)/2]} {
				got := readFile(t, file[:size])
				if !equalRecords(got, recs[:len(got)]) {
					t.Fatalf("file cut at %d: records differ", size)
				}
			}
		})
	}
}

func TestFlushEndsABlockSoTheNextStartsWithASyncEntry(t *testing.T) {
	c, _ := codec.Lookup("gzip")
	var out bytes.Buffer
	w, err := seqfile.NewWriter(&out, seqfile.Config{KeyClass: "K", ValueClass: "V", Compression: seqfile.Block, Codec: c})
	if err != nil {
		t.Fatal(err)
	}
	recs := testRecords(20)
	for _, r := range recs[:10] {
		if err := w.Append(r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	cut := out.Len()
	if got := readFile(t, out.Bytes()); !equalRecords(got, recs[:10]) {
		t.Fatalf("after Flush: %d records, want 10", len(got))
	}
	for _, r := range recs[10:] {
		if err := w.Append(r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sync := w.Sync()
	if next := out.Bytes()[cut:]; !bytes.HasPrefix(next, append([]byte{0xff, 0xff, 0xff, 0xff}, sync[:]...)) {
		t.Fatalf("the block after Flush starts with % x", next[:20])
	}
	if got := readFile(t, out.Bytes()); !equalRecords(got, recs) {
		t.Fatalf("read %d records, want 20", len(got))
	}
}

func TestEmptyFileIsAHeaderAlone(t *testing.T) {
	for _, cfg := range kinds(t) {
		var out bytes.Buffer
		w, err := seqfile.NewWriter(&out, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if out.Len() != 0 {
			t.Fatal("NewWriter wrote")
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, out.Bytes()); len(got) != 0 {
			t.Errorf("%s: %d records in an empty file", kindName(cfg), len(got))
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrorIsSticky(t *testing.T) {
	w, err := seqfile.NewWriter(failingWriter{}, seqfile.Config{KeyClass: "K", ValueClass: "V"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err == nil {
		t.Fatal("Flush: no error")
	}
	if err := w.Append([]byte("k"), []byte("v")); err == nil {
		t.Fatal("Append after a failed write: no error")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after a failed write: no error")
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := w.Append(nil, nil); !errors.Is(err, seqfile.ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}
}

func TestInconsistentConfigIsRejected(t *testing.T) {
	gz, _ := codec.Lookup("gzip")
	for _, cfg := range []seqfile.Config{
		{ValueClass: "V"},
		{KeyClass: "K"},
		{KeyClass: "K", ValueClass: "V", Codec: gz},
		{KeyClass: "K", ValueClass: "V", Compression: 7},
	} {
		if _, err := seqfile.NewWriter(io.Discard, cfg); !errors.Is(err, seqfile.ErrConfig) {
			t.Errorf("%+v: err = %v, want ErrConfig", cfg, err)
		}
	}
	// Compression without a codec takes DefaultCodec, as Hadoop does.
	var out bytes.Buffer
	w, err := seqfile.NewWriter(&out, seqfile.Config{KeyClass: "K", ValueClass: "V", Compression: seqfile.Record})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	r, err := seqfile.NewReader(&out)
	if err != nil || r.Header().Codec.Name() != "DefaultCodec" {
		t.Fatalf("header %+v, %v", r.Header(), err)
	}
}

// pythonReader is a SequenceFile reader written in Python from the format, with Python's own
// zlib, gzip and bz2 modules for the codecs. It prints the header and the records as JSON.
const pythonReader = `
import bz2, gzip, json, struct, sys, zlib
class Buf:
    def __init__(self, b): self.b, self.pos = b, 0
    def take(self, n):
        if n < 0 or self.pos + n > len(self.b): sys.exit('truncated at %d' % self.pos)
        out = self.b[self.pos:self.pos + n]; self.pos += n; return out
    def int32(self): return struct.unpack('>i', self.take(4))[0]
    def vlong(self):
        first = struct.unpack('b', self.take(1))[0]
        if first >= -112: return first
        neg = first < -120
        v = int.from_bytes(self.take((-120 - first) if neg else (-112 - first)), 'big')
        return ~v if neg else v
    def text(self): return self.take(self.vlong()).decode('utf-8')
    def done(self): return self.pos == len(self.b)
f = Buf(open(sys.argv[1], 'rb').read())
assert f.take(4) == b'SEQ\x06'
head = {'key': f.text(), 'value': f.text()}
compressed, block = f.take(1)[0], f.take(1)[0]
head['codec'] = f.text() if compressed else None
head['meta'] = [[f.text(), f.text()] for _ in range(f.int32())]
sync = f.take(16)
def unit(b):
    codec = head['codec'].rsplit('.', 1)[1]
    if codec == 'DefaultCodec':
        d = zlib.decompressobj(); out = d.decompress(b)
        assert d.eof and not d.unused_data, 'not one zlib stream'
        return out
    if codec == 'GzipCodec': return gzip.decompress(b)
    if codec == 'BZip2Codec': return bz2.decompress(b)
    sys.exit('no codec ' + codec)
records = []
while not f.done():
    if block:
        assert f.int32() == -1 and f.take(16) == sync, 'block without sync'
        n = f.vlong()
        klens, keys, vlens, vals = [Buf(unit(f.take(f.vlong()))) for _ in range(4)]
        for _ in range(n):
            records.append([keys.take(klens.vlong()).hex(), vals.take(vlens.vlong()).hex()])
        assert klens.done() and keys.done() and vlens.done() and vals.done()
        continue
    n = f.int32()
    if n == -1:
        assert f.take(16) == sync, 'bad sync'
        continue
    klen = f.int32()
    rec = f.take(n)
    v = unit(rec[klen:]) if compressed else rec[klen:]
    records.append([rec[:klen].hex(), v.hex()])
head['records'] = records
json.dump(head, sys.stdout)
`

func TestPythonReaderReadsWhatTheWriterWrites(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	recs := testRecords(400)
	dir := t.TempDir()
	for _, cfg := range kinds(t) {
		if cfg.Codec != nil && (cfg.Codec.Name() == "SnappyCodec" || cfg.Codec.Name() == "ZStandardCodec") {
			continue // Python has no Snappy or Zstandard module of its own
		}
		t.Run(kindName(cfg), func(t *testing.T) {
			var out bytes.Buffer
			w, err := seqfile.NewWriter(&out, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if err := w.Append(r[0], r[1]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, kindName(cfg)+".seq")
			if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd := exec.Command(python, "-c", pythonReader, path)
			cmd.Stderr = &stderr
			js, err := cmd.Output()
			if err != nil {
				t.Fatalf("python reader: %v: %s", err, stderr.Bytes())
			}
			var got struct {
				Key, Value string
				Codec      *string
				Meta       [][2]string
				Records    [][2]string
			}
			if err := json.Unmarshal(js, &got); err != nil {
				t.Fatal(err)
			}
			if got.Key != cfg.KeyClass || got.Value != cfg.ValueClass ||
				!slices.Equal(got.Meta, [][2]string{{"a", "1"}, {"b", "2"}}) {
				t.Errorf("header %+v", got)
			}
			if cfg.Codec != nil && (got.Codec == nil || *got.Codec != cfg.Codec.Class()) {
				t.Errorf("codec %v, want %s", got.Codec, cfg.Codec.Class())
			}
			if len(got.Records) != len(recs) {
				t.Fatalf("python read %d records, want %d", len(got.Records), len(recs))
			}
			for i, r := range got.Records {
				if r[0] != hex.EncodeToString(recs[i][0]) || r[1] != hex.EncodeToString(recs[i][1]) {
					t.Fatalf("record %d differs", i)
				}
			}
		})
	}
}
