package seqfile_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/flumego/flume/internal/hadoop/codec"
	"github.com/flumego/flume/internal/hadoop/seqfile"
)

// readErr reads file to its end and returns the first error other than io.EOF.
func readErr(file []byte) error {
	r, err := seqfile.NewReader(bytes.NewReader(file))
	if err != nil {
		return err
	}
	for {
		if _, _, err := r.Next(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

func TestReaderRejectsWhatHadoopDoesNotWrite(t *testing.T) {
	header := len(uncompressedFixture) - 8 - 8 - 3 - 8 // the fixture's header ends before record 1
	withSync := func(b []byte, at int, sync []byte) []byte {
		return cat(b[:at], 0xff, 0xff, 0xff, 0xff, sync, b[at:])
	}
	other := bytes.Repeat([]byte{9}, 16)
	blockHeader := len(blockFixture) - (4 + 16 + 1 + 14 + 16 + 14 + 22)
	for name, file := range map[string][]byte{
		"bad magic":              cat("SEX", uncompressedFixture[3:]),
		"version 5":              cat("SEQ", 5, uncompressedFixture[4:]),
		"truncated header":       uncompressedFixture[:header-1],
		"truncated record":       uncompressedFixture[:len(uncompressedFixture)-1],
		"foreign sync marker":    withSync(uncompressedFixture, header, other),
		"two syncs in a row":     withSync(withSync(uncompressedFixture, header, syncMarker[:]), header, syncMarker[:]),
		"unknown codec":          bytes.Replace(recordFixture, []byte("DefaultCodec"), []byte("DefaultCodex"), 1),
		"flag not a boolean":     bytes.Replace(uncompressedFixture, cat(0, 0, 0, 0, 0, 1), cat(2, 0, 0, 0, 0, 1), 1),
		"block without records":  cat(blockFixture[:blockHeader+20], 0x00),
		"block cut short":        blockFixture[:len(blockFixture)-1],
		"block after a sync":     cat(blockFixture, 0xff, 0xff, 0xff, 0xff, syncMarker[:]),
		"key longer than record": cat(uncompressedFixture[:header], 0, 0, 0, 1, 0, 0, 0, 2, "ab"),
	} {
		err := readErr(file)
		if err == nil {
			t.Errorf("%s: read without error", name)
		} else if !errors.Is(err, seqfile.ErrCorrupt) && !errors.Is(err, seqfile.ErrVersion) &&
			!errors.Is(err, codec.ErrUnknownCodec) {
			t.Errorf("%s: err = %v, want ErrCorrupt, ErrVersion or ErrUnknownCodec", name, err)
		}
	}
	// A record file may end right after a sync entry (Hadoop's Writer.sync() writes one).
	if err := readErr(withSync(uncompressedFixture, len(uncompressedFixture), syncMarker[:])); err != nil {
		t.Errorf("trailing sync entry: %v", err)
	}
}

func TestReaderRejectsBlockLengthsThatDisagree(t *testing.T) {
	c, _ := codec.Lookup("deflate")
	unit := func(s string) []byte {
		u, _ := c.AppendUnit(nil, []byte(s))
		return cat(len(u), u)
	}
	head := blockFixture[:len(blockFixture)-(4+16+1+14+16+14+22)]
	for name, body := range map[string][]byte{
		"key lengths short of the keys": cat(unit("\x02\x01"), unit("\x01a\x01b"), unit("\x05\x05"), unit("\x04one!\x04two!")),
		"lengths left over":             cat(unit("\x02\x02\x00"), unit("\x01a\x01b"), unit("\x05\x05"), unit("\x04one!\x04two!")),
		"values past their lengths":     cat(unit("\x02\x02"), unit("\x01a\x01b"), unit("\x05\x05"), unit("\x04one!\x04two!!")),
	} {
		file := cat(head, 0xff, 0xff, 0xff, 0xff, syncMarker[:], 0x02, body)
		if err := readErr(file); !errors.Is(err, seqfile.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func FuzzReader(f *testing.F) {
	f.Add(uncompressedFixture)
	f.Add(recordFixture)
	f.Add(blockFixture)
	f.Fuzz(func(t *testing.T, file []byte) {
		_ = readErr(file) // no panic, no hang, bounded memory
	})
}
