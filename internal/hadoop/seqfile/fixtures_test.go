package seqfile_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/flumego/flume/internal/hadoop/codec"
	"github.com/flumego/flume/internal/hadoop/seqfile"
)

// The fixtures here are assembled byte by byte from the SequenceFile format (Hadoop's
// SequenceFile javadoc and Writer code, WritableUtils, Text) and RFC 1950/1951, not from this
// package, so that the writer and the reader are each held to the format rather than to each
// other.

// cat joins byte slices and strings.
func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			b = append(b, p...)
		case []byte:
			b = append(b, p...)
		case byte:
			b = append(b, p)
		case int:
			b = append(b, byte(p))
		case rune:
			b = append(b, byte(p))
		default:
			panic("cat: unknown part")
		}
	}
	return b
}

// syncMarker is the fixtures' sync marker: 00 01 02 ... 0f.
var syncMarker = func() (s [16]byte) {
	for i := range s {
		s[i] = byte(i)
	}
	return s
}()

const textClass = "org.apache.hadoop.io.Text" // 25 bytes: its Text length is the VInt 0x19

// uncompressedFixture is a file of Text keys and values, not compressed, with one metadata
// entry and two records.
var uncompressedFixture = cat(
	"SEQ", 6, // magic, version 6
	0x19, textClass, // key class: VInt 25, bytes
	0x19, textClass, // value class
	0, 0, // not compressed, not block-compressed
	0, 0, 0, 1, // metadata: one entry (int32)
	0x04, "name", 0x05, "value", // Text name, Text value
	syncMarker[:],
	// record 1: key Text "a" (01 61), value Text "hello" (05 68 65 6c 6c 6f)
	0, 0, 0, 8, // record length: 2 + 6
	0, 0, 0, 2, // key length
	0x01, "a", 0x05, "hello",
	// record 2: key Text "b", value Text "" (a lone 00)
	0, 0, 0, 3,
	0, 0, 0, 2,
	0x01, "b", 0x00,
)

var uncompressedRecords = [][2]string{{"\x01a", "\x05hello"}, {"\x01b", "\x00"}}

func TestWriterWritesTheUncompressedFixture(t *testing.T) {
	var out bytes.Buffer
	w, err := seqfile.NewWriter(&out, seqfile.Config{
		KeyClass: textClass, ValueClass: textClass,
		Metadata: map[string]string{"name": "value"},
		Sync:     syncMarker,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range uncompressedRecords {
		if err := w.Append([]byte(r[0]), []byte(r[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), uncompressedFixture) {
		t.Fatalf("wrote\n% x\nwant\n% x", out.Bytes(), uncompressedFixture)
	}
}

func TestReaderReadsTheUncompressedFixture(t *testing.T) {
	r, err := seqfile.NewReader(bytes.NewReader(uncompressedFixture))
	if err != nil {
		t.Fatal(err)
	}
	h := r.Header()
	if h.KeyClass != textClass || h.ValueClass != textClass || h.Compression != seqfile.None ||
		h.Codec != nil || h.Metadata["name"] != "value" || len(h.Metadata) != 1 || h.Sync != syncMarker {
		t.Fatalf("header %+v", h)
	}
	if got := readAllRecords(t, r); !slices.Equal(got, uncompressedRecords) {
		t.Fatalf("records %q, want %q", got, uncompressedRecords)
	}
}

func readAllRecords(t testing.TB, r *seqfile.Reader) [][2]string {
	t.Helper()
	var got [][2]string
	for {
		k, v, err := r.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("after %d records: %v", len(got), err)
		}
		got = append(got, [2]string{string(k), string(v)})
	}
}

// storedZlib is data as a zlib stream (RFC 1950) holding one stored deflate block (RFC 1951
// BTYPE 00): header 78 01, block header 01 (final, stored), LEN and NLEN little-endian, the
// data, and the Adler-32 of the data, big-endian, given by the caller.
func storedZlib(data string, adler uint32) []byte {
	b := cat(0x78, 0x01, 0x01)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(data)))
	b = binary.LittleEndian.AppendUint16(b, ^uint16(len(data)))
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, adler)
}

const defaultCodecClass = "org.apache.hadoop.io.compress.DefaultCodec" // 42 bytes: VInt 0x2a

// recordFixture is a record-compressed file with DefaultCodec: the value of its record is a
// zlib stream.
var recordFixture = func() []byte {
	value := storedZlib("\x05hello", 0x064b021a) // 17 bytes
	return cat(
		"SEQ", 6, 0x19, textClass, 0x19, textClass,
		1, 0, // compressed, not block-compressed
		0x2a, defaultCodecClass,
		0, 0, 0, 0, // no metadata
		syncMarker[:],
		0, 0, 0, 2+17, // record length: key 2, compressed value 17
		0, 0, 0, 2,
		0x01, "a", value,
	)
}()

// blockFixture is a block-compressed file with DefaultCodec and one block of two records:
// ("a", "one!") and ("b", "two!") as Text.
var blockFixture = cat(
	"SEQ", 6, 0x19, textClass, 0x19, textClass,
	1, 1, // compressed, block-compressed
	0x2a, defaultCodecClass,
	0, 0, 0, 0,
	syncMarker[:],
	0xff, 0xff, 0xff, 0xff, syncMarker[:], // sync entry: escape -1, marker
	0x02, // two records (VInt)
	// Each buffer: its compressed length (VInt), then the zlib stream, 11 bytes more than
	// the data it stores.
	// key lengths: VInts 2, 2 -> 02 02
	0x0d, storedZlib("\x02\x02", 0x00080005),
	// keys: 01 61 01 62
	0x0f, storedZlib("\x01a\x01b", 0x018f00c6),
	// value lengths: 5, 5
	0x0d, storedZlib("\x05\x05", 0x0011000b),
	// values: 04 "one!" 04 "two!"
	0x15, storedZlib("\x04one!\x04two!", 0x0f5a02e7),
)

func TestReaderReadsCompressedFixtures(t *testing.T) {
	for _, tc := range []struct {
		name string
		file []byte
		kind seqfile.Compression
		want [][2]string
	}{
		{"record", recordFixture, seqfile.Record, [][2]string{{"\x01a", "\x05hello"}}},
		{"block", blockFixture, seqfile.Block, [][2]string{{"\x01a", "\x04one!"}, {"\x01b", "\x04two!"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := seqfile.NewReader(bytes.NewReader(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if h := r.Header(); h.Compression != tc.kind || h.Codec == nil || h.Codec.Name() != "DefaultCodec" {
				t.Fatalf("header %+v", h)
			}
			if got := readAllRecords(t, r); !slices.Equal(got, tc.want) {
				t.Fatalf("records %q, want %q", got, tc.want)
			}
		})
	}
}

// The writer's compressed output cannot be compared byte for byte (the compressor chooses its
// own blocks), so its structure is compared: the fixture with each compressed unit replaced
// by the writer's unit for the same input.
func TestWriterWritesTheBlockFixtureStructure(t *testing.T) {
	c, err := codec.Lookup("DefaultCodec")
	if err != nil {
		t.Fatal(err)
	}
	unit := func(s string) []byte {
		u, err := c.AppendUnit(nil, []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte{byte(len(u))}, u...) // each under 128 bytes: a one-byte VInt
	}
	want := cat(
		"SEQ", 6, 0x19, textClass, 0x19, textClass, 1, 1, 0x2a, defaultCodecClass,
		0, 0, 0, 0, syncMarker[:],
		0xff, 0xff, 0xff, 0xff, syncMarker[:], 0x02,
		unit("\x02\x02"), unit("\x01a\x01b"), unit("\x05\x05"), unit("\x04one!\x04two!"),
	)
	var out bytes.Buffer
	w, err := seqfile.NewWriter(&out, seqfile.Config{
		KeyClass: textClass, ValueClass: textClass, Compression: seqfile.Block, Codec: c, Sync: syncMarker,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]string{{"\x01a", "\x04one!"}, {"\x01b", "\x04two!"}} {
		if err := w.Append([]byte(r[0]), []byte(r[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("wrote\n% x\nwant\n% x", out.Bytes(), want)
	}
}

// With the header of uncompressedFixture without metadata (4 + 26 + 26 + 2 + 4 + 16 = 78
// bytes) and records of 100 bytes (8 of lengths, a 2-byte key, a 90-byte value), record i
// starts at 78 + 100i. Hadoop writes a sync entry before a record when the file is 2000 bytes
// or more past the end of the last sync entry (0 before the first): before record 20, at
// 2078, ending at 2098; then before the record at 4098, record 40. The file is 78 bytes of
// header, 4500 of records and 40 of sync entries.
func TestWriterPutsSyncEntriesEvery2000Bytes(t *testing.T) {
	var out bytes.Buffer
	w, err := seqfile.NewWriter(&out, seqfile.Config{KeyClass: textClass, ValueClass: textClass, Sync: syncMarker})
	if err != nil {
		t.Fatal(err)
	}
	value := bytes.Repeat([]byte{'v'}, 90)
	for range 45 {
		if err := w.Append([]byte("kk"), value); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	file := out.Bytes()
	if len(file) != 4618 {
		t.Fatalf("file of %d bytes, want 4618", len(file))
	}
	entry := cat(0xff, 0xff, 0xff, 0xff, syncMarker[:])
	for _, at := range []int{2078, 4098} {
		if !bytes.Equal(file[at:at+20], entry) {
			t.Errorf("no sync entry at %d: % x", at, file[at:at+20])
		}
	}
	if n := bytes.Count(file, entry); n != 2 {
		t.Errorf("%d sync entries, want 2", n)
	}
}

func TestVIntEncodingsFollowWritableUtils(t *testing.T) {
	for _, tc := range []struct {
		v    int64
		want []byte
	}{
		{0, cat(0x00)}, {1, cat(0x01)}, {127, cat(0x7f)}, {-1, cat(0xff)}, {-112, cat(0x90)},
		{128, cat(0x8f, 0x80)},        // -113: one byte follows
		{255, cat(0x8f, 0xff)},        //
		{256, cat(0x8e, 0x01, 0x00)},  // -114: two bytes
		{-113, cat(0x87, 0x70)},       // -121: negative, one byte of ^v = 112
		{-129, cat(0x87, 0x80)},       // ^v = 128
		{-257, cat(0x86, 0x01, 0x00)}, // -122: two bytes of ^v = 256
		{1<<31 - 1, cat(0x8c, 0x7f, 0xff, 0xff, 0xff)},
		{-1 << 63, cat(0x80, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
	} {
		if got := seqfile.AppendVLong(nil, tc.v); !bytes.Equal(got, tc.want) {
			t.Errorf("AppendVLong(%d) = % x, want % x", tc.v, got, tc.want)
		}
		got, n, err := seqfile.ReadVLong(tc.want)
		if err != nil || got != tc.v || n != len(tc.want) {
			t.Errorf("ReadVLong(% x) = %d, %d, %v; want %d", tc.want, got, n, err, tc.v)
		}
	}
	// Not in their shortest form: Hadoop's writer never writes these.
	for _, b := range [][]byte{cat(0x8f, 0x05), cat(0x8e, 0x00, 0xff), cat(0x87, 0x05)} {
		if _, _, err := seqfile.ReadVLong(b); !errors.Is(err, seqfile.ErrCorrupt) {
			t.Errorf("ReadVLong(% x): err = %v, want ErrCorrupt", b, err)
		}
	}
}

func TestJavaUTFFollowsModifiedUTF8(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want []byte
	}{
		{"abc", cat(0, 3, "abc")},
		{"", cat(0, 0)},
		{"\x00", cat(0, 2, 0xc0, 0x80)},                      // NUL is two bytes
		{"é", cat(0, 2, 0xc3, 0xa9)},                         // U+00E9
		{"€", cat(0, 3, 0xe2, 0x82, 0xac)},                   // U+20AC
		{"😀", cat(0, 6, 0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80)}, // U+1F600: surrogates D83D DE00
	} {
		got, err := seqfile.AppendJavaUTF(nil, tc.s)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("AppendJavaUTF(%q) = % x, %v; want % x", tc.s, got, err, tc.want)
		}
		s, n, err := seqfile.ReadJavaUTF(tc.want)
		if err != nil || s != tc.s || n != len(tc.want) {
			t.Errorf("ReadJavaUTF(% x) = %q, %d, %v; want %q", tc.want, s, n, err, tc.s)
		}
	}
	// A byte that is not UTF-8 stands for U+FFFD, as Java's decoding into a String makes it.
	if got, _ := seqfile.AppendJavaUTF(nil, "a\xffb"); !bytes.Equal(got, cat(0, 5, 'a', 0xef, 0xbf, 0xbd, 'b')) {
		t.Errorf("invalid UTF-8 written as % x", got)
	}
	// 65535 bytes fit; one more does not, counted in modified UTF-8 bytes.
	if _, err := seqfile.AppendJavaUTF(nil, strings.Repeat("a", 65535)); err != nil {
		t.Errorf("65535 bytes: %v", err)
	}
	for _, s := range []string{strings.Repeat("a", 65536), strings.Repeat("é", 32768), strings.Repeat("\x00", 32768)} {
		if _, err := seqfile.AppendJavaUTF(nil, s); !errors.Is(err, seqfile.ErrUTFTooLong) {
			t.Errorf("%d-byte string: err = %v, want ErrUTFTooLong", len(s), err)
		}
	}
	// What DataInput.readUTF rejects.
	for _, b := range [][]byte{cat(0, 1, 0x80), cat(0, 2, 0xc3, 0x41), cat(0, 1, 0xf0), cat(0, 3, 0xe2, 0x82), cat(0, 5, 'a')} {
		if _, _, err := seqfile.ReadJavaUTF(b); !errors.Is(err, seqfile.ErrCorrupt) {
			t.Errorf("ReadJavaUTF(% x): err = %v, want ErrCorrupt", b, err)
		}
	}
}
