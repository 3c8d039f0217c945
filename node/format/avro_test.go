package format

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"

	"github.com/flumego/flume/node/event"
	"github.com/flumego/flume/node/plugin/plugintest"
	"github.com/flumego/flume/node/spec"
)

// avroRecord is an AvroFlumeEvent as hamba/avro decodes it.
type avroRecord struct {
	Timestamp int64             `avro:"timestamp"`
	Priority  string            `avro:"priority"`
	Body      []byte            `avro:"body"`
	Nanos     int64             `avro:"nanos"`
	Host      string            `avro:"host"`
	Fields    map[string][]byte `avro:"fields"`
}

// wantRecord is what e must read back as.
func wantRecord(e *event.Event) avroRecord {
	r := avroRecord{
		Timestamp: millis(e.Timestamp),
		Priority:  avroPriority(e.Priority).String(),
		Body:      e.Body,
		Nanos:     e.Timestamp,
		Host:      e.Host,
		Fields:    map[string][]byte{},
	}
	for k, v := range e.Attrs() {
		r.Fields[k] = v
	}
	return r
}

func equalRecord(a, b avroRecord) bool {
	return a.Timestamp == b.Timestamp && a.Priority == b.Priority && bytes.Equal(a.Body, b.Body) &&
		a.Nanos == b.Nanos && a.Host == b.Host && maps.EqualFunc(a.Fields, b.Fields, bytes.Equal)
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

// readContainer reads a whole container file with hamba/avro, decompressing blocks with
// decoders independent of the writer's, and returns its metadata and the records of each block.
func readContainer(t testing.TB, data []byte) (map[string][]byte, [][]avroRecord) {
	t.Helper()
	r := avro.NewReader(bytes.NewReader(data), 512)
	var h ocfHeader
	r.ReadVal(headerSchema, &h)
	if r.Error != nil {
		t.Fatalf("read header: %v", r.Error)
	}
	if h.Magic != [4]byte{'O', 'b', 'j', 1} {
		t.Fatalf("magic %q", h.Magic[:])
	}
	schema, err := avro.Parse(string(h.Meta["avro.schema"]))
	if err != nil {
		t.Fatalf("parse schema from header: %v", err)
	}
	if schema.Fingerprint() != avro.MustParse(AvroSchema).Fingerprint() {
		t.Fatalf("schema in header %s differs from AvroSchema", h.Meta["avro.schema"])
	}
	codec := string(h.Meta["avro.codec"])
	var blocks [][]avroRecord
	for {
		count := r.ReadLong()
		if errors.Is(r.Error, io.EOF) {
			return h.Meta, blocks
		}
		size := r.ReadLong()
		raw := make([]byte, size)
		r.Read(raw)
		var sync [16]byte
		r.Read(sync[:])
		if r.Error != nil {
			t.Fatalf("block %d: %v", len(blocks), r.Error)
		}
		if sync != h.Sync {
			t.Fatalf("block %d: sync marker %x, want %x", len(blocks), sync, h.Sync)
		}
		plain := decompress(t, codec, raw)
		br := avro.NewReader(bytes.NewReader(plain), 512)
		recs := make([]avroRecord, count)
		for i := range recs {
			br.ReadVal(schema, &recs[i])
			if br.Error != nil {
				t.Fatalf("block %d record %d: %v", len(blocks), i, br.Error)
			}
		}
		if br.ReadLong(); !errors.Is(br.Error, io.EOF) {
			t.Fatalf("block %d: bytes left after %d records", len(blocks), count)
		}
		blocks = append(blocks, recs)
	}
}

func decompress(t testing.TB, codec string, b []byte) []byte {
	t.Helper()
	switch codec {
	case "null":
		return b
	case "deflate":
		out, err := io.ReadAll(flate.NewReader(bytes.NewReader(b))) // the standard library's
		if err != nil {
			t.Fatalf("inflate: %v", err)
		}
		return out
	case "snappy":
		if len(b) < 4 {
			t.Fatal("snappy block without checksum")
		}
		out, err := snappy.DecodeStrict(nil, b[:len(b)-4])
		if err != nil {
			t.Fatalf("snappy: %v", err)
		}
		if crc := binary.BigEndian.Uint32(b[len(b)-4:]); crc != crc32.ChecksumIEEE(out) {
			t.Fatalf("snappy checksum %08x, want %08x", crc, crc32.ChecksumIEEE(out))
		}
		return out
	case "zstandard":
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		out, err := d.DecodeAll(b, nil)
		if err != nil {
			t.Fatalf("zstandard: %v", err)
		}
		return out
	}
	t.Fatalf("unknown codec %q in header", codec)
	return nil
}

func str(s string) spec.Value { return spec.Value{Kind: spec.KindString, Str: s} }
func num(n int64) spec.Value  { return spec.Value{Kind: spec.KindInt, Int: n} }

func TestAvroDataReadBack(t *testing.T) {
	tests := []struct {
		name  string
		call  *spec.Call
		codec string
	}{
		{"default", &spec.Call{Name: "avrodata"}, "null"},
		{"null", &spec.Call{Name: "avrodata", Args: []spec.Value{str("null")}}, "null"},
		{"deflate", &spec.Call{Name: "avrodata", Args: []spec.Value{str("deflate")}}, "deflate"},
		{"deflate level 1", &spec.Call{Name: "avrodata", Args: []spec.Value{str("deflate"), num(1)}}, "deflate"},
		{"deflate level 9", &spec.Call{Name: "avrodata", Args: []spec.Value{str("deflate"), num(9)}}, "deflate"},
		{"snappy", &spec.Call{Name: "avrodata", Args: []spec.Value{str("snappy")}}, "snappy"},
		{"zstandard", &spec.Call{Name: "avrodata", Args: []spec.Value{str("zstandard")}}, "zstandard"},
		{"zstandard level 19", &spec.Call{Name: "avrodata",
			Kwargs: []spec.Kwarg{{Name: "codec", Value: str("zstandard")}, {Name: "level", Value: num(19)}}}, "zstandard"},
		{"avro", &spec.Call{Name: "avro"}, "null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			enc, err := buildFormat(t, tt.call).NewEncoder(&buf)
			if err != nil {
				t.Fatal(err)
			}
			a, b := eventA(t), eventB()
			// Three blocks: [a] [b a] [a], each ended by Flush or Close.
			steps := []struct {
				ev    *event.Event
				flush bool
			}{{a, true}, {b, false}, {a, true}, {a, false}}
			var written [][]*event.Event
			var cur []*event.Event
			for _, s := range steps {
				if err := enc.Encode(s.ev); err != nil {
					t.Fatal(err)
				}
				cur = append(cur, s.ev)
				if s.flush {
					if err := enc.Flush(); err != nil {
						t.Fatal(err)
					}
					written, cur = append(written, cur), nil
					// The file is complete and readable after every Flush.
					checkBlocks(t, buf.Bytes(), tt.codec, written)
				}
			}
			if err := enc.Close(); err != nil {
				t.Fatal(err)
			}
			checkBlocks(t, buf.Bytes(), tt.codec, append(written, cur))
		})
	}
}

// checkBlocks reads data back and compares it block by block, record by record, field by field.
func checkBlocks(t *testing.T, data []byte, codec string, want [][]*event.Event) {
	t.Helper()
	meta, blocks := readContainer(t, data)
	if got := string(meta["avro.codec"]); got != codec {
		t.Errorf("avro.codec %q, want %q", got, codec)
	}
	if len(blocks) != len(want) {
		t.Fatalf("%d blocks, want %d", len(blocks), len(want))
	}
	for i := range want {
		if len(blocks[i]) != len(want[i]) {
			t.Fatalf("block %d: %d records, want %d", i, len(blocks[i]), len(want[i]))
		}
		for j, e := range want[i] {
			if got, w := blocks[i][j], wantRecord(e); !equalRecord(got, w) {
				t.Errorf("block %d record %d:\n got %+v\nwant %+v", i, j, got, w)
			}
		}
	}
}

func TestAvroDataWritesFullBlocksWithoutFlush(t *testing.T) {
	var buf bytes.Buffer
	enc, err := buildFormat(t, &spec.Call{Name: "avrodata", Args: []spec.Value{str("deflate")}}).NewEncoder(&buf)
	if err != nil {
		t.Fatal(err)
	}
	events := make([]*event.Event, 3000)
	for i := range events {
		events[i] = benchEvent()
		events[i].Body = fmt.Appendf(nil, "%05d %s", i, events[i].Body)
		if err := enc.Encode(events[i]); err != nil {
			t.Fatal(err)
		}
	}
	if buf.Len() == 0 {
		t.Error("nothing written after 3000 events: blocks are not bounded")
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	_, blocks := readContainer(t, buf.Bytes())
	if len(blocks) < 2 {
		t.Errorf("%d blocks for ~500 KB of records, want several", len(blocks))
	}
	var got []avroRecord
	for _, b := range blocks {
		got = append(got, b...)
	}
	if len(got) != len(events) {
		t.Fatalf("%d records, want %d", len(got), len(events))
	}
	for i, e := range events {
		if !equalRecord(got[i], wantRecord(e)) {
			t.Fatalf("record %d: got %+v", i, got[i])
		}
	}
}

func TestAvroDataEmptyStreamIsValidFile(t *testing.T) {
	for _, codec := range codecNames {
		t.Run(codec, func(t *testing.T) {
			f := buildFormat(t, &spec.Call{Name: "avrodata", Args: []spec.Value{str(codec)}})
			data := plugintest.Encode(t, f)
			meta, blocks := readContainer(t, data)
			if len(blocks) != 0 || string(meta["avro.codec"]) != codec {
				t.Errorf("empty stream: %d blocks, codec %q", len(blocks), meta["avro.codec"])
			}
		})
	}
}

func TestAvroJSONReadBack(t *testing.T) {
	schema := avro.MustParse(AvroSchema).(*avro.RecordSchema)
	var fieldNames []string
	for _, f := range schema.Fields() {
		fieldNames = append(fieldNames, f.Name())
	}
	a, b := eventA(t), eventB()
	c := &event.Event{Body: bytes.Repeat([]byte{0, 0x80, 0xFF, '"', '\\'}, 3), Host: "h\xffst",
		Timestamp: 5, Priority: event.TRACE}
	if err := c.SetAttr("k\x01\xfe", []byte{0xFE}); err != nil {
		t.Fatal(err)
	}
	events := []*event.Event{a, b, c}
	data := plugintest.Encode(t, buildFormat(t, &spec.Call{Name: "avrojson"}), events...)

	sc := bufio.NewScanner(bytes.NewReader(data))
	for i := 0; sc.Scan(); i++ {
		line := sc.Bytes()
		if i >= len(events) {
			t.Fatalf("more lines than events: %q", line)
		}
		if !json.Valid(line) {
			t.Fatalf("line %d is not valid JSON: %q", i, line)
		}
		if got := jsonKeys(t, line); !slices.Equal(got, fieldNames) {
			t.Errorf("line %d: fields %v, want the schema's order %v", i, got, fieldNames)
		}
		got := recordFromAvroJSON(t, line)
		want := wantRecord(events[i])
		// Avro strings are UTF-8: invalid bytes in the host and attribute names become U+FFFD.
		want.Host = strings.ToValidUTF8(want.Host, "\uFFFD")
		fixed := map[string][]byte{}
		for k, v := range want.Fields {
			fixed[strings.ToValidUTF8(k, "\uFFFD")] = v
		}
		want.Fields = fixed
		if !equalRecord(got, want) {
			t.Errorf("line %d:\n got %+v\nwant %+v", i, got, want)
		}
		// The values have the schema's types: hamba/avro encodes them and decodes them back.
		bin, err := avro.Marshal(schema, got)
		if err != nil {
			t.Fatalf("line %d does not fit the schema: %v", i, err)
		}
		var back avroRecord
		if err := avro.Unmarshal(schema, bin, &back); err != nil || !equalRecord(back, got) {
			t.Errorf("line %d: binary round trip %+v, %v", i, back, err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// jsonKeys returns the top-level keys of a JSON object, in order.
func jsonKeys(t *testing.T, line []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(line))
	if _, err := d.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// recordFromAvroJSON decodes one line of Avro JSON, turning bytes strings back into bytes.
func recordFromAvroJSON(t *testing.T, line []byte) avroRecord {
	t.Helper()
	var v struct {
		Timestamp int64             `json:"timestamp"`
		Priority  string            `json:"priority"`
		Body      string            `json:"body"`
		Nanos     int64             `json:"nanos"`
		Host      string            `json:"host"`
		Fields    map[string]string `json:"fields"`
	}
	if err := json.Unmarshal(line, &v); err != nil {
		t.Fatal(err)
	}
	r := avroRecord{Timestamp: v.Timestamp, Priority: v.Priority, Body: latin1(t, v.Body),
		Nanos: v.Nanos, Host: v.Host, Fields: map[string][]byte{}}
	for k, s := range v.Fields {
		r.Fields[k] = latin1(t, s)
	}
	return r
}

// latin1 returns the bytes an Avro JSON bytes string stands for: one per code point.
func latin1(t *testing.T, s string) []byte {
	t.Helper()
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			t.Fatalf("code point %U in an Avro bytes string", r)
		}
		out = append(out, byte(r))
	}
	return out
}
