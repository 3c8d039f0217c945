package codec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/flumego/flume/internal/hadoop/codec"
	"github.com/flumego/flume/internal/hadoop/internal/testgen"
)

// The reader below is written from Hadoop's BlockDecompressorStream and the Snappy format
// description, sharing no code with the codec, so that the codec's writer is checked against
// the format and not against itself.

// hadoopBlock is one block of Hadoop's Snappy framing as read: its declared length and the
// uncompressed size of each chunk.
type hadoopBlock struct {
	length int
	chunks []int
}

// readHadoopSnappy decodes a file of blocks: a 4-byte big-endian uncompressed length, then
// chunks of a 4-byte big-endian compressed length and raw Snappy data until the length is
// reached.
func readHadoopSnappy(file []byte) ([]byte, []hadoopBlock, error) {
	var out []byte
	var blocks []hadoopBlock
	for len(file) > 0 {
		if len(file) < 4 {
			return nil, nil, errors.New("truncated block length")
		}
		blk := hadoopBlock{length: int(binary.BigEndian.Uint32(file))}
		file = file[4:]
		got := 0
		for got < blk.length {
			if len(file) < 4 {
				return nil, nil, errors.New("truncated chunk length")
			}
			n := int(binary.BigEndian.Uint32(file))
			if len(file) < 4+n {
				return nil, nil, errors.New("truncated chunk")
			}
			chunk, err := decodeRawSnappy(file[4 : 4+n])
			if err != nil {
				return nil, nil, err
			}
			file = file[4+n:]
			out = append(out, chunk...)
			got += len(chunk)
			blk.chunks = append(blk.chunks, len(chunk))
		}
		if got != blk.length {
			return nil, nil, fmt.Errorf("block declares %d bytes, chunks hold %d", blk.length, got)
		}
		blocks = append(blocks, blk)
	}
	return out, blocks, nil
}

// decodeRawSnappy decodes one raw Snappy block: a varint of the uncompressed length, then
// elements. The low two bits of an element's tag say what it is: 00 a literal (length-1 in
// the upper six bits, or, for 60 to 63, in the next 1 to 4 little-endian bytes), 01 a copy of
// 4 to 11 bytes with an 11-bit offset, 10 a copy of 1 to 64 bytes with a 2-byte offset, 11 the
// same with a 4-byte offset.
func decodeRawSnappy(src []byte) ([]byte, error) {
	n, k := binary.Uvarint(src)
	if k <= 0 {
		return nil, errors.New("bad snappy length")
	}
	src = src[k:]
	out := make([]byte, 0, n)
	for len(src) > 0 {
		tag := src[0]
		src = src[1:]
		var length, offset int
		switch tag & 3 {
		case 0:
			length = int(tag>>2) + 1
			if extra := int(tag>>2) - 59; extra > 0 {
				if len(src) < extra {
					return nil, errors.New("truncated literal length")
				}
				length = 0
				for i := extra - 1; i >= 0; i-- {
					length = length<<8 | int(src[i])
				}
				length++
				src = src[extra:]
			}
			if len(src) < length {
				return nil, errors.New("truncated literal")
			}
			out = append(out, src[:length]...)
			src = src[length:]
			continue
		case 1:
			if len(src) < 1 {
				return nil, errors.New("truncated copy")
			}
			length = 4 + int(tag>>2&7)
			offset = int(tag>>5)<<8 | int(src[0])
			src = src[1:]
		case 2:
			if len(src) < 2 {
				return nil, errors.New("truncated copy")
			}
			length = 1 + int(tag>>2)
			offset = int(binary.LittleEndian.Uint16(src))
			src = src[2:]
		case 3:
			if len(src) < 4 {
				return nil, errors.New("truncated copy")
			}
			length = 1 + int(tag>>2)
			offset = int(binary.LittleEndian.Uint32(src))
			src = src[4:]
		}
		if offset == 0 || offset > len(out) {
			return nil, fmt.Errorf("copy offset %d with %d bytes out", offset, len(out))
		}
		for range length { // byte by byte: a copy may overlap what it produces
			out = append(out, out[len(out)-offset])
		}
	}
	if uint64(len(out)) != n {
		return nil, fmt.Errorf("snappy block declares %d bytes, holds %d", n, len(out))
	}
	return out, nil
}

func snappyCodec(t testing.TB) codec.Codec {
	t.Helper()
	c, err := codec.Lookup("snappy")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSnappyUnitsFollowHadoopsBlockFraming(t *testing.T) {
	c := snappyCodec(t)
	var file, want []byte
	for _, u := range append(units(), testgen.LogText(1_000_000, 5)) {
		var err error
		if file, err = c.AppendUnit(file, u); err != nil {
			t.Fatal(err)
		}
		want = append(want, u...)
	}
	got, blocks, err := readHadoopSnappy(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("decoded %d bytes, want %d", len(got), len(want))
	}
	// One block per non-empty unit; chunks of at most 256 KiB - (256 KiB/6 + 32) bytes.
	if len(blocks) != 5 {
		t.Errorf("%d blocks, want 5 (the empty unit writes nothing)", len(blocks))
	}
	for _, b := range blocks {
		for i, n := range b.chunks {
			if n > 218422 || (i < len(b.chunks)-1 && n != 218422) {
				t.Errorf("block of %d bytes: chunk sizes %v, want full chunks of 218422 then the rest", b.length, b.chunks)
				break
			}
		}
	}
}

func TestSnappyDocumentedExample(t *testing.T) {
	got, err := snappyCodec(t).AppendUnit(nil, []byte("hello hello hello!"))
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{0, 0, 0, 0x12, 0, 0, 0, 0x14, 0x12, 0x44}, "hello hello hello!"...)
	if !bytes.Equal(got, want) {
		t.Errorf("unit\n% x\nwant (the package documentation's example)\n% x", got, want)
	}
}

// A block as Hadoop writes an input larger than its chunk limit: one length, several chunks.
// Raw Snappy data written by hand: a varint length and one literal.
func TestSnappyReaderReadsMultiChunkBlocksAndEmptyBlocks(t *testing.T) {
	literal := func(s string) []byte { // a chunk holding s as one literal (len(s) <= 60)
		return append([]byte{byte(len(s)), byte(len(s)-1) << 2}, s...)
	}
	var file []byte
	file = binary.BigEndian.AppendUint32(file, 11) // block: 11 bytes in two chunks
	for _, s := range []string{"hello ", "world"} {
		file = binary.BigEndian.AppendUint32(file, uint32(len(literal(s))))
		file = append(file, literal(s)...)
	}
	file = binary.BigEndian.AppendUint32(file, 0) // an empty block
	file = binary.BigEndian.AppendUint32(file, 1)
	file = binary.BigEndian.AppendUint32(file, 3)
	file = append(file, literal("!")...)

	r, err := snappyCodec(t).NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "hello world!" {
		t.Fatalf("read %q, %v; want \"hello world!\"", got, err)
	}
}

func TestSnappyReaderRejectsChunksOverrunningTheirBlock(t *testing.T) {
	var file []byte
	file = binary.BigEndian.AppendUint32(file, 2) // declares 2 bytes
	file = binary.BigEndian.AppendUint32(file, 5)
	file = append(file, 3, 2<<2, 'a', 'b', 'c') // a chunk of 3
	r, err := snappyCodec(t).NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, codec.ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
}

func FuzzSnappyReader(f *testing.F) {
	unit, _ := snappyCodec(f).AppendUnit(nil, []byte("hello hello hello hello!"))
	f.Add(unit)
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, file []byte) {
		got, err := readAll(t, snappyCodec(t), file)
		if err != nil {
			return
		}
		// What the codec reads, the reader written from the format reads the same.
		want, _, werr := readHadoopSnappy(file)
		if werr != nil || !bytes.Equal(got, want) {
			t.Fatalf("codec read %q; the format's reader %q, %v", got, want, werr)
		}
	})
}
