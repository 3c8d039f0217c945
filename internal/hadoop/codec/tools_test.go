package codec_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/flumego/flume/internal/hadoop/codec"
)

// writeUnits writes a file of the test units with c and returns its path and content.
func writeUnits(t *testing.T, c codec.Codec) (string, []byte) {
	t.Helper()
	var file, want []byte
	for _, u := range units() {
		var err error
		if file, err = c.AppendUnit(file, u); err != nil {
			t.Fatal(err)
		}
		want = append(want, u...)
	}
	path := filepath.Join(t.TempDir(), "units"+c.Ext())
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, want
}

// runTool runs a command and returns its standard output, or skips the test when the command
// is not installed.
func runTool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed", name)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, stderr.Bytes())
	}
	return out
}

// The command-line tools read a file of several units as one, as Hadoop does.
func TestCommandLineToolsReadConcatenatedUnits(t *testing.T) {
	for _, tc := range []struct {
		codec string
		tool  string
	}{
		{"gzip", "gzip"},
		{"bzip2", "bzip2"},
		{"zstd", "zstd"},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			c, err := codec.Lookup(tc.codec)
			if err != nil {
				t.Fatal(err)
			}
			path, want := writeUnits(t, c)
			runTool(t, tc.tool, "-t", path)
			if got := runTool(t, tc.tool, "-dc", path); !bytes.Equal(got, want) {
				t.Fatalf("%s -dc gave %d bytes, want %d", tc.tool, len(got), len(want))
			}
		})
	}
}

// zlibScript decompresses a file of concatenated zlib streams with Python's zlib module: each
// decompressobj stops at the end of its stream and leaves the rest in unused_data.
const zlibScript = `
import sys, zlib
data = open(sys.argv[1], 'rb').read()
out = sys.stdout.buffer
while data:
    d = zlib.decompressobj()
    out.write(d.decompress(data))
    if not d.eof:
        sys.exit('truncated zlib stream')
    data = d.unused_data
`

func TestPythonZlibReadsConcatenatedDeflateUnits(t *testing.T) {
	c, err := codec.Lookup("deflate")
	if err != nil {
		t.Fatal(err)
	}
	path, want := writeUnits(t, c)
	if got := runTool(t, "python3", "-c", zlibScript, path); !bytes.Equal(got, want) {
		t.Fatalf("python zlib gave %d bytes, want %d", len(got), len(want))
	}
}
