package codec_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/flumego/flume/internal/hadoop/codec"
	"github.com/flumego/flume/internal/hadoop/internal/testgen"
)

// BenchmarkAppendUnit reports MB/s of input for a 1 MB unit of log text, the size of a large
// collector write, one goroutine.
func BenchmarkAppendUnit(b *testing.B) {
	in := testgen.LogText(1<<20, 1)
	for _, c := range codec.Codecs() {
		b.Run(c.Name(), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			var out []byte
			for b.Loop() {
				var err error
				if out, err = c.AppendUnit(out[:0], in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(out))/float64(len(in)), "ratio")
		})
	}
}

// BenchmarkAppendUnitParallel is BenchmarkAppendUnit from GOMAXPROCS goroutines with 100 kB
// units.
func BenchmarkAppendUnitParallel(b *testing.B) {
	in := testgen.LogText(100_000, 2)
	for _, c := range codec.Codecs() {
		b.Run(c.Name(), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.RunParallel(func(pb *testing.PB) {
				var out []byte
				for pb.Next() {
					var err error
					if out, err = c.AppendUnit(out[:0], in); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkReader reports MB/s of output reading 16 units of 64 kB.
func BenchmarkReader(b *testing.B) {
	for _, c := range codec.Codecs() {
		var file []byte
		var size int64
		for i := range 16 {
			u := testgen.LogText(64<<10, uint64(i))
			file, _ = c.AppendUnit(file, u)
			size += int64(len(u))
		}
		b.Run(c.Name(), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				r, err := c.NewReader(bytes.NewReader(file))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
				r.Close()
			}
		})
	}
}
