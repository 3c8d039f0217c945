package minihdfs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestWrittenFilesReadBackWhole(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	cl := newClient(t, c)
	if err := cl.MkdirAll("/logs/a/b", 0o755); err != nil {
		t.Fatalf("mkdirall: %v", err)
	}
	// Around chunk (512), packet (64 KiB) and block boundaries; the 100 KiB block size is a
	// multiple of the chunk size but not of the packet size.
	const blockSize = 100 << 10
	sizes := []int{0, 1, 511, 512, 513, 65535, 65536, 65537, blockSize - 1, blockSize, blockSize + 1,
		3*blockSize + 12345}
	for i, n := range sizes {
		for _, step := range []int{1000, 200000} {
			base := fmt.Sprintf("size%d-step%d", n, step)
			name := "/logs/a/b/" + base
			data := randomBytes(n, uint64(i))
			t.Run(base, func(t *testing.T) {
				writeFile(t, cl, name, blockSize, data, step)
				if got := size(t, cl, name); got != int64(n) {
					t.Fatalf("size %d, want %d", got, n)
				}
				if got := readAll(t, cl, name); !bytes.Equal(got, data) {
					t.Fatalf("read back %d bytes that differ from the %d written", len(got), n)
				}
				stored, err := c.ReadStored(name)
				if err != nil || !bytes.Equal(stored, data) {
					t.Fatalf("stored bytes differ (%d bytes, err %v)", len(stored), err)
				}
			})
		}
	}
}

func TestReadsStartAnywhere(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	cl := newClient(t, c)
	data := randomBytes(300000, 3)
	writeFile(t, cl, "/f", 128<<10, data, 70000)
	f, err := cl.Open("/f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range []int64{0, 1, 511, 512, 513, 65536, 131071, 131072, 131073, 299999} {
		buf := make([]byte, min(1000, int64(len(data))-off))
		if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
			t.Fatalf("read at %d: %v", off, err)
		}
		if !bytes.Equal(buf, data[off:off+int64(len(buf))]) {
			t.Fatalf("read at %d differs", off)
		}
	}
}

func TestStatMkdirAndErrorsAsHDFS(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	cl := newClient(t, c)
	if _, err := cl.Stat("/nope"); !isNotExist(err) {
		t.Fatalf("stat of a missing path: %v, want not exist", err)
	}
	if err := cl.Mkdir("/a/b", 0o755); !isNotExist(err) {
		t.Fatalf("mkdir without its parent: %v, want not exist", err)
	}
	if err := cl.MkdirAll("/a/b", 0o750); err != nil {
		t.Fatal(err)
	}
	fi, err := cl.Stat("/a/b")
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o750 || fi.Name() != "b" {
		t.Fatalf("stat /a/b: %v %v", fi, err)
	}
	if err := cl.Mkdir("/a/b", 0o755); !isExist(err) {
		t.Fatalf("mkdir of an existing dir: %v, want exist", err)
	}
	writeFile(t, cl, "/a/file", 1<<20, []byte("x"), 1)
	if err := cl.MkdirAll("/a/file/sub", 0o755); exception(err) != ParentNotDirectoryException {
		t.Fatalf("mkdirall through a file: %v, want %s", err, ParentNotDirectoryException)
	}
	if _, err := cl.Create("/a/file"); !isExist(err) {
		t.Fatalf("create over a file: %v", err)
	}
	if _, err := cl.CreateFile("/a/file", 1, 1<<20, 0o644); !isExist(err) {
		t.Fatalf("create rpc over a closed file: %v, want exist", err)
	}
	if _, err := cl.Create("/missing/file"); !isNotExist(err) {
		t.Fatalf("create without its parent: %v, want not exist", err)
	}
	if err := cl.Remove("/a"); !errorsIsErrno(err, syscall.ENOTEMPTY) {
		t.Fatalf("remove of a non-empty dir: %v, want ENOTEMPTY", err)
	}
	if err := cl.RemoveAll("/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Stat("/a/file"); !isNotExist(err) {
		t.Fatalf("stat after removeall: %v", err)
	}
	if err := cl.Remove("/a"); !isNotExist(err) {
		t.Fatalf("remove of a missing path: %v", err)
	}
	if _, err := cl.ReadDir("/nope"); !isNotExist(err) {
		t.Fatalf("readdir of a missing dir: %v", err)
	}
	long := strings.Repeat("é", 128) // 256 bytes
	if _, err := cl.Create("/" + long); exception(err) != PathComponentTooLongException {
		t.Fatalf("create with a 256-byte name: %v, want %s", err, PathComponentTooLongException)
	}
	if err := cl.MkdirAll("/ok/"+long+"/x", 0o755); exception(err) != PathComponentTooLongException {
		t.Fatalf("mkdirall through a 256-byte name: %v", err)
	}
	if _, err := cl.Stat("/ok"); !isNotExist(err) {
		t.Fatalf("a refused mkdirall left %v behind", err)
	}
	if _, err := cl.Create("/a/../b"); exception(err) != InvalidPathException {
		t.Fatalf("create of a path with '..': %v, want %s", err, InvalidPathException)
	}
}

func errorsIsErrno(err error, e syscall.Errno) bool {
	pe, ok := err.(*os.PathError)
	return ok && pe.Err == e
}

func TestRenameOverwritesAndKeepsContent(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	cl := newClient(t, c)
	writeFile(t, cl, "/a", 1<<20, []byte("new content"), 100)
	writeFile(t, cl, "/b", 1<<20, []byte("old"), 100)
	if err := cl.Rename("/a", "/b"); err != nil {
		t.Fatalf("rename over a file: %v", err)
	}
	if got := readAll(t, cl, "/b"); string(got) != "new content" {
		t.Fatalf("after rename /b holds %q", got)
	}
	if _, err := cl.Stat("/a"); !isNotExist(err) {
		t.Fatalf("source still there: %v", err)
	}
	if err := cl.MkdirAll("/d/sub", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := cl.Rename("/b", "/d"); exception(err) != IOException {
		t.Fatalf("rename of a file over a dir: %v, want %s", err, IOException)
	}
	if err := cl.Rename("/nope", "/x"); !isNotExist(err) {
		t.Fatalf("rename of a missing file: %v", err)
	}
	if err := cl.Rename("/b", "/nodir/x"); !isNotExist(err) {
		t.Fatalf("rename into a missing dir: %v", err)
	}
	if err := cl.Rename("/d", "/d/sub/x"); exception(err) != IOException {
		t.Fatalf("rename of a dir under itself: %v", err)
	}
	if err := cl.Rename("/d", "/e"); err != nil {
		t.Fatal(err)
	}
	if fi, err := cl.Stat("/e/sub"); err != nil || !fi.IsDir() {
		t.Fatalf("renamed dir lost its child: %v", err)
	}
}

func TestReadDirPagesThroughManyEntries(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{ListLimit: 7})
	cl := newClient(t, c)
	var want []string
	for i := 0; i < 50; i++ {
		want = append(want, fmt.Sprintf("f%03d", i))
	}
	if err := cl.MkdirAll("/dir", 0o755); err != nil {
		t.Fatal(err)
	}
	for i, name := range want {
		if i%10 == 0 {
			if err := cl.Mkdir("/dir/"+name, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		writeFile(t, cl, "/dir/"+name, 1<<20, []byte(name), 10)
	}
	fis, err := cl.ReadDir("/dir")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fi := range fis {
		got = append(got, fi.Name())
		if !fi.IsDir() && fi.Size() != 4 {
			t.Fatalf("%s has size %d", fi.Name(), fi.Size())
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("readdir gave %d entries %v, want %d", len(got), got, len(want))
	}
}

func TestAppendExtendsFiles(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	cl := newClient(t, c)
	const blockSize = 64 << 10
	cases := []struct {
		name        string
		first, more int
	}{
		{"empty", 0, 1000},
		{"partial-chunk", 1000, 3000},
		{"chunk-aligned", 1024, 100},
		{"block-full", blockSize, 5000},
		{"crosses-block", blockSize - 100, 70000},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := "/" + tc.name
			data := randomBytes(tc.first+tc.more, uint64(i))
			writeFile(t, cl, name, blockSize, data[:tc.first], 4096)
			w, err := cl.Append(name)
			if err != nil {
				t.Fatalf("append: %v", err)
			}
			if _, err := w.Write(data[tc.first:]); err != nil {
				t.Fatalf("write: %v", err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			if got := readAll(t, cl, name); !bytes.Equal(got, data) {
				t.Fatalf("after append read %d bytes, want %d equal ones", len(got), len(data))
			}
		})
	}
}

func TestContentSummaryAndChmod(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	cl := newClient(t, c)
	if err := cl.MkdirAll("/s", 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cl, "/s/a", 1<<20, make([]byte, 1000), 1000)
	writeFile(t, cl, "/s/b", 1<<20, make([]byte, 24), 1000)
	cs, err := cl.GetContentSummary("/s")
	if err != nil {
		t.Fatal(err)
	}
	if cs.Size() != 1024 || cs.FileCount() != 2 || cs.DirectoryCount() != 1 {
		t.Fatalf("summary: size %d files %d dirs %d", cs.Size(), cs.FileCount(), cs.DirectoryCount())
	}
	if err := cl.Chmod("/s/a", 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, _ := cl.Stat("/s/a"); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode after chmod: %v", fi.Mode())
	}
	if err := cl.Chown("/s/a", "alice", "staff"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.StatFs(); err != nil {
		t.Fatalf("statfs: %v", err)
	}
	if err := cl.Chmod("/nope", 0o600); !isNotExist(err) {
		t.Fatalf("chmod of a missing file: %v", err)
	}
}
