package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the record scanner: it must not panic, and every record
// it returns must carry checksums that match the bytes it came from, recomputed here.
func FuzzDecode(f *testing.F) {
	var seed []byte
	for s := uint64(1); s <= 3; s++ {
		c := testChunk(s, 40)
		seed = appendChunkRecord(seed, &c)
	}
	seed = appendReleaseRecord(seed, []seqRange{{1, 2}, {5, 9}})
	f.Add(seed)
	f.Add(seed[:len(seed)-3])
	f.Add([]byte{})
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		sc := newScanner(bytes.NewReader(b), 0, int64(len(b)))
		for range len(b) + 1 {
			rec, err := sc.next()
			if errors.Is(err, errBadPayload) {
				continue
			}
			if err != nil {
				return
			}
			raw := b[rec.off : rec.off+rec.size]
			h := raw[:recHeaderSize]
			body := raw[recHeaderSize:]
			if crc32.Checksum(h[:16], castagnoli) != binary.LittleEndian.Uint32(h[16:]) {
				t.Fatalf("record at %d returned with a bad header checksum", rec.off)
			}
			crc := crc32.Update(crc32.Checksum(h[:16], castagnoli), castagnoli, body)
			if crc != binary.LittleEndian.Uint32(h[20:]) || !bytes.Equal(body, rec.payload) {
				t.Fatalf("record at %d returned with a bad checksum", rec.off)
			}
			if _, err := parseRecord(raw); err != nil {
				t.Fatalf("scanner and parseRecord disagree at %d: %v", rec.off, err)
			}
			switch rec.typ {
			case recChunk:
				decodeChunk(rec)
			case recRelease:
				decodeRelease(nil, rec)
			}
		}
		t.Fatal("scanner did not stop")
	})
}

// FuzzRecover opens a log whose last segment holds three genuine chunks followed by arbitrary
// bytes. Open may fail, but must not panic; if it succeeds, the three chunks are there, and
// every chunk it offers reads back genuine.
func FuzzRecover(f *testing.F) {
	var prefix []byte
	prefix = appendSegHeader(prefix, 1)
	for s := uint64(1); s <= 3; s++ {
		c := testChunk(s, 60)
		prefix = appendChunkRecord(prefix, &c)
	}
	c4 := testChunk(4, 60)
	rec4 := appendChunkRecord(nil, &c4)
	rel := appendReleaseRecord(nil, []seqRange{{9, 9}})
	f.Add(rec4)
	f.Add(rec4[:30])
	f.Add(append(bytes.Clone(rec4), rel...))
	f.Add(make([]byte, 100))
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		seg := filepath.Join(dir, segName(1))
		if err := os.WriteFile(seg, append(bytes.Clone(prefix), tail...), 0o640); err != nil {
			t.Fatal(err)
		}
		l, err := Open(Options{Dir: dir, NoSync: true, Logger: nil})
		if err != nil {
			return
		}
		defer l.Close()
		refs := l.Unreleased()
		if len(refs) < 3 || refs[0].Seq != 1 || refs[1].Seq != 2 || refs[2].Seq != 3 {
			t.Fatalf("genuine chunks lost: %v", seqsOf(refs))
		}
		for _, r := range refs {
			c, err := l.Read(r.Seq)
			if err != nil {
				t.Fatalf("Read(%d): %v", r.Seq, err)
			}
			if !checkData(r.Seq, c.Data) {
				t.Fatalf("chunk %d delivered with data that is not genuine", r.Seq)
			}
		}
		// The file now ends where the valid records end.
		b, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		sc := newScanner(bytes.NewReader(b[segHeaderSize:]), segHeaderSize, int64(len(b)))
		for {
			_, err := sc.next()
			if errors.Is(err, errBadPayload) {
				continue
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("segment after recovery still has a bad tail: %v", err)
			}
		}
	})
}
