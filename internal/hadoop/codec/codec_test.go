package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/flumego/flume/internal/hadoop/codec"
	"github.com/flumego/flume/internal/hadoop/internal/testgen"
)

func TestLookupAcceptsShortAndClassNames(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  string // Name() of the codec; "" for none
	}{
		{[]string{"gzip", "gz", "GZIP", "GzipCodec", "org.apache.hadoop.io.compress.GzipCodec"}, "GzipCodec"},
		{[]string{"deflate", "zlib", "default", "DefaultCodec", "DeflateCodec", "org.apache.hadoop.io.compress.DefaultCodec"}, "DefaultCodec"},
		{[]string{"bzip2", "bz2", "BZip2Codec", "org.apache.hadoop.io.compress.BZip2Codec"}, "BZip2Codec"},
		{[]string{"zstd", "zstandard", "ZStandardCodec", "org.apache.hadoop.io.compress.ZStandardCodec"}, "ZStandardCodec"},
		{[]string{"snappy", "Snappy", "SnappyCodec", "org.apache.hadoop.io.compress.SnappyCodec"}, "SnappyCodec"},
		{[]string{"None", "none", "", " "}, ""},
	} {
		for _, name := range tc.names {
			c, err := codec.Lookup(name)
			if err != nil {
				t.Errorf("Lookup(%q): %v", name, err)
				continue
			}
			got := ""
			if c != nil {
				got = c.Name()
			}
			if got != tc.want {
				t.Errorf("Lookup(%q) = %q, want %q", name, got, tc.want)
			}
		}
	}
}

func TestLookupOfUnknownNameSuggestsTheClosest(t *testing.T) {
	_, err := codec.Lookup("bzp2")
	if !errors.Is(err, codec.ErrUnknownCodec) {
		t.Fatalf("err = %v, want ErrUnknownCodec", err)
	}
	for _, want := range []string{`"bzp2"`, `did you mean "bzip2"?`, "gzip, deflate, bzip2, zstd, snappy, None"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if _, err := codec.Lookup("lzo"); !errors.Is(err, codec.ErrUnknownCodec) {
		t.Errorf("Lookup(lzo): err = %v, want ErrUnknownCodec", err)
	}
}

func TestClassAndExtensionAreHadoops(t *testing.T) {
	want := map[string]string{
		"GzipCodec": ".gz", "DefaultCodec": ".deflate", "BZip2Codec": ".bz2",
		"ZStandardCodec": ".zst", "SnappyCodec": ".snappy",
	}
	for _, c := range codec.Codecs() {
		if c.Ext() != want[c.Name()] {
			t.Errorf("%s: extension %q, want %q", c.Name(), c.Ext(), want[c.Name()])
		}
		if c.Class() != "org.apache.hadoop.io.compress."+c.Name() {
			t.Errorf("%s: class %q", c.Name(), c.Class())
		}
	}
}

// units are the inputs of a test file: text, an empty unit, one byte, random bytes, and more
// text.
func units() [][]byte {
	return [][]byte{
		testgen.LogText(100_000, 1),
		{},
		{'x'},
		testgen.Random(230_000, 2), // more than one Snappy chunk (218,422 bytes)
		testgen.LogText(5_000, 3),
	}
}

func readAll(t testing.TB, c codec.Codec, file []byte) ([]byte, error) {
	t.Helper()
	r, err := c.NewReader(bytes.NewReader(file))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func TestFileCutAfterAnyUnitReadsAsTheUnitsSoFar(t *testing.T) {
	for _, c := range codec.Codecs() {
		t.Run(c.Name(), func(t *testing.T) {
			var file, want []byte
			for i, u := range units() {
				var err error
				file, err = c.AppendUnit(file, u)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, u...)
				got, err := readAll(t, c, file)
				if err != nil {
					t.Fatalf("after unit %d: %v", i, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("after unit %d: read %d bytes, want %d", i, len(got), len(want))
				}
			}
		})
	}
}

func TestEmptyFileReadsAsNothing(t *testing.T) {
	for _, c := range codec.Codecs() {
		got, err := readAll(t, c, nil)
		if err != nil || len(got) != 0 {
			t.Errorf("%s: read %d bytes, err %v; want none", c.Name(), len(got), err)
		}
	}
}

func TestAppendUnitKeepsWhatDstHeld(t *testing.T) {
	for _, c := range codec.Codecs() {
		prefix := []byte("prefix")
		out, err := c.AppendUnit(prefix, []byte("content"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(out, []byte("prefix")) {
			t.Errorf("%s: dst's content was not kept", c.Name())
		}
		if got, err := readAll(t, c, out[len(prefix):]); err != nil || string(got) != "content" {
			t.Errorf("%s: read %q, %v", c.Name(), got, err)
		}
	}
}

func TestTruncatedFileIsAnError(t *testing.T) {
	for _, c := range codec.Codecs() {
		file, err := c.AppendUnit(nil, testgen.LogText(20_000, 4))
		if err != nil {
			t.Fatal(err)
		}
		for _, cut := range []int{1, len(file) / 2, len(file) - 1} {
			if _, err := readAll(t, c, file[:cut]); err == nil {
				t.Errorf("%s: a file cut at %d of %d bytes read without error", c.Name(), cut, len(file))
			}
		}
	}
}

func TestTrailingGarbageIsAnError(t *testing.T) {
	for _, c := range codec.Codecs() {
		file, err := c.AppendUnit(nil, []byte("some content"))
		if err != nil {
			t.Fatal(err)
		}
		file = append(file, "garbage!"...)
		if _, err := readAll(t, c, file); err == nil {
			t.Errorf("%s: trailing garbage read without error", c.Name())
		}
	}
}

func TestAppendUnitIsSafeForConcurrentUse(t *testing.T) {
	for _, c := range codec.Codecs() {
		t.Run(c.Name(), func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for g := range 8 {
				wg.Go(func() {
					var dst []byte
					for i := range 4 {
						in := testgen.LogText(20_000+1000*g, uint64(g*10+i))
						out, err := c.AppendUnit(dst[:0], in)
						if err != nil {
							errs <- err
							return
						}
						got, err := readAll(t, c, out)
						if err != nil || !bytes.Equal(got, in) {
							errs <- fmt.Errorf("goroutine %d unit %d: round trip failed: %v", g, i, err)
							return
						}
						dst = out
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}
