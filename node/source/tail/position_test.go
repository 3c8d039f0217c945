package tail

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/flumego/flume/node/plugin"
)

func TestPositionRoundTrip(t *testing.T) {
	tests := []savedState{
		{kind: kindTail, roots: []string{"/var/log/app.log"}},
		{kind: kindTail, roots: []string{"/a"}, files: []savedFile{
			{id: fileID{Dev: 2049, Ino: 1}, fp: fingerprint{n: fpSize, sum: 7}, off: 0, owner: 0},
		}},
		{kind: kindMulti, roots: []string{"/a", "/b"}, files: []savedFile{
			{id: fileID{Dev: 1, Ino: 5}, fp: fingerprint{n: 3, sum: 0xdeadbeef}, off: 3, owner: 1},
			{id: fileID{Dev: 1, Ino: 9}, fp: fingerprint{n: fpSize, sum: 1}, off: 1 << 40, owner: 0},
			{id: fileID{Dev: 7, Ino: 2}, fp: fingerprint{n: 0}, off: 0, owner: -1},
			{id: fileID{Dev: 7, Ino: 1<<64 - 1}, fp: fingerprint{n: 255, sum: 1<<32 - 1}, off: 1<<63 - 1, owner: 1},
		}},
		{kind: kindDir, roots: []string{"/logs"}, files: []savedFile{
			{id: fileID{Dev: 0, Ino: 0}, fp: fingerprint{n: 1, sum: 2}, off: 5, owner: -1},
		}},
	}
	for i, st := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			b := encodePosition(&st)
			got, err := decodePosition(b)
			if err != nil {
				t.Fatalf("decode %x: %v", b, err)
			}
			if len(got.files) == 0 {
				got.files = nil
			}
			if !reflect.DeepEqual(*got, st) {
				t.Fatalf("got %+v, want %+v", *got, st)
			}
			// Every proper prefix is refused.
			for n := range len(b) {
				if _, err := decodePosition(b[:n]); err == nil {
					t.Fatalf("prefix of %d bytes of %x decoded", n, b)
				}
			}
		})
	}
}

// TestPositionIsCompact checks the size of a position: about 10 bytes a file.
func TestPositionIsCompact(t *testing.T) {
	st := savedState{kind: kindDir, roots: []string{"/logs"}}
	for i := range 1000 {
		st.files = append(st.files, savedFile{id: fileID{Dev: 2049, Ino: uint64(100000 + 3*i)},
			fp: fingerprint{n: fpSize, sum: uint32(i * 2654435761)}, off: int64(i * 1000), owner: -1})
	}
	if n := len(encodePosition(&st)); n > 10*1000+32 {
		t.Fatalf("%d bytes for 1000 files", n)
	}
}

// TestPositionCountsWhatCloseHandsOut checks the position after the records a closed source
// hands out: it is after the last one delivered, held line included.
func TestPositionCountsWhatCloseHandsOut(t *testing.T) {
	path := logPath(t)
	appendTo(t, path, "a\nb\npartial")
	age(t, path)
	s := newEnv(fastPoll).OpenSource(t, tailSpec(path, ""))
	r := &reader{t: t, s: s}
	r.until(2)
	cp := s.(plugin.Checkpointer)
	if off := offsetOf(t, cp.Position()); off != 4 {
		t.Fatalf("offset after a, b = %d, want 4", off)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if off := offsetOf(t, cp.Position()); off != 4 {
		t.Fatalf("offset after Close = %d, want 4: the held line is not delivered yet", off)
	}
	if evs, err := s.Next(context.Background()); err != nil || len(evs) != 1 || string(evs[0].Body) != "partial" {
		t.Fatalf("Next after Close = %v, %v", evs, err)
	}
	if off := offsetOf(t, cp.Position()); off != 11 {
		t.Fatalf("offset after the held line = %d, want 11", off)
	}
	if _, err := s.Next(context.Background()); err != io.EOF {
		t.Fatalf("last Next = %v", err)
	}
}

// offsetOf returns the offset of the only file of a position.
func offsetOf(t *testing.T, pos []byte) int64 {
	t.Helper()
	st, err := decodePosition(pos)
	if err != nil || len(st.files) != 1 {
		t.Fatalf("position %x: %+v, %v", pos, st, err)
	}
	return st.files[0].off
}

// TestResumeIgnoresPositionsOfOtherSources checks that a position of another source, or one that
// does not decode, makes a first run (startFromEnd applies), not an error.
func TestResumeIgnoresPositionsOfOtherSources(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendTo(t, path, "old\n")
	other := encodePosition(&savedState{kind: kindTail, roots: []string{filepath.Join(dir, "other.log")},
		files: []savedFile{{id: fileID{Dev: 1, Ino: 2}, off: 3, owner: 0}}})
	for name, pos := range map[string][]byte{
		"other file": other,
		"other kind": encodePosition(&savedState{kind: kindDir, roots: []string{dir}}),
		"garbage":    []byte("{\"path\":\"x\"}"),
	} {
		t.Run(name, func(t *testing.T) {
			s, err := newEnv(fastPoll).BuildSource(t, tailSpec(path, ", true"))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.(plugin.Checkpointer).Resume(pos); err != nil {
				t.Fatal(err)
			}
			if err := s.Open(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			r := &reader{t: t, s: s}
			appendTo(t, path, "new\n")
			if got := r.until(1); !slices.Equal(got, []string{"new"}) {
				t.Fatalf("got %q", got)
			}
		})
	}
}

// FuzzPosition checks that no position, however broken, makes Resume, Open or Position panic,
// and that a position that decodes encodes back to the same state.
func FuzzPosition(f *testing.F) {
	f.Add(encodePosition(&savedState{kind: kindTail, roots: []string{"x"}}))
	f.Add(encodePosition(&savedState{kind: kindMulti, roots: []string{"a", "b"}, files: []savedFile{
		{id: fileID{Dev: 1, Ino: 5}, fp: fingerprint{n: 3, sum: 9}, off: 3, owner: 1},
		{id: fileID{Dev: 2, Ino: 1}, fp: fingerprint{n: fpSize, sum: 1}, off: 1 << 40, owner: -1},
	}}))
	f.Add([]byte("tl\x01\x01\x01\x00\x01\x06"))
	f.Add([]byte{})
	dir := f.TempDir()
	path := filepath.Join(dir, "app.log")
	if err := os.WriteFile(path, []byte("one\ntwo\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	env := newEnv(fastPoll)
	f.Fuzz(func(t *testing.T, pos []byte) {
		st, err := decodePosition(pos)
		if err != nil {
			// Refused: Resume logs it and the source starts as on a first run.
			s, err := env.BuildSource(t, tailSpec(path, ""))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.(plugin.Checkpointer).Resume(pos); err != nil {
				t.Fatalf("Resume(%x) = %v", pos, err)
			}
			return
		}
		again, err := decodePosition(encodePosition(st))
		if err != nil || !reflect.DeepEqual(st, again) {
			t.Fatalf("%x: decodes to %+v, which encodes to %+v, %v", pos, st, again, err)
		}
		// Made a position of this source, its files are looked for and followed.
		st.kind, st.roots = kindTail, []string{path}
		for i := range st.files {
			st.files[i].owner = min(st.files[i].owner, 0)
		}
		s, err := env.BuildSource(t, tailSpec(path, ""))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.(plugin.Checkpointer).Resume(encodePosition(st)); err != nil {
			t.Fatal(err)
		}
		if err := s.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := decodePosition(s.(plugin.Checkpointer).Position()); err != nil {
			t.Fatalf("Position after resuming from %+v: %v", st, err)
		}
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
