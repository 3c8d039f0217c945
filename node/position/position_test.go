package position

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSaveKeepsTheNewestAcrossStores(t *testing.T) {
	dir := t.TempDir()
	s := New(dir, nil)
	if _, err := s.Claim("tail(\"a\")", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(5, []byte("five")); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(3, []byte("three")); err != nil {
		t.Fatal(err)
	}
	// A store opened later (the next config version) reads what the first one kept.
	r, err := New(dir, nil).Load()
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 5 || string(r.Pos) != "five" || r.Source != "tail(\"a\")" {
		t.Fatalf("record %+v: want seq 5, five, of tail(\"a\")", r)
	}
}

func TestClaimByAnotherSourceDropsThePosition(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	s := New(dir, slog.New(slog.NewTextHandler(&logs, nil)))
	if _, err := s.Claim("tail(\"a\")", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(7, []byte("pos-a")); err != nil {
		t.Fatal(err)
	}
	changed, err := New(dir, nil).Claim("tail(\"a\")", 9)
	if err != nil || changed {
		t.Fatalf("same source: changed=%v err=%v, want kept", changed, err)
	}
	s2 := New(dir, slog.New(slog.NewTextHandler(&logs, nil)))
	changed, err = s2.Claim("tail(\"b\")", 12)
	if err != nil || !changed {
		t.Fatalf("another source: changed=%v err=%v, want the position dropped", changed, err)
	}
	r, _ := New(dir, nil).Load()
	if r.Pos != nil || r.Source != "tail(\"b\")" || r.Seq != 12 {
		t.Fatalf("after the change: %+v, want no position, tail(\"b\"), seq at the floor 12", r)
	}
	if !strings.Contains(logs.String(), "old position is dropped") || !strings.Contains(logs.String(), `tail(\"a\")`) {
		t.Fatalf("no log line naming the old source:\n%s", logs.String())
	}
}

func TestLegacyFilesAreRead(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "agent", "position")
	if err := os.MkdirAll(filepath.Dir(old), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, []byte(`{"seq":4,"pos":"b2Zmc2V0"}`), 0o640); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(dir, "source.position")
	if err := os.WriteFile(raw, []byte("rawpos"), 0o640); err != nil {
		t.Fatal(err)
	}
	r, err := New(dir, nil, old, raw).Load()
	if err != nil || r.Seq != 4 || string(r.Pos) != "offset" {
		t.Fatalf("agent legacy file: %+v, %v", r, err)
	}
	r, err = New(dir, nil, raw).Load()
	if err != nil || string(r.Pos) != "rawpos" {
		t.Fatalf("raw legacy file: %+v, %v", r, err)
	}
	// The first claim adopts a legacy position: an older release's is the same source's.
	s := New(dir, nil, old)
	if changed, err := s.Claim("tail(\"x\")", 0); err != nil || changed {
		t.Fatalf("claim of a legacy position: changed=%v err=%v", changed, err)
	}
	if r, _ := s.Load(); string(r.Pos) != "offset" {
		t.Fatalf("legacy position lost at the first claim: %+v", r)
	}
}

func TestAFileThatDoesNotDecodeIsSaidOnceThenReplaced(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("{garbage"), 0o640); err != nil {
		t.Fatal(err)
	}
	s := New(dir, nil)
	if _, err := s.Load(); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, FileName)) {
		t.Fatalf("Load = %v, want an error naming the file", err)
	}
	if err := s.Next([]byte("p")); err != nil {
		t.Fatalf("the next write does not replace the file: %v", err)
	}
	if r, err := New(dir, nil).Load(); err != nil || string(r.Pos) != "p" || r.Seq != 1 {
		t.Fatalf("after the write: %+v, %v", r, err)
	}
}

func TestDropStartsTheSourceOver(t *testing.T) {
	dir := t.TempDir()
	s := New(dir, nil)
	if err := s.Save(3, []byte("end")); err != nil {
		t.Fatal(err)
	}
	if err := s.Drop(); err != nil {
		t.Fatal(err)
	}
	if r, _ := New(dir, nil).Load(); r.Pos != nil || r.Seq != 4 {
		t.Fatalf("after Drop: %+v, want no position and a later number", r)
	}
}
