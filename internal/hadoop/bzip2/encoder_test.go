package bzip2

import (
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/flumego/flume/internal/hadoop/internal/testgen"
)

// runs returns runs of one byte of every length from 1 to 600, each a different byte from
// the one before, so that runs of 4, 5, 255, 256 and 259 and more are all there.
func runs() []byte {
	var b []byte
	for l := 1; l <= 600; l++ {
		b = append(b, bytes.Repeat([]byte{byte('a' + l%3)}, l)...)
	}
	return b
}

type testInput struct {
	name  string
	data  []byte
	level int
}

// testInputs are the inputs every check runs on.
func testInputs() []testInput {
	return []testInput{
		{"empty", nil, 9},
		{"one byte", []byte{'x'}, 9},
		{"two bytes", []byte("ba"), 9},
		{"every byte value", func() []byte {
			b := make([]byte, 256)
			for i := range b {
				b[i] = byte(i)
			}
			return b
		}(), 9},
		{"random", testgen.Random(100_000, 1), 9},
		{"text", testgen.LogText(150_000, 1), 9},
		{"all the same byte", bytes.Repeat([]byte{'z'}, 1_000_000), 9},
		{"runs of every length", runs(), 9},
		{"identical lines", bytes.Repeat([]byte("2026-12-07 10:00:00 host1 INFO the same line again\n"), 20_000), 9},
		{"periodic", bytes.Repeat([]byte("ab"), 50_000), 9},
		{"multi-block level 1", testgen.LogText(250_000, 2), 1},
		{"multi-block random level 1", testgen.Random(150_000, 3), 1},
	}
}

// compressed holds the stream of each test input, made once for all the checks.
var compressed = sync.OnceValues(func() ([][]byte, error) {
	var out [][]byte
	for _, in := range testInputs() {
		b, err := Compress(in.data, in.level)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in.name, err)
		}
		out = append(out, b)
	}
	return out, nil
})

func compressedInputs(t testing.TB) [][]byte {
	t.Helper()
	out, err := compressed()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func decodeStd(t testing.TB, stream []byte) []byte {
	t.Helper()
	got, err := io.ReadAll(bzip2.NewReader(bytes.NewReader(stream)))
	if err != nil {
		t.Fatalf("compress/bzip2: %v", err)
	}
	return got
}

func TestStandardLibraryDecodesEveryInput(t *testing.T) {
	streams := compressedInputs(t)
	for i, in := range testInputs() {
		t.Run(in.name, func(t *testing.T) {
			out := streams[i]
			if got := decodeStd(t, out); !bytes.Equal(got, in.data) {
				t.Fatalf("decoded %d bytes, want %d bytes equal to the input", len(got), len(in.data))
			}
		})
	}
}

func TestBzip2CommandDecodesEveryInput(t *testing.T) {
	tool, err := exec.LookPath("bzip2")
	if err != nil {
		t.Skip("bzip2 command not installed")
	}
	dir := t.TempDir()
	streams := compressedInputs(t)
	for i, in := range testInputs() {
		t.Run(in.name, func(t *testing.T) {
			out := streams[i]
			path := filepath.Join(dir, fmt.Sprintf("in%d.bz2", i))
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			if msg, err := exec.Command(tool, "-t", path).CombinedOutput(); err != nil {
				t.Fatalf("bzip2 -t: %v: %s", err, msg)
			}
			got, err := exec.Command(tool, "-dc", path).Output()
			if err != nil {
				t.Fatalf("bzip2 -dc: %v", err)
			}
			if !bytes.Equal(got, in.data) {
				t.Fatalf("bzip2 -dc gave %d bytes, want %d bytes equal to the input", len(got), len(in.data))
			}
		})
	}
}

func TestConcatenatedStreamsReadAsOne(t *testing.T) {
	e, err := NewEncoder(DefaultLevel)
	if err != nil {
		t.Fatal(err)
	}
	var file, want []byte
	for i := range 5 {
		unit := testgen.LogText(1000*(i+1), uint64(i))
		file = e.AppendStream(file, unit) // the encoder is reused from unit to unit
		want = append(want, unit...)
	}
	if got := decodeStd(t, file); !bytes.Equal(got, want) {
		t.Fatalf("decoded %d bytes, want %d", len(got), len(want))
	}
}

func TestCompressionComparesWithTheBzip2Command(t *testing.T) {
	tool, err := exec.LookPath("bzip2")
	if err != nil {
		t.Skip("bzip2 command not installed")
	}
	in := testgen.LogText(300_000, 7)
	cmd := exec.Command(tool, "-9c")
	cmd.Stdin = bytes.NewReader(in)
	ref, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := Compress(in, 9)
	// Same algorithm, so the sizes should be close; allow 3%.
	if float64(len(out)) > 1.03*float64(len(ref)) {
		t.Errorf("compressed to %d bytes, the bzip2 command to %d", len(out), len(ref))
	}
	t.Logf("%d bytes -> %d (bzip2 command: %d)", len(in), len(out), len(ref))
}

func TestLevelOutOfRangeIsRejected(t *testing.T) {
	for _, l := range []int{0, 10, -1} {
		if _, err := NewEncoder(l); !errors.Is(err, ErrLevel) {
			t.Errorf("level %d: err = %v, want ErrLevel", l, err)
		}
	}
}

func TestStreamHeaderNamesTheSmallestLevelThatHoldsTheInput(t *testing.T) {
	for _, tc := range []struct {
		size, level int
		want        string
	}{
		{0, 9, "BZh1"}, {3, 9, "BZh1"}, {100_000, 9, "BZh1"}, {100_001, 9, "BZh2"},
		{250_000, 9, "BZh3"}, {250_000, 2, "BZh2"}, {2_000_000, 9, "BZh9"}, {3, 1, "BZh1"},
	} {
		in := bytes.Repeat([]byte{'z'}, tc.size) // the header depends on the size only
		out, err := Compress(in, tc.level)
		if err != nil {
			t.Fatal(err)
		}
		if string(out[:4]) != tc.want {
			t.Errorf("%d bytes at level %d: header %q, want %q", tc.size, tc.level, out[:4], tc.want)
		}
		if got := decodeStd(t, out); !bytes.Equal(got, in) {
			t.Errorf("%d bytes at level %d: round trip failed", tc.size, tc.level)
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte(""), uint8(9))
	f.Add([]byte("a"), uint8(1))
	f.Add(bytes.Repeat([]byte("a"), 300), uint8(9))
	f.Add([]byte("banana bandana"), uint8(5))
	f.Add(runs()[:2000], uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, level uint8) {
		out, err := Compress(data, 1+int(level)%9)
		if err != nil {
			t.Fatal(err)
		}
		if got := decodeStd(t, out); !bytes.Equal(got, data) {
			t.Fatalf("round trip changed %q into %q", data, got)
		}
	})
}
